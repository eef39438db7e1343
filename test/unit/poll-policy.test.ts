import { describe, expect, it } from 'vitest';
import {
  estimateRemaining,
  estimateRemainingMs,
  nextPollDelay,
  type PollBounds,
  type PollSnapshot,
} from '../../src/services/poll-policy.js';
import { EMPTY_PRIOR, type FinishedJob, buildPrior } from '../../src/services/poll-prior.js';

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

describe('nextPollDelay with the start of the run known', () => {
  it('measures the rate from the first running reading, so a long queue does not push the end out', () => {
    // Queued 20 min, first seen running at 20 min with 0 %, 50 % at 22 min: the end is due at 24 min.
    const s: PollSnapshot = {
      ...base,
      now: 23.9 * 60_000,
      progress: 50,
      progressChangedAt: 22 * 60_000,
      startedAt: 20 * 60_000,
      startedProgress: 0,
    };
    expect(nextPollDelay(s, bounds)).toBe(bounds.minMs);
    // From submission the same reading would put the end at 44 min: as sparse as allowed.
    expect(nextPollDelay({ ...s, startedAt: null, startedProgress: null }, bounds)).toBe(bounds.maxMs);
  });
});

describe('nextPollDelay with a learned prior', () => {
  const S = 1_000;
  const MIN = 60 * S;
  const SORA = { model: 'sora-2', seconds: 10, size: '1280x720' };
  const rand = (i: number) => ((i * 2654435761) % 1000) / 1000;

  /** Jobs on a relay that reports no progress: running at 0 % for 2–12 min after 10 s in the queue. */
  const silentRelay = buildPrior(
    Array.from({ length: 150 }, (_, i): FinishedJob => {
      const at = i * 20 * MIN;
      const endedAt = at + 10 * S + (2 + 10 * rand(i)) * MIN;
      return {
        jobId: i,
        ...SORA,
        submittedAt: at,
        startedAt: at + 10 * S,
        startedProgress: 0,
        endProgress: 0,
        endProgressAt: at,
        prevPollAt: endedAt - 5 * S,
        endedAt,
        outcome: 'completed',
      };
    }),
  );
  /** Jobs on a relay that holds 99 % for 10–40 % of the run (moderation) after smooth progress. */
  const holdingRelay = buildPrior(
    Array.from({ length: 150 }, (_, i): FinishedJob => {
      const at = i * 20 * MIN;
      const run = (2 + 10 * rand(i)) * MIN;
      const hold = (0.1 + 0.3 * rand(i + 7)) * run;
      const seen99 = at + (run - hold);
      return {
        jobId: i,
        ...SORA,
        submittedAt: at,
        startedAt: at,
        startedProgress: 0,
        endProgress: 99,
        endProgressAt: seen99,
        prevPollAt: at + run - 3 * S,
        endedAt: at + run,
        outcome: 'completed',
      };
    }),
  );
  /** Running at 0 % since 10 s after submission. */
  const silent = (sinceStart: number): PollSnapshot => ({
    ...base,
    ...SORA,
    now: 10 * S + sinceStart,
    startedAt: 10 * S,
    startedProgress: 0,
  });

  it('makes the same decisions as schedule 1 without history', () => {
    for (const progress of [0, 10, 50, 90, 99])
      for (const now of [0, 30 * S, 5 * MIN, 20 * MIN]) {
        const s: PollSnapshot = { ...base, ...SORA, now, progress, progressChangedAt: progress ? now / 2 : 0 };
        expect(nextPollDelay(s, bounds, EMPTY_PRIOR)).toBe(nextPollDelay(s, bounds));
      }
  });

  it('on a relay without progress: sparse before jobs like this one end, dense where they do', () => {
    const at = (t: number) => nextPollDelay(silent(t), bounds, silentRelay);
    // Nothing ends in the first 2 minutes: as sparse as allowed (schedule 1 alone would poll at 3–5 s).
    expect(at(5 * S)).toBe(bounds.maxMs);
    expect(at(60 * S)).toBe(bounds.maxMs);
    expect(nextPollDelay(silent(5 * S), bounds)).toBeLessThan(10 * S);
    // Ends spread evenly over 10 minutes, about 33 polls there: every ~9 s.
    for (const t of [3 * MIN, 5 * MIN, 8 * MIN, 11 * MIN]) {
      expect(at(t)).toBeGreaterThan(6 * S);
      expect(at(t)).toBeLessThan(11 * S);
    }
    // Later than every job before it: backing off gradually, to the maximum within minutes.
    expect(at(14 * MIN)).toBeGreaterThan(at(11 * MIN));
    expect(at(14 * MIN)).toBeLessThan(bounds.maxMs);
    expect(at(40 * MIN)).toBe(bounds.maxMs);
    // The same history spoken for by the whole provider when the model is unknown.
    expect(nextPollDelay({ ...silent(5 * MIN), model: undefined }, bounds, silentRelay)).toBe(at(5 * MIN));
  });

  it('where 99 % is held: no dense polling at the 99 % mark, dense when the holds end', () => {
    // 99 % first seen 300 s into a run from 0 %: the linear time left is ~3 s, the hold 30 s – 3 min.
    const at99 = (t: number): PollSnapshot => ({
      ...base,
      ...SORA,
      now: 300 * S + t,
      progress: 99,
      progressChangedAt: 300 * S,
      startedAt: 0,
      startedProgress: 0,
    });
    expect(nextPollDelay(at99(0), bounds)).toBe(bounds.minMs);
    expect(nextPollDelay(at99(0), bounds, holdingRelay)).toBe(bounds.maxMs);
    expect(nextPollDelay(at99(60 * S), bounds, holdingRelay)).toBeLessThan(6 * S);
    // Before 99 %, the end is not near where the rate points: schedule 1 would close in on it.
    const at95: PollSnapshot = { ...at99(0), now: 290 * S, progress: 95, progressChangedAt: 288 * S };
    expect(nextPollDelay(at95, bounds)).toBeLessThan(5 * S);
    expect(nextPollDelay(at95, bounds, holdingRelay)).toBeGreaterThan(10 * S);
  });

  it('leaves a job whose progress still moves to its progress', () => {
    // At 40 % on the holding relay nothing ever ended there; the end is far: schedule 1 (sparse) holds.
    const mid: PollSnapshot = { ...base, ...SORA, now: 120 * S, progress: 40, progressChangedAt: 120 * S };
    expect(nextPollDelay(mid, bounds, holdingRelay)).toBe(bounds.maxMs);
    // And on the silent relay (where no job ever reached 40 %) schedule 1 answers as well.
    expect(nextPollDelay(mid, bounds, silentRelay)).toBe(nextPollDelay(mid, bounds));
  });

  it('backs off on errors whatever the history says', () => {
    expect(nextPollDelay({ ...silent(5 * MIN), errorStreak: 2 }, bounds, silentRelay)).toBe(12_000);
  });

  it('always stays within the bounds', () => {
    for (const b of [bounds, { minMs: 1_000, maxMs: 3_600_000 }, { minMs: 10_000, maxMs: 10_000 }])
      for (const prior of [silentRelay, holdingRelay])
        for (const progress of [0, 1, 50, 90, 99])
          for (const t of [0, 5 * S, 2 * MIN, 7 * MIN, 30 * MIN, 3 * 60 * MIN, 24 * 60 * MIN]) {
            const s: PollSnapshot = {
              ...base,
              ...SORA,
              now: t,
              progress,
              progressChangedAt: progress ? t / 2 : 0,
              startedAt: progress || t > 10 * S ? 0 : null,
              startedProgress: 0,
            };
            const d = nextPollDelay(s, b, prior);
            expect(Number.isFinite(d)).toBe(true);
            expect(d).toBeGreaterThanOrEqual(b.minMs);
            expect(d).toBeLessThanOrEqual(b.maxMs);
          }
  });

  describe('estimateRemaining', () => {
    it("is the job's own progress where it moves", () => {
      const s = { ...base, now: 60_000, progress: 20, progressChangedAt: 60_000 };
      expect(estimateRemaining(s)).toEqual({ etaMs: 240_000, basis: 'progress' });
      expect(estimateRemaining({ ...s, ...SORA }, holdingRelay)).toEqual({ etaMs: 240_000, basis: 'progress' });
      expect(estimateRemaining(base)).toBeUndefined();
    });

    it('comes from the history, labelled so, where upstream reports no progress', () => {
      const early = estimateRemaining(silent(30 * S), silentRelay)!;
      expect(early.basis).toBe('history');
      // Ends spread over 2–12 min: the median of those still to come, about 6.5 min in, less the 30 s gone.
      expect(early.etaMs).toBeGreaterThan(5 * MIN);
      expect(early.etaMs).toBeLessThan(8 * MIN);
      const later = estimateRemaining(silent(10 * MIN), silentRelay)!;
      expect(later.basis).toBe('history');
      expect(later.etaMs).toBeLessThan(1.5 * MIN);
      // Later than nearly every job before it: nothing to say, rather than a made-up figure.
      expect(estimateRemaining(silent(13 * MIN), silentRelay)).toBeUndefined();
      // No history, no progress: nothing.
      expect(estimateRemaining(silent(30 * S), EMPTY_PRIOR)).toBeUndefined();
    });

    it('covers a hold at 99 % the rate calls overdue', () => {
      const s: PollSnapshot = {
        ...base,
        ...SORA,
        now: 330 * S,
        progress: 99,
        progressChangedAt: 300 * S,
        startedAt: 0,
        startedProgress: 0,
      };
      expect(estimateRemainingMs(s)).toBeLessThan(0);
      const e = estimateRemaining(s, holdingRelay)!;
      expect(e.basis).toBe('history');
      expect(e.etaMs).toBeGreaterThan(10 * S);
      expect(e.etaMs).toBeLessThan(3 * MIN);
    });
  });
});
