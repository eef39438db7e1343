import { describe, expect, it } from 'vitest';
import { estimateRemainingMs, nextPollDelay } from '../../src/services/poll-policy.js';

const bounds = { minMs: 3_000, maxMs: 30_000 };
const base = { now: 0, submittedAt: 0, progress: 0, progressChangedAt: null as number | null, errorStreak: 0 };

describe('poll policy', () => {
  it('polls at the minimum right after submission and slows down while nothing moves', () => {
    expect(nextPollDelay(base, bounds)).toBe(3_000);
    expect(nextPollDelay({ ...base, now: 60_000 }, bounds)).toBe(15_000);
    expect(nextPollDelay({ ...base, now: 600_000 }, bounds)).toBe(30_000);
  });

  it('halves the distance to the estimated finish', () => {
    // 20% after 60 s → 300 s in all → 240 s left → poll in 120 s, capped at 30 s.
    const s = { ...base, now: 60_000, progress: 20, progressChangedAt: 60_000 };
    expect(estimateRemainingMs(s)).toBe(240_000);
    expect(nextPollDelay(s, bounds)).toBe(30_000);
    // 90% after 270 s → 30 s left → poll in 15 s.
    const near = { ...base, now: 270_000, progress: 90, progressChangedAt: 270_000 };
    expect(nextPollDelay(near, bounds)).toBe(15_000);
    // 98% → 5.5 s left → minimum.
    const end = { ...base, now: 294_000, progress: 98, progressChangedAt: 294_000 };
    expect(nextPollDelay(end, bounds)).toBe(3_000);
  });

  it('backs off gradually when a job overruns its estimate', () => {
    const stalled = { ...base, now: 400_000, progress: 90, progressChangedAt: 270_000 };
    expect(estimateRemainingMs(stalled)).toBe(-100_000);
    expect(nextPollDelay(stalled, bounds)).toBe(25_000);
  });

  it('backs off exponentially on errors, within the bounds', () => {
    expect(nextPollDelay({ ...base, errorStreak: 1 }, bounds)).toBe(6_000);
    expect(nextPollDelay({ ...base, errorStreak: 3 }, bounds)).toBe(24_000);
    expect(nextPollDelay({ ...base, errorStreak: 50 }, bounds)).toBe(30_000);
  });
});
