import { describe, expect, it } from 'vitest';
import {
  EMPTY_PRIOR,
  type FinishedJob,
  MIN_GROUP_WEIGHT,
  PRIOR_WINDOW,
  QUEUED,
  buildPrior,
  jobState,
  viewFor,
  withFinishedJob,
} from '../../src/services/poll-prior.js';

const S = 1_000;
const MIN = 60 * S;
const SORA = { model: 'sora-2', seconds: 10, size: '1280x720' };

/** A seeded stream, so the histories are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A job on a relay that reports no progress: queued 10 s, then running at
 * 0 % for `runMs`, its end seen by a poll 3 s after the one before.
 */
function silent(jobId: number, runMs: number, at = jobId * 10 * MIN, group = SORA): FinishedJob {
  const startedAt = at + 10 * S;
  const endedAt = startedAt + runMs;
  return {
    jobId,
    ...group,
    submittedAt: at,
    startedAt,
    startedProgress: 0,
    endProgress: 0,
    endProgressAt: at,
    prevPollAt: endedAt - 3 * S,
    endedAt,
    outcome: 'completed',
  };
}

const silentJobs = (n: number, lo: number, hi: number, seed = 1, from = 0) => {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => silent(from + i, lo + (hi - lo) * r()));
};

const tailOfRunning = (jobs: FinishedJob[], group = SORA) => {
  const view = viewFor(buildPrior(jobs), group);
  return view?.tail(0, false);
};

describe('jobState', () => {
  it('tells queued from running, anchors each state, and extrapolates progress linearly', () => {
    expect(jobState({ submittedAt: 0, progress: 0, progressChangedAt: 0 })).toEqual({
      state: QUEUED,
      anchor: 0,
      linearRemainingMs: null,
    });
    // Running at 0 %: anchored on the first running reading.
    expect(
      jobState({ submittedAt: 0, progress: 0, progressChangedAt: 0, startedAt: 20 * S, startedProgress: 0 }),
    ).toEqual({ state: 0, anchor: 20 * S, linearRemainingMs: null });
    // 10 % at the first reading (20 s), 40 % first seen at 50 s: 1 %/s, so 60 s left then.
    expect(
      jobState({ submittedAt: 0, progress: 40, progressChangedAt: 50 * S, startedAt: 20 * S, startedProgress: 10 }),
    ).toEqual({ state: 40, anchor: 50 * S, linearRemainingMs: 60 * S });
  });
});

describe('the prior', () => {
  it('has nothing to say without history, or with too little of it', () => {
    expect(viewFor(EMPTY_PRIOR, SORA)).toBeUndefined();
    expect(viewFor(EMPTY_PRIOR)).toBeUndefined();
    const few = buildPrior(silentJobs(MIN_GROUP_WEIGHT - 1, 2 * MIN, 3 * MIN));
    expect(viewFor(few, SORA)).toBeUndefined();
    const enough = viewFor(buildPrior(silentJobs(MIN_GROUP_WEIGHT + 1, 2 * MIN, 3 * MIN)), SORA);
    expect(enough?.level).toBe('sora-2|10|1280x720');
    // Nine jobs that all ended at 0 % do not make it certain: one imagined job that went on keeps a doubt.
    expect(enough!.finalChance(0)).toBeGreaterThan(0.85);
    expect(enough!.finalChance(0)).toBeLessThan(0.92);
  });

  it('learns one model: the chance of ending at 0 % and when those jobs end', () => {
    const jobs = silentJobs(150, 2 * MIN, 12 * MIN);
    const view = viewFor(buildPrior(jobs), SORA)!;
    // Every job ended while running at 0 %; none while queued.
    expect(view.finalChance(0)).toBeGreaterThan(0.95);
    expect(view.finalChance(QUEUED)).toBe(0);
    const tail = view.tail(0, false)!;
    expect(tail.relative).toBe(false);
    // The spread of the ends, within the smoothing (10 %) and the poll interval (3 s).
    expect(tail.quantile(0.02)).toBeGreaterThan(1.6 * MIN);
    expect(tail.quantile(0.02)).toBeLessThan(2.6 * MIN);
    expect(tail.quantile(0.5)).toBeGreaterThan(5.5 * MIN);
    expect(tail.quantile(0.5)).toBeLessThan(8.5 * MIN);
    expect(tail.quantile(0.98)).toBeGreaterThan(11 * MIN);
    expect(tail.quantile(0.98)).toBeLessThan(13.5 * MIN);
    expect(tail.cdfAt(MIN)).toBe(0);
    expect(tail.cdfAt(14 * MIN)).toBeCloseTo(1, 6);
    // A relay that reports progress has never ended a job at 0 %.
    const smooth = jobs.map((j) => ({ ...j, endProgress: 99, endProgressAt: j.endedAt - 5 * S }));
    expect(viewFor(buildPrior(smooth), SORA)!.finalChance(0)).toBe(0);
  });

  it('keeps the relative tail where progress predicts the end (the last of coarse steps)', () => {
    // 0/25/50/75 %: 75 % seen after three quarters of the run; the last quarter takes ±40 % of a quarter.
    const r = rng(3);
    const jobs = Array.from({ length: 120 }, (_, i): FinishedJob => {
      const run = (2 + 10 * r()) * MIN;
      const at = i * 15 * MIN;
      const startedAt = at + 5 * S;
      const seen75 = startedAt + 0.75 * run;
      const endedAt = seen75 + 0.25 * run * (0.6 + 0.8 * r());
      return {
        jobId: i,
        ...SORA,
        submittedAt: at,
        startedAt,
        startedProgress: 0,
        endProgress: 75,
        endProgressAt: seen75,
        prevPollAt: endedAt - 3 * S,
        endedAt,
        outcome: 'completed',
      };
    });
    const view = viewFor(buildPrior(jobs), SORA)!;
    expect(view.finalChance(75)).toBeGreaterThan(0.95);
    expect(view.finalChance(50)).toBe(0);
    const tail = view.tail(75, true)!;
    // In multiples of the linear time left (a third of the time so far): 0.6–1.4, smoothed.
    expect(tail.relative).toBe(true);
    expect(tail.quantile(0.5)).toBeGreaterThan(0.8);
    expect(tail.quantile(0.5)).toBeLessThan(1.2);
    // Without a rate to scale by, the absolute tail answers.
    expect(view.tail(75, false)?.relative).toBe(false);
  });

  it('falls back to coarser groups until a group has enough history of its own', () => {
    const prior = buildPrior(silentJobs(40, 2 * MIN, 4 * MIN));
    expect(viewFor(prior, SORA)?.level).toBe('sora-2|10|1280x720');
    expect(viewFor(prior, { ...SORA, size: '720x1280' })?.level).toBe('sora-2|10');
    expect(viewFor(prior, { ...SORA, seconds: 15 })?.level).toBe('sora-2');
    expect(viewFor(prior, { model: 'veo3', seconds: 8, size: '16:9' })?.level).toBe('*');
    expect(viewFor(prior)?.level).toBe('*');
    // Three pro jobs do not speak for sora-2-pro yet; sixteen do.
    const pro = { model: 'sora-2-pro', seconds: 25, size: '1792x1024' };
    const withPro = (n: number) =>
      [...Array(n).keys()].reduce((p, i) => withFinishedJob(p, silent(1_000 + i, 15 * MIN, 1e9 + i * MIN, pro)), prior);
    expect(viewFor(withPro(3), pro)?.level).toBe('*');
    const learned = viewFor(withPro(16), pro)!;
    expect(learned.level).toBe('sora-2-pro|25|1792x1024');
    expect(learned.tail(0, false)!.quantile(0.5)).toBeGreaterThan(13 * MIN);
  });

  it('follows a provider that slows down: recent jobs outweigh older ones', () => {
    const fast = silentJobs(150, 2 * MIN, 3 * MIN);
    const slow = silentJobs(100, 8 * MIN, 9 * MIN, 2, 150);
    const median = (jobs: FinishedJob[]) => tailOfRunning(jobs)!.quantile(0.5);
    expect(median(fast)).toBeLessThan(3.3 * MIN);
    // 100 slow ones after 150 fast ones: the median is a slow one.
    expect(median([...fast, ...slow])).toBeGreaterThan(7.5 * MIN);
    // 25 slow ones already move the middle: 1 − 0.5^(25/50) ≈ 29 % of the weight.
    const some = tailOfRunning([...fast, ...slow.slice(0, 25)])!;
    expect(some.cdfAt(6 * MIN)).toBeGreaterThan(0.65);
    expect(some.cdfAt(6 * MIN)).toBeLessThan(0.8);
  });

  it('keeps one 3-hour job an outlier, not a new normal', () => {
    const usual = silentJobs(99, 4 * MIN, 5 * MIN);
    const tail = tailOfRunning([...usual, silent(99, 3 * 60 * MIN)])!;
    // The newest job weighs most, still only ~1/70 of the weight.
    expect(tail.quantile(0.5)).toBeLessThan(5 * MIN);
    expect(tail.quantile(0.95)).toBeLessThan(5.6 * MIN);
    expect(tail.cdfAt(6 * MIN)).toBeGreaterThan(0.97);
    expect(tail.cdfAt(6 * MIN)).toBeLessThan(0.995);
  });

  it('counts a timed-out job as one that did not end there, without a time', () => {
    const jobs = silentJobs(30, 2 * MIN, 3 * MIN);
    const timedOut: FinishedJob = { ...silent(30, 90 * MIN), outcome: 'timed_out' };
    const before = viewFor(buildPrior(jobs), SORA)!;
    const after = viewFor(buildPrior([...jobs, timedOut]), SORA)!;
    expect(after.finalChance(0)).toBeLessThan(before.finalChance(0));
    expect(after.tail(0, false)!.quantile(0.99)).toBe(before.tail(0, false)!.quantile(0.99));
  });

  it('is a pure function of the jobs: built at once, in any order, or fed one by one, it is the same', () => {
    const jobs = [...silentJobs(120, 2 * MIN, 12 * MIN), ...silentJobs(60, MIN, 3 * MIN, 5, 500)].map((j, i) =>
      i % 3 === 0 ? { ...j, model: 'veo3', seconds: 8, size: '16:9' } : j,
    );
    const atOnce = buildPrior(jobs);
    const mixed = [...jobs].sort((a, b) => ((a.jobId * 7919) % 101) - ((b.jobId * 7919) % 101));
    expect(buildPrior(mixed)).toEqual(atOnce);
    expect(jobs.reduce(withFinishedJob, EMPTY_PRIOR)).toEqual(atOnce);
    // Ends reported out of order (two jobs ending in the same second, a late feed) fold to the same prior.
    expect(mixed.reduce(withFinishedJob, EMPTY_PRIOR)).toEqual(atOnce);
    // Feeding a job it already holds changes nothing.
    const again = withFinishedJob(atOnce, jobs[10]!);
    expect(again).toBe(atOnce);
  });

  it('keeps the most recent PRIOR_WINDOW jobs of each group level', () => {
    const jobs = silentJobs(PRIOR_WINDOW + 50, 2 * MIN, 3 * MIN);
    const prior = buildPrior(jobs);
    const ring = prior.rings.get('sora-2|10|1280x720')!;
    expect(ring.samples).toHaveLength(PRIOR_WINDOW);
    expect(ring.samples.map((s) => s.jobId)).toEqual(
      jobs
        .slice(-PRIOR_WINDOW)
        .map((j) => j.jobId)
        .reverse(),
    );
    // An old job fed late, older than all of the window, is not let in.
    expect(withFinishedJob(prior, { ...silent(9_999, 2 * MIN, -1e9) })).toBe(prior);
  });
});
