/**
 * The day's hand-over point (issue 13): its setting, and the practices' slots spread after it.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config';
import { handOverPoint, parseHandOverAt, practiceSlotOffset } from '../../mi/hand-over';

describe('the hand-over point', () => {
  it('takes HH:MM or HH:MM:SS in UTC, or immediate; refuses anything else saying what is allowed', () => {
    expect(parseHandOverAt('23:50')).toBe((23 * 60 + 50) * 60_000);
    expect(parseHandOverAt('00:00:05')).toBe(5_000);
    expect(parseHandOverAt('immediate')).toBeUndefined();
    for (const bad of ['24:00', '23:5', '11pm', '23:50:60', '']) expect(() => parseHandOverAt(bad)).toThrow(/allowed: "immediate", or a time of day in UTC as HH:MM/);
  });

  it('is the day\'s midnight plus the time and the practice\'s slot, never past the day', () => {
    expect(handOverPoint('2026-12-07', 85_800_000)).toBe(Date.parse('2026-12-07T23:50:00Z'));
    expect(handOverPoint('2026-12-07', 85_800_000, 120_000)).toBe(Date.parse('2026-12-07T23:52:00Z'));
    expect(handOverPoint('2026-12-07', 85_800_000, 3_600_000)).toBe(Date.parse('2026-12-07T23:59:59.999Z'));
  });

  it('gives each practice one slot, in whole seconds within the spread, and spreads practices evenly', () => {
    expect(practiceSlotOffset('A81001', 0)).toBe(0);
    expect(practiceSlotOffset('A81001', 540_000)).toBe(practiceSlotOffset('A81001', 540_000));
    const minutes = new Array(9).fill(0);
    for (let i = 0; i < 6_300; i++) {
      const offset = practiceSlotOffset(`P${String(i).padStart(5, '0')}`, 540_000);
      expect(offset % 1000).toBe(0);
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(540_000);
      minutes[Math.floor(offset / 60_000)]++;
    }
    // 700 a minute if even: every minute within a fifth of that.
    for (const n of minutes) expect(Math.abs(n - 700)).toBeLessThan(140);
  });
});

describe('GP2GP_HAND_OVER_AT and GP2GP_HAND_OVER_SPREAD_SECONDS', () => {
  it('default to 23:00 and 30 minutes; refuse a bad time, and a point and spread past midnight, naming them', () => {
    expect(loadConfig({}).pipeline).toMatchObject({ handOverAtMs: parseHandOverAt('23:00'), handOverSpreadMs: 1_800_000 });
    expect(loadConfig({ GP2GP_HAND_OVER_AT: 'immediate' }).pipeline.handOverAtMs).toBeUndefined();
    expect(() => loadConfig({ GP2GP_HAND_OVER_AT: '23:61' })).toThrow(/GP2GP_HAND_OVER_AT: "immediate", or a time of day in UTC/);
    expect(() => loadConfig({ GP2GP_HAND_OVER_AT: '23:55' })).toThrow(/GP2GP_HAND_OVER_AT \+ GP2GP_HAND_OVER_SPREAD_SECONDS: 23:55 plus 1800 s reaches past midnight/);
    expect(loadConfig({ GP2GP_HAND_OVER_AT: '23:55', GP2GP_HAND_OVER_SPREAD_SECONDS: '240' }).pipeline.handOverSpreadMs).toBe(240_000);
  });
});
