import { describe, expect, it } from 'vitest';
import {
  estimateRemainingMs,
  nextPollDelay,
  type PollBounds,
  type PollSnapshot,
} from '../../src/services/poll-policy.js';

const bounds: PollBounds = { minMs: 3_000, maxMs: 30_000 };
const base: PollSnapshot = { now: 0, submittedAt: 0, progress: 0, progressChangedAt: 0, errorStreak: 0 };

/** A job at `progress`, first seen exactly on the pace of a `totalMs` job, looked at `now`. */
const estimated = (totalMs: number, progress: number, now: number): PollSnapshot => ({
  ...base,
  now,
  progress,
  progressChangedAt: (totalMs * progress) / 100,
});

describe('estimateRemainingMs', () => {
  it('extrapolates the average rate since submission', () => {
    // 20% first seen after 60 s → 300 s in all → 240 s left at that moment, 200 s left 40 s later.
    const s = { ...base, now: 60_000, progress: 20, progressChangedAt: 60_000 };
    expect(estimateRemainingMs(s)).toBe(240_000);
    expect(estimateRemainingMs({ ...s, now: 100_000 })).toBe(200_000);
  });

  it('uses the rate since the job was first seen running, so queue time does not inflate it', () => {
    // Queued 120 s; first seen running at 140 s with 10%, then 50% at 180 s: 1%/s, so 50 s left.
    const s = { ...base, now: 180_000, progress: 50, progressChangedAt: 180_000 };
    expect(estimateRemainingMs({ ...s, startedAt: 140_000, startedProgress: 10 })).toBe(50_000);
    // From submission it would be 180 s: the queue counted as running time.
    expect(estimateRemainingMs(s)).toBe(180_000);
    // No progress since that first reading: no rate yet.
    expect(estimateRemainingMs({ ...s, startedAt: 180_000, startedProgress: 50 })).toBeUndefined();
  });

  it('goes negative once the job is overdue', () => {
    expect(estimateRemainingMs({ ...base, now: 400_000, progress: 90, progressChangedAt: 270_000 })).toBe(-100_000);
  });

  it('has no estimate without a signal', () => {
    expect(estimateRemainingMs(base)).toBeUndefined();
    expect(estimateRemainingMs({ ...base, progress: 40, progressChangedAt: null })).toBeUndefined();
    // Progress already present in the submit answer: no time has passed yet.
    expect(estimateRemainingMs({ ...base, progress: 5, progressChangedAt: 0 })).toBeUndefined();
  });
});

describe('nextPollDelay', () => {
  it('polls at the minimum right after submission', () => {
    expect(nextPollDelay(base, bounds)).toBe(bounds.minMs);
    // As jobs.ts asks it right after the POST, even if upstream already reports progress.
    expect(
      nextPollDelay({ ...base, now: 5_000, submittedAt: 5_000, progress: 3, progressChangedAt: 5_000 }, bounds),
    ).toBe(bounds.minMs);
  });

  it('slows down while nothing moves, up to the maximum', () => {
    const delays = [0, 3_000, 10_000, 20_000, 40_000, 60_000, 600_000].map((now) =>
      nextPollDelay({ ...base, now }, bounds),
    );
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] ?? 0);
    expect(delays[0]).toBe(bounds.minMs);
    expect(nextPollDelay({ ...base, now: 20_000 }, bounds)).toBe(10_000);
    expect(delays.at(-1)).toBe(bounds.maxMs);
  });

  it('polls sparsely far from the estimated end', () => {
    // 10% after 60 s → ~600 s in all: nine minutes to go.
    expect(nextPollDelay({ ...base, now: 60_000, progress: 10, progressChangedAt: 60_000 }, bounds)).toBe(bounds.maxMs);
    // Still three and a half minutes out on a ten-minute estimate.
    expect(nextPollDelay(estimated(600_000, 65, 390_000), bounds)).toBe(bounds.maxMs);
  });

  it('converges on the estimated end and is dense around it', () => {
    const total = 300_000;
    const at = (now: number) => nextPollDelay(estimated(total, 90, now), bounds);
    // Approaching: never growing, always between the bounds.
    const approach = [150_000, 200_000, 250_000, 270_000, 280_000, 285_000].map(at);
    for (let i = 1; i < approach.length; i++) expect(approach[i]).toBeLessThanOrEqual(approach[i - 1] ?? Infinity);
    expect(approach[0]).toBeGreaterThan(approach.at(-1) ?? 0);
    // Just before, at and just after the estimated end: the minimum.
    for (const now of [292_000, 300_000, 310_000]) expect(at(now)).toBe(bounds.minMs);
  });

  it('backs off slowly when a job overruns its estimate (a stall near 90%), then drifts to the maximum', () => {
    const total = 300_000;
    const at = (now: number) => nextPollDelay(estimated(total, 90, now), bounds);
    const overrun = [320_000, 360_000, 420_000, 480_000, 600_000, 900_000].map(at);
    for (let i = 1; i < overrun.length; i++) expect(overrun[i]).toBeGreaterThanOrEqual(overrun[i - 1] ?? 0);
    // Two minutes past a five-minute estimate: still close to the minimum, so the completion is seen quickly.
    expect(at(420_000)).toBeGreaterThan(bounds.minMs);
    expect(at(420_000)).toBeLessThan(2 * bounds.minMs);
    // Three times the estimate: as sparse as allowed.
    expect(at(900_000)).toBe(bounds.maxMs);
  });

  it('backs off exponentially on errors, within the bounds, whatever the estimate says', () => {
    const nearEnd = estimated(300_000, 95, 300_000);
    expect(nextPollDelay(nearEnd, bounds)).toBe(3_000);
    expect(nextPollDelay({ ...nearEnd, errorStreak: 1 }, bounds)).toBe(6_000);
    expect(nextPollDelay({ ...nearEnd, errorStreak: 2 }, bounds)).toBe(12_000);
    expect(nextPollDelay({ ...nearEnd, errorStreak: 3 }, bounds)).toBe(24_000);
    expect(nextPollDelay({ ...nearEnd, errorStreak: 50 }, bounds)).toBe(30_000);
    expect(nextPollDelay({ ...base, errorStreak: 1_000 }, bounds)).toBe(30_000);
  });

  it('always stays within the bounds', () => {
    const allBounds: PollBounds[] = [
      bounds,
      { minMs: 1_000, maxMs: 3_600_000 },
      { minMs: 10_000, maxMs: 10_000 },
      { minMs: 5_000, maxMs: 60_000 },
    ];
    for (const b of allBounds) {
      for (const progress of [0, 1, 10, 50, 88, 90, 99]) {
        for (const changedAt of [null, 0, 1_000, 30_000, 120_000, 600_000]) {
          for (const now of [0, 1_000, 30_000, 120_000, 600_000, 3_600_000, 86_400_000]) {
            if (changedAt !== null && changedAt > now) continue;
            for (const errorStreak of [0, 1, 4, 20]) {
              const d = nextPollDelay({ now, submittedAt: 0, progress, progressChangedAt: changedAt, errorStreak }, b);
              expect(Number.isFinite(d)).toBe(true);
              expect(d).toBeGreaterThanOrEqual(b.minMs);
              expect(d).toBeLessThanOrEqual(b.maxMs);
            }
          }
        }
      }
    }
  });

  it('shows a 30-second job at two different percentages before it completes', () => {
    // The job worker's loop on a simulated clock: a job with ~30 s of linear
    // progress, polled with the default bounds, at both ends of the jitter.
    for (const jitter of [0, 0.1]) {
      const doneAt = 30_000;
      const upstream = (t: number) =>
        t >= doneAt
          ? { status: 'completed', progress: 100 }
          : { status: 'in_progress', progress: Math.floor((100 * t) / doneAt) };
      let progress = 0;
      let progressChangedAt: number | null = 0;
      let now = nextPollDelay({ ...base, progressChangedAt }, bounds);
      const shown: number[] = [];
      for (;;) {
        const seen = upstream(now);
        if (seen.status === 'completed') break;
        const p = Math.max(progress, Math.min(99, seen.progress));
        progressChangedAt = p !== progress ? now : progressChangedAt;
        progress = p;
        if (p > 0) shown.push(p);
        now += Math.round(
          nextPollDelay({ now, submittedAt: 0, progress, progressChangedAt, errorStreak: 0 }, bounds) * (1 + jitter),
        );
      }
      expect(new Set(shown).size).toBeGreaterThanOrEqual(2);
    }
  });
});
