/**
 * MI files are ASCII (0171.02 §2.3.1), while the text GP systems send us (error descriptions, product
 * names) often is not. `toAscii` is how such text is written into a file: letters with accents lose
 * them (Unicode NFKD, combining marks dropped: ü → u, é → e, Ä → A), typographic punctuation becomes
 * its plain form (– — → -, “ ” → ", … → ..., non-breaking space → space), a few letters that do not
 * decompose get their usual spelling (ß → ss, Æ → AE, Ø → O, Ł → L), and anything else with no ASCII
 * form becomes one "?" per character. Invisible format characters (zero-width space, soft hyphen,
 * byte order mark) are dropped. Events keep the original text; only rendering goes through here, and
 * every length limit is counted on its result. Pure and workflow-safe.
 */

/** Characters that NFKD leaves alone (or decomposes into something still not ASCII). */
const TABLE: Readonly<Record<string, string>> = {
  // dashes, hyphens and minus signs
  '\u2010': '-', '\u2011': '-', '\u2012': '-', '\u2013': '-', '\u2014': '-', '\u2015': '-', '\u2212': '-', '\u2043': '-',
  '\uFE58': '-', '\uFE63': '-', '\uFF0D': '-',
  // quotation marks and apostrophes
  '\u2018': "'", '\u2019': "'", '\u201A': "'", '\u201B': "'", '\u2032': "'", '\u2035': "'", '\u02BC': "'", '\u00B4': "'",
  '\u201C': '"', '\u201D': '"', '\u201E': '"', '\u201F': '"', '\u2033': '"', '\u2036': '"', '\u00AB': '"', '\u00BB': '"',
  '\u2039': "'", '\u203A': "'",
  // spaces and line separators (text stays on one line)
  '\u00A0': ' ', '\u2007': ' ', '\u202F': ' ', '\u205F': ' ', '\u3000': ' ', '\u2028': ' ', '\u2029': ' ',
  // other punctuation and symbols with a plain form
  '\u2026': '...', '\u2022': '*', '\u00B7': '.', '\u2044': '/', '\u2215': '/', '\u00D7': 'x', '\u00F7': '/',
  '\u00A9': '(C)', '\u00AE': '(R)', '\u2122': 'TM', '\u20AC': 'EUR', '\u00A3': 'GBP',
  // letters that do not decompose
  '\u00DF': 'ss', '\u1E9E': 'SS', '\u00C6': 'AE', '\u00E6': 'ae', '\u0152': 'OE', '\u0153': 'oe', '\u00D8': 'O', '\u00F8': 'o',
  '\u0110': 'D', '\u0111': 'd', '\u00D0': 'D', '\u00F0': 'd', '\u0141': 'L', '\u0142': 'l', '\u00DE': 'TH', '\u00FE': 'th',
  '\u0131': 'i', '\u0126': 'H', '\u0127': 'h', '\u0166': 'T', '\u0167': 't', '\u014A': 'NG', '\u014B': 'ng', '\u0138': 'q',
  // invisible format characters: nothing to write
  '\u00AD': '', '\u200B': '', '\u200C': '', '\u200D': '', '\u2060': '', '\uFEFF': '',
};

const NON_ASCII_RE = /[^\x00-\x7F]/;
const COMBINING_MARK_RE = /\p{M}/gu;

/** True when every character is ASCII (U+0000–U+007F). */
export function isAscii(text: string): boolean {
  return !NON_ASCII_RE.test(text);
}

/** The ASCII form of one non-ASCII character (a code point): its transliteration, "" or "?". */
function asciiOf(ch: string): string {
  const mapped = TABLE[ch];
  if (mapped !== undefined) return mapped;
  const decomposed = ch.normalize('NFKD').replace(COMBINING_MARK_RE, '');
  // A lone combining mark (e.g. the accent of an already decomposed "é") has nothing to write.
  if (decomposed === '') return '';
  let out = '';
  for (const part of decomposed) {
    if (part.charCodeAt(0) < 0x80) out += part;
    else {
      const again = TABLE[part];
      // Only a complete ASCII form counts: "½" is "1/2", but "中" stays one "?".
      if (again === undefined) return '?';
      out += again;
    }
  }
  return out;
}

/** The text as an MI file carries it: ASCII only, as described above. Unchanged if already ASCII. */
export function toAscii(text: string): string {
  if (!NON_ASCII_RE.test(text)) return text;
  let out = '';
  for (const ch of text) out += ch.charCodeAt(0) < 0x80 ? ch : asciiOf(ch);
  return out;
}
