/**
 * Simulated upstream video tasks: when each one is submitted, when it leaves
 * the queue, how its reported progress moves, and when (and how) it ends.
 * Everything is precomputed per simulated second from a seeded PRNG, so
 * every policy is replayed against exactly the same jobs.
 *
 * A shape is one relay's way of reporting (issue #16): smooth progress,
 * coarse steps (0/25/50/75), none at all, 99 % held through moderation, a
 * long wait in the queue at 0 %, a provider that slows down over the day,
 * and a mix of models with their own durations and reporting.
 */
import { type Random, intBetween, mulberry32, shuffle, uniform } from './prng.js';

/** How one job's reported progress moves. */
export type CurveKind = 'smooth' | 'coarse' | 'none' | 'stall-99' | 'step' | 'stall-90' | 'late-fail';

export type ShapeId = 'smooth' | 'coarse' | 'none' | 'stall-99' | 'long-queue' | 'drift' | 'models';

export const SHAPE_IDS: readonly ShapeId[] = ['smooth', 'coarse', 'none', 'stall-99', 'long-queue', 'drift', 'models'];

export interface SimGroup {
  model: string;
  seconds: number;
  size: string;
}

/** One kind of job within a shape. */
interface JobClass {
  group: SimGroup;
  /** Share of the shape's jobs. */
  share: number;
  /** Time in the upstream queue (status queued, progress 0), ms. */
  queueMs: readonly [number, number];
  /** From leaving the queue to the terminal status, ms (before any drift). */
  runMs: readonly [number, number];
  /** Curves and their shares within the class. */
  curves: readonly (readonly [CurveKind, number])[];
}

export interface ShapeSpec {
  id: ShapeId;
  label: string;
  /** One line, for the table. */
  note: string;
  /** Whether upstream reports progress (the targets differ). */
  reportsProgress: boolean;
  classes: readonly JobClass[];
  /** Run times grow linearly from 1× for the first submission to this for the last. */
  slowdown: number;
}

const MIN = 60_000;
const SORA: SimGroup = { model: 'sora-2', seconds: 10, size: '1280x720' };
const USUAL_QUEUE = [0, MIN] as const;
const USUAL_RUN = [2 * MIN, 12 * MIN] as const;
const one = (curve: CurveKind, extra: Partial<JobClass> = {}): JobClass[] => [
  { group: SORA, share: 1, queueMs: USUAL_QUEUE, runMs: USUAL_RUN, curves: [[curve, 1]], ...extra },
];

export const SHAPES: Readonly<Record<ShapeId, ShapeSpec>> = {
  smooth: {
    id: 'smooth',
    label: 'smooth',
    note: 'progress tracks time (±25% speed, ±1 pt noise)',
    reportsProgress: true,
    classes: one('smooth'),
    slowdown: 1,
  },
  coarse: {
    id: 'coarse',
    label: 'coarse steps',
    note: 'only 0/25/50/75 %, each when the work passes it',
    reportsProgress: true,
    classes: one('coarse'),
    slowdown: 1,
  },
  none: {
    id: 'none',
    label: 'no progress',
    note: '0 % until done (queued, then in_progress)',
    reportsProgress: false,
    classes: one('none'),
    slowdown: 1,
  },
  'stall-99': {
    id: 'stall-99',
    label: 'stall at 99 %',
    note: 'smooth to 99 %, then 99 % for 10–40% of the run (moderation)',
    reportsProgress: true,
    classes: one('stall-99'),
    slowdown: 1,
  },
  'long-queue': {
    id: 'long-queue',
    label: 'long queue',
    note: 'queued at 0 % for 5–30 min, then smooth',
    reportsProgress: true,
    classes: one('smooth', { queueMs: [5 * MIN, 30 * MIN] }),
    slowdown: 1,
  },
  drift: {
    id: 'drift',
    label: 'slower over the day',
    note: 'run times grow 1× → 2.5× over the day; 40% smooth, 25% steps, 25% stall ~90%, 10% late failure',
    reportsProgress: true,
    classes: one('smooth', {
      curves: [
        ['smooth', 0.4],
        ['step', 0.25],
        ['stall-90', 0.25],
        ['late-fail', 0.1],
      ],
    }),
    slowdown: 2.5,
  },
  models: {
    id: 'models',
    label: 'mix of models',
    note: 'four models, each with its own durations and reporting (smooth, coarse, none, none)',
    reportsProgress: false,
    classes: [
      {
        group: { model: 'sora-2', seconds: 10, size: '720x1280' },
        share: 0.25,
        queueMs: USUAL_QUEUE,
        runMs: [1.5 * MIN, 4 * MIN],
        curves: [['smooth', 1]],
      },
      {
        group: { model: 'sora-2', seconds: 15, size: '1280x720' },
        share: 0.25,
        queueMs: USUAL_QUEUE,
        runMs: [3 * MIN, 7 * MIN],
        curves: [['coarse', 1]],
      },
      {
        group: { model: 'sora-2-pro', seconds: 25, size: '1792x1024' },
        share: 0.25,
        queueMs: USUAL_QUEUE,
        runMs: [8 * MIN, 20 * MIN],
        curves: [['none', 1]],
      },
      {
        group: { model: 'veo3', seconds: 8, size: '16:9' },
        share: 0.25,
        queueMs: USUAL_QUEUE,
        runMs: [1 * MIN, 3 * MIN],
        curves: [['none', 1]],
      },
    ],
    slowdown: 1,
  },
};

/** Jobs arrive over one simulated day, at random (Poisson) times. */
export const DAY_MS = 24 * 60 * MIN;

export type Status = 'queued' | 'in_progress' | 'completed' | 'failed';

export interface Observation {
  status: Status;
  /** Integer 0..100, as upstream reports it. */
  progress: number;
}

export interface SimJob {
  id: number;
  kind: CurveKind;
  group: SimGroup;
  /** When it is submitted, ms since the start of the simulated day. */
  submitAt: number;
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

/** Reported only at fixed checkpoints, each when the underlying work passes it. */
function checkpointCurve(rng: Random, checkpoints: readonly number[]): Curve {
  const g = speedProfile(rng, 5, 0.4);
  return (x) => {
    const work = 100 * g(x);
    let shown = 0;
    for (const c of checkpoints) if (c <= work) shown = c;
    return shown;
  };
}

/** Jumps of 10–25 points at irregular times. */
function stepCurve(rng: Random): Curve {
  const checkpoints: number[] = [];
  for (let c = intBetween(rng, 10, 25); c < 100; c += intBetween(rng, 10, 25)) checkpoints.push(c);
  return checkpointCurve(rng, checkpoints);
}

/** Smooth up to `from`, then creeps at most to `upTo` for `share` of the run, then completes. */
function stallCurve(rng: Random, from: number, upTo: number, share: number): Curve {
  const creepTimes = Array.from({ length: intBetween(rng, 0, upTo - from) }, () => rng()).sort((a, b) => a - b);
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
  const hold = uniform(rng, 0, 0.3);
  const g = speedProfile(rng, 6, 0.25);
  const pre = 1 - hold;
  return (x) => (x < pre ? Math.min(failAt, failAt * g(x / pre) + uniform(rng, -1, 1)) : failAt);
}

/** A linear curve with no noise (used for the 30-second job). */
export const linearCurve: Curve = (x) => 100 * x;

function curveFor(kind: CurveKind, rng: Random): { curve: Curve; outcome: 'completed' | 'failed' } {
  switch (kind) {
    case 'smooth':
      return { curve: smoothCurve(rng), outcome: 'completed' };
    case 'coarse':
      return { curve: checkpointCurve(rng, [25, 50, 75]), outcome: 'completed' };
    case 'none':
      return { curve: () => 0, outcome: 'completed' };
    case 'stall-99':
      return { curve: stallCurve(rng, 99, 99, uniform(rng, 0.1, 0.4)), outcome: 'completed' };
    case 'step':
      return { curve: stepCurve(rng), outcome: 'completed' };
    case 'stall-90':
      return { curve: stallCurve(rng, intBetween(rng, 88, 91), 92, uniform(rng, 0.2, 0.4)), outcome: 'completed' };
    case 'late-fail':
      return { curve: lateFailCurve(rng, intBetween(rng, 90, 99)), outcome: 'failed' };
  }
}

/** Samples a curve once per simulated second into a job. */
export function buildJob(
  id: number,
  kind: CurveKind,
  queueMs: number,
  runMs: number,
  curve: Curve,
  outcome: 'completed' | 'failed',
  group: SimGroup = SORA,
  submitAt = 0,
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
    group,
    submitAt,
    queueMs,
    runMs,
    endMs,
    outcome,
    progressBySecond,
    finalProgress: outcome === 'completed' ? 100 : last,
  };
}

/** How many of `n` items get each share (largest remainder, so the counts add up to n). */
export function allocate<K extends string>(n: number, shares: readonly (readonly [K, number])[]): [K, number][] {
  const exact = shares.map(([k, v]) => ({ k, v: n * v }));
  const counts = exact.map(({ k, v }): [K, number] => [k, Math.floor(v)]);
  let left = n - counts.reduce((a, [, c]) => a + c, 0);
  const order = exact.map((e, i) => ({ i, rem: e.v - Math.floor(e.v) })).sort((a, b) => b.rem - a.rem);
  for (const { i } of order) {
    if (left <= 0) break;
    const c = counts[i];
    if (c) c[1] += 1;
    left -= 1;
  }
  return counts;
}

/** `n` jobs of one shape, submitted over one simulated day. */
export function generateJobs(shape: ShapeId, n: number, seed: number): SimJob[] {
  const spec = SHAPES[shape];
  const rng = mulberry32(seed);
  const plan: { cls: JobClass; kind: CurveKind }[] = [];
  allocate(
    n,
    spec.classes.map((c, i) => [String(i), c.share] as const),
  ).forEach(([i, count]) => {
    const cls = spec.classes[Number(i)];
    if (!cls) return;
    for (const [kind, k] of allocate(count, cls.curves)) for (let j = 0; j < k; j++) plan.push({ cls, kind });
  });
  shuffle(rng, plan);
  const gap = DAY_MS / Math.max(1, n);
  let at = 0;
  return plan.map(({ cls, kind }, id) => {
    at += -Math.log(1 - rng()) * gap;
    const slow = 1 + (spec.slowdown - 1) * Math.min(1, at / DAY_MS);
    const queueMs = Math.round(uniform(rng, cls.queueMs[0], cls.queueMs[1]));
    const runMs = Math.round(uniform(rng, cls.runMs[0], cls.runMs[1]) * slow);
    const { curve, outcome } = curveFor(kind, rng);
    return buildJob(id, kind, queueMs, runMs, curve, outcome, cls.group, Math.round(at));
  });
}
