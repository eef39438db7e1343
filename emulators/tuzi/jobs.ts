import type { Clock } from '../../src/clock.js';
import { resolveDialect, type StatusDialect, type StatusDialectName } from './statuses.js';

/**
 * How `progress` moves while a job is `in_progress`, as a function of the
 * elapsed share of its running time:
 * - `linear`: smooth, 0 → 99.
 * - `steps`: jumps of 20 (0, 20, 40, 60, 80), as services that report coarse stages do.
 * - `stall-90`: reaches 90 within the first 30 % and sits there until the end,
 *   the way moderation holds a finished render.
 * - `{ points }`: piecewise-linear through `[fraction, progress]` pairs, for
 *   replaying recorded curves (fractions 0..1, progress non-decreasing).
 */
export type ProgressCurve =
  'linear' | 'steps' | 'stall-90' | { readonly points: readonly (readonly [fraction: number, progress: number])[] };

export interface JobFailurePlan {
  /** The job fails the moment its progress reaches this (or at its end, if the curve never gets there). */
  atProgress: number;
  /** e.g. `content_policy_violation`. */
  code: string;
  message: string;
}

/** The provider deletes a task's result: GET then answers 410 (or `status: "expired"`). */
export interface JobExpiryPlan {
  /** Milliseconds after creation; below `durationMs` the task is lost mid-run. */
  afterMs: number;
  /**
   * Milliseconds after expiring when the task answers normally again: on
   * Tuzi such a 410 may clear up (facts/tuzi.md). Absent: it stays expired.
   */
  recoverAfterMs?: number;
  /** `http-410` (default): `410 {"status":"expired",…}`; `status`: 200 with the task's status spelled `expired`. */
  as?: ExpiryAnswer;
}

export type ExpiryAnswer = 'http-410' | 'status';

export interface JobPlan {
  /** Milliseconds from creation to completion, queueing included. */
  durationMs: number;
  /** Share of `durationMs` spent `queued` at progress 0 (0..1). */
  queuedFraction: number;
  curve: ProgressCurve;
  /** Absent: the job completes. */
  failure?: JobFailurePlan;
  /** How this job's statuses are spelled; the emulator's dialect when absent. */
  statuses?: StatusDialect | StatusDialectName;
  /** Absent: the result is kept. */
  expiry?: JobExpiryPlan;
}

/** What a planner sees about the job being created. */
export interface JobPlanContext {
  /** 0 for the first job this emulator created. */
  index: number;
  model: string;
  prompt: string;
  seconds: number;
  size: string;
}

/** Picks a plan per job (merged over the defaults), e.g. to cycle curves in a benchmark. */
export type JobPlanner = (job: JobPlanContext) => Partial<JobPlan>;

export type EmulatedStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'cancelled';

/** How a stopped job ends: `cancelled`, or `failed` with error code `cancelled`. */
export type StopAs = 'cancelled' | 'failed';

export interface JobState {
  status: EmulatedStatus;
  progress: number;
  error?: { code: string; message: string };
}

export function validatePlan(plan: JobPlan): void {
  if (!(plan.durationMs >= 0)) throw new RangeError('durationMs must be >= 0');
  if (!(plan.queuedFraction >= 0 && plan.queuedFraction <= 1)) throw new RangeError('queuedFraction must be in 0..1');
  if (typeof plan.curve === 'object') {
    const pts = plan.curve.points;
    if (pts.length === 0) throw new RangeError('a points curve needs points');
    for (let i = 1; i < pts.length; i++) {
      const [f0, p0] = pts[i - 1] ?? [0, 0];
      const [f1, p1] = pts[i] ?? [0, 0];
      if (f1 < f0 || p1 < p0) throw new RangeError('curve points must be non-decreasing');
    }
  }
  if (plan.expiry) {
    if (!(plan.expiry.afterMs >= 0)) throw new RangeError('expiry.afterMs must be >= 0');
    if (plan.expiry.recoverAfterMs !== undefined && !(plan.expiry.recoverAfterMs >= 0)) {
      throw new RangeError('expiry.recoverAfterMs must be >= 0');
    }
  }
  resolveDialect(plan.statuses);
}

/** Progress (integer 0..99) at share `f` (0..1) of the running time. */
export function curveProgress(curve: ProgressCurve, f: number): number {
  const x = Math.min(1, Math.max(0, f));
  let p: number;
  if (curve === 'linear') p = 100 * x;
  else if (curve === 'steps') p = Math.floor(x * 5) * 20;
  else if (curve === 'stall-90') p = x < 0.3 ? (90 * x) / 0.3 : 90;
  else p = interpolate(curve.points, x);
  // 100 belongs to `completed`; a running job never shows it.
  return Math.min(99, Math.max(0, Math.floor(p)));
}

function interpolate(points: readonly (readonly [number, number])[], x: number): number {
  const first = points[0];
  if (!first) return 0;
  if (x <= first[0]) return first[1];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (!a || !b) break;
    if (x <= b[0]) return b[0] === a[0] ? b[1] : a[1] + ((b[1] - a[1]) * (x - a[0])) / (b[0] - a[0]);
  }
  return points[points.length - 1]?.[1] ?? 0;
}

/** A reference image as received (the file part, or a URL). */
export type ReceivedReference =
  { kind: 'file'; filename: string; contentType: string; size: number; sha256: string } | { kind: 'url'; url: string };

export interface EmulatedJobInit {
  id: string;
  index: number;
  model: string;
  prompt: string;
  seconds: number;
  size: string;
  createdAt: number;
  plan: JobPlan;
  videoToken: string;
  /** Every string part of the create request, verbatim. */
  fields: Readonly<Record<string, string>>;
  inputReference?: ReceivedReference;
  /** Which key created it (a hash, never the key), for the per-key running-job cap. */
  keyId?: string;
  /** Credits charged at creation. */
  cost?: number;
}

interface Expiry {
  at: number;
  recoverAt: number | undefined;
  as: ExpiryAnswer;
}

/**
 * One task. Its status is not stored but computed from the clock, so a
 * ManualClock moves every job forward at once and a restart-free emulator
 * can never drift from its own plan. The only stored events are the ones a
 * caller causes (a cancel, an expiry, a delete), each with its clock time,
 * so the state at any instant is still a pure function of that instant.
 */
export class EmulatedJob {
  readonly id: string;
  readonly index: number;
  readonly model: string;
  readonly prompt: string;
  readonly seconds: number;
  readonly size: string;
  /** Milliseconds since the epoch, from the emulator's clock. */
  readonly createdAt: number;
  readonly plan: Readonly<JobPlan>;
  /** Path token of the job's `video_url`. */
  readonly videoToken: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly inputReference: ReceivedReference | undefined;
  readonly keyId: string | undefined;
  readonly cost: number;
  private stop: { at: number; as: StopAs } | undefined;
  private expiry: Expiry | undefined;
  private deletedAtMs: number | undefined;

  constructor(
    init: EmulatedJobInit,
    private readonly clock: Clock,
  ) {
    this.id = init.id;
    this.index = init.index;
    this.model = init.model;
    this.prompt = init.prompt;
    this.seconds = init.seconds;
    this.size = init.size;
    this.createdAt = init.createdAt;
    this.plan = Object.freeze({ ...init.plan });
    this.videoToken = init.videoToken;
    this.fields = Object.freeze({ ...init.fields });
    this.inputReference = init.inputReference;
    this.keyId = init.keyId;
    this.cost = init.cost ?? 0;
    const planned = init.plan.expiry;
    if (planned) {
      const at = this.createdAt + planned.afterMs;
      this.expiry = {
        at,
        recoverAt: planned.recoverAfterMs === undefined ? undefined : at + planned.recoverAfterMs,
        as: planned.as ?? 'http-410',
      };
    }
  }

  get status(): EmulatedStatus {
    return this.stateAt().status;
  }

  get progress(): number {
    return this.stateAt().progress;
  }

  /** The state at `now` (the emulator's clock by default). */
  stateAt(now: number = this.clock.now()): JobState {
    const planned = this.plannedAt(now);
    const stop = this.stop;
    if (!stop || now < stop.at) return planned;
    const atStop = this.plannedAt(stop.at);
    if (atStop.status !== 'queued' && atStop.status !== 'in_progress') return planned;
    if (stop.as === 'cancelled') return { status: 'cancelled', progress: atStop.progress };
    return {
      status: 'failed',
      progress: atStop.progress,
      error: { code: 'cancelled', message: 'The task was cancelled before it finished' },
    };
  }

  /** Whether the job has ended (completed, failed or cancelled) at `now`. */
  endedAt(now: number = this.clock.now()): boolean {
    const s = this.stateAt(now).status;
    return s === 'completed' || s === 'failed' || s === 'cancelled';
  }

  /** Clock time the job completed (or will), if it completes. */
  get completedAt(): number | undefined {
    const end = this.createdAt + this.plan.durationMs;
    return this.stateAt(end).status === 'completed' ? end : undefined;
  }

  /**
   * Stops a queued or running job from `now` on. Returns false (and changes
   * nothing) when it has already ended.
   */
  cancel(as: StopAs = 'cancelled', now: number = this.clock.now()): boolean {
    if (this.endedAt(now)) return false;
    this.stop = { at: now, as };
    return true;
  }

  /** Deletes the result from `at` (default now); see JobExpiryPlan. */
  expire(opts: { at?: number; recoverAfterMs?: number; as?: ExpiryAnswer } = {}): void {
    const at = opts.at ?? this.clock.now();
    this.expiry = {
      at,
      recoverAt: opts.recoverAfterMs === undefined ? undefined : at + opts.recoverAfterMs,
      as: opts.as ?? 'http-410',
    };
  }

  /** How an expired job answers at `now`, or undefined when it is not expired then. */
  expiredAt(now: number = this.clock.now()): ExpiryAnswer | undefined {
    const e = this.expiry;
    if (!e || now < e.at) return undefined;
    if (e.recoverAt !== undefined && now >= e.recoverAt) return undefined;
    return e.as;
  }

  /** Marks the task deleted (DELETE /v1/videos/{id}); it stays here for assertions. */
  markDeleted(now: number = this.clock.now()): void {
    this.deletedAtMs ??= now;
  }

  /** Clock time of the DELETE, if any. */
  get deletedAt(): number | undefined {
    return this.deletedAtMs;
  }

  private plannedAt(now: number): JobState {
    const { durationMs, queuedFraction, curve, failure } = this.plan;
    const elapsed = now - this.createdAt;
    const queuedMs = durationMs * queuedFraction;
    const runMs = durationMs - queuedMs;
    if (elapsed < queuedMs) return { status: 'queued', progress: 0 };
    const done = elapsed >= durationMs;
    const f = runMs > 0 ? (elapsed - queuedMs) / runMs : 1;
    // A failure the curve never reaches (95 % on a curve stalled at 90) still happens, at the end.
    const progress = curveProgress(curve, done ? 1 : f);
    if (failure && (progress >= failure.atProgress || done)) {
      return {
        status: 'failed',
        progress: Math.min(progress, failure.atProgress),
        error: { code: failure.code, message: failure.message },
      };
    }
    if (done) return { status: 'completed', progress: 100 };
    return { status: 'in_progress', progress };
  }
}
