/**
 * Simulated upstream video tasks: when each one leaves the queue, how its
 * reported progress moves, and when (and how) it ends. Everything is
 * precomputed per simulated second from a seeded PRNG, so every policy is
 * replayed against exactly the same jobs.
 */
import { type Random, intBetween, mulberry32, shuffle, uniform } from './prng.js';

export type CurveKind = 'smooth' | 'step' | 'stall' | 'late-fail';

export const CURVE_KINDS: readonly CurveKind[] = ['smooth', 'step', 'stall', 'late-fail'];

/** Share of each curve in a generated batch. */
export const CURVE_MIX: Readonly<Record<CurveKind, number>> = {
  smooth: 0.4,
  step: 0.25,
  stall: 0.25,
  'late-fail': 0.1,
};

/** Ranges the generator draws from (documented in the benchmark output). */
export const JOB_SHAPE = {
  /** Time in the upstream queue (status queued, progress 0) before progress starts. */
  queueMs: [0, 60_000],
  /** Time from leaving the queue to the terminal status. */
  runMs: [120_000, 720_000],
  /** Stall: progress sits at 88–92% for this share of the run, then the task completes. */
  stallShare: [0.2, 0.4],
  /** Late failure: the task fails once progress reaches this value… */
  failAt: [90, 99],
  /** …after holding there for up to this share of the run (moderation). */
  failHoldShare: [0, 0.3],
} as const;

export type Status = 'queued' | 'in_progress' | 'completed' | 'failed';

export interface Observation {
  status: Status;
  /** Integer 0..100, as upstream reports it. */
  progress: number;
}

export interface SimJob {
  id: number;
  kind: CurveKind;
  queueMs: number;
  runMs: number;
  /** When upstream first reports the terminal status (ms after submission). */
  endMs: number;
  outcome: 'completed' | 'failed';
  /** Progress upstream reports during each whole second after submission (0 while queued; never 100 before the end). */
  progressBySecond: Uint8Array;
  /** Progress reported with the terminal status. */
  finalProgress: number;
}

/** What a GET at `atMs` after submission returns. */
export function observe(job: SimJob, atMs: number): Observation {
  if (atMs >= job.endMs) return { status: job.outcome, progress: job.finalProgress };
  if (atMs < job.queueMs) return { status: 'queued', progress: 0 };
  const i = Math.min(job.progressBySecond.length - 1, Math.floor(atMs / 1000));
  return { status: 'in_progress', progress: job.progressBySecond[i] ?? 0 };
}

/** The truth at `atMs`, as the benchmark measures staleness: 100 once completed. */
export function trueProgress(job: SimJob, atMs: number): number {
  return observe(job, atMs).progress;
}

/** Share of the run (0..1) → progress (float, may exceed 99; clipped later). */
type Curve = (x: number) => number;

/**
 * Work done as a share of the run, with the speed varying by ±`spread`
 * over `segments` equal slices of time: near-linear, never exactly linear.
 */
function speedProfile(rng: Random, segments: number, spread: number): (x: number) => number {
  const weights = Array.from({ length: segments }, () => uniform(rng, 1 - spread, 1 + spread));
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative = [0];
  for (const w of weights) cumulative.push((cumulative.at(-1) ?? 0) + w);
  return (x) => {
    const i = Math.min(segments - 1, Math.max(0, Math.floor(x * segments)));
    const frac = x * segments - i;
    return ((cumulative[i] ?? 0) + (weights[i] ?? 0) * frac) / total;
  };
}

/** Near-linear with small reporting noise (±1 point). */
function smoothCurve(rng: Random): Curve {
  const g = speedProfile(rng, 6, 0.25);
  return (x) => 100 * g(x) + uniform(rng, -1, 1);
}

/** Jumps of 10–25 points; each is reported when the underlying work passes it, so the times are irregular. */
function stepCurve(rng: Random): Curve {
  const g = speedProfile(rng, 5, 0.4);
  const checkpoints: number[] = [];
  for (let c = intBetween(rng, 10, 25); c < 100; c += intBetween(rng, 10, 25)) checkpoints.push(c);
  return (x) => {
    const work = 100 * g(x);
    let shown = 0;
    for (const c of checkpoints) if (c <= work) shown = c;
    return shown;
  };
}

/** Smooth up to 88–91%, then creeps at most to 92% for 20–40% of the run, then completes. */
function stallCurve(rng: Random): Curve {
  const share = uniform(rng, JOB_SHAPE.stallShare[0], JOB_SHAPE.stallShare[1]);
  const from = intBetween(rng, 88, 91);
  const creepTimes = Array.from({ length: intBetween(rng, 0, 92 - from) }, () => rng()).sort((a, b) => a - b);
  const g = speedProfile(rng, 6, 0.25);
  const pre = 1 - share;
  return (x) => {
    if (x < pre) return Math.min(from, from * g(x / pre) + uniform(rng, -1, 1));
    const into = (x - pre) / share;
    return from + creepTimes.filter((t) => t <= into).length;
  };
}

/** Smooth up to a value in 90–99%, holds there for 0–30% of the run, then fails. */
function lateFailCurve(rng: Random, failAt: number): Curve {
  const hold = uniform(rng, JOB_SHAPE.failHoldShare[0], JOB_SHAPE.failHoldShare[1]);
  const g = speedProfile(rng, 6, 0.25);
  const pre = 1 - hold;
  return (x) => (x < pre ? Math.min(failAt, failAt * g(x / pre) + uniform(rng, -1, 1)) : failAt);
}

/** A linear curve with no noise (used for the 30-second job). */
export const linearCurve: Curve = (x) => 100 * x;

/** Samples a curve once per simulated second into a job. */
export function buildJob(
  id: number,
  kind: CurveKind,
  queueMs: number,
  runMs: number,
  curve: Curve,
  outcome: 'completed' | 'failed',
): SimJob {
  const endMs = queueMs + runMs;
  const seconds = Math.ceil(endMs / 1000) + 1;
  const progressBySecond = new Uint8Array(seconds);
  let last = 0;
  for (let s = 0; s < seconds; s++) {
    const t = s * 1000;
    if (t >= queueMs && t < endMs) {
      const v = Math.floor(curve((t - queueMs) / runMs));
      last = Math.max(last, Math.min(99, Math.max(0, v)));
    }
    progressBySecond[s] = last;
  }
  return {
    id,
    kind,
    queueMs,
    runMs,
    endMs,
    outcome,
    progressBySecond,
    finalProgress: outcome === 'completed' ? 100 : last,
  };
}

/** How many of `n` jobs get each curve (largest remainder, so the counts add up to n). */
export function allocateMix(n: number): Record<CurveKind, number> {
  const exact = CURVE_KINDS.map((k) => ({ k, v: n * CURVE_MIX[k] }));
  const counts = Object.fromEntries(exact.map(({ k, v }) => [k, Math.floor(v)])) as Record<CurveKind, number>;
  let left = n - Object.values(counts).reduce((a, b) => a + b, 0);
  for (const { k } of [...exact].sort((a, b) => b.v - Math.floor(b.v) - (a.v - Math.floor(a.v)))) {
    if (left <= 0) break;
    counts[k] += 1;
    left -= 1;
  }
  return counts;
}

export function generateJobs(n: number, seed: number): SimJob[] {
  const rng = mulberry32(seed);
  const mix = allocateMix(n);
  const kinds = shuffle(
    rng,
    CURVE_KINDS.flatMap((k) => Array.from({ length: mix[k] }, () => k)),
  );
  return kinds.map((kind, id) => {
    const queueMs = Math.round(uniform(rng, JOB_SHAPE.queueMs[0], JOB_SHAPE.queueMs[1]));
    const runMs = Math.round(uniform(rng, JOB_SHAPE.runMs[0], JOB_SHAPE.runMs[1]));
    switch (kind) {
      case 'smooth':
        return buildJob(id, kind, queueMs, runMs, smoothCurve(rng), 'completed');
      case 'step':
        return buildJob(id, kind, queueMs, runMs, stepCurve(rng), 'completed');
      case 'stall':
        return buildJob(id, kind, queueMs, runMs, stallCurve(rng), 'completed');
      case 'late-fail':
        return buildJob(
          id,
          kind,
          queueMs,
          runMs,
          lateFailCurve(rng, intBetween(rng, JOB_SHAPE.failAt[0], JOB_SHAPE.failAt[1])),
          'failed',
        );
    }
  });
}
