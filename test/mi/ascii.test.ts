/**
 * toAscii, the one transliteration of text into MI files (0171.02 §2.3.1): accents dropped,
 * typographic punctuation made plain, a few letters spelt out, "?" for what has no ASCII form; always
 * ASCII, and ASCII text unchanged.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAscii, toAscii } from '../../mi/ascii';

describe('toAscii', () => {
  it('drops accents (NFKD, combining marks removed)', () => {
    expect(toAscii('Praxis Müller: Zugriff verweigert – café')).toBe('Praxis Muller: Zugriff verweigert - cafe');
    expect(toAscii('Ärzte Systeme, GmbH_Praxis; Plus_4.1')).toBe('Arzte Systeme, GmbH_Praxis; Plus_4.1');
    expect(toAscii('Åsa Ñúñez Çelik Šťastný Łódź')).toBe('Asa Nunez Celik Stastny Lodz');
    // Already decomposed: the combining accent goes, the letter stays.
    expect(toAscii('e\u0301')).toBe('e');
  });

  it('makes punctuation plain: dashes, quotes, ellipsis, spaces', () => {
    expect(toAscii('a – b — c ‐ d − e')).toBe('a - b - c - d - e');
    expect(toAscii('“quoted” ‘single’ „low“ «guillemets»')).toBe('"quoted" \'single\' "low" "guillemets"');
    expect(toAscii('wait…')).toBe('wait...');
    expect(toAscii('a\u00a0b\u202fc\u2009d\u3000e')).toBe('a b c d e');
    expect(toAscii('soft\u00adhyphen, zero\u200bwidth, \ufeffBOM')).toBe('softhyphen, zerowidth, BOM');
  });

  it('spells out letters that do not decompose, and compatibility forms', () => {
    expect(toAscii('Straße ẞ Æther Œuvre Øre Þorn ðis ı')).toBe('Strasse SS AEther OEuvre Ore THorn dis i');
    expect(toAscii('½ ™ ﬁle ² Ｆｕｌｌ')).toBe('1/2 TM file 2 Full');
  });

  it('writes one "?" for each character with no ASCII form', () => {
    expect(toAscii('中文 😀 Ω')).toBe('?? ? ?');
    // An emoji's variation selector is a combining mark: nothing more is written for it.
    expect(toAscii('❤\ufe0f')).toBe('?');
  });

  it('always gives ASCII; ASCII text is unchanged; applying it twice changes nothing', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (text) => {
        const ascii = toAscii(text);
        expect(isAscii(ascii)).toBe(true);
        expect(toAscii(ascii)).toBe(ascii);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 60 }), (text) => {
        expect(toAscii(text)).toBe(text);
      }),
    );
  });
});
