/**
 * When to ask upstream about a job next. Pure functions of what the job row
 * holds and of the prior learned from finished jobs (poll-prior.ts), so the
 * poller, the tests and the benchmark's simulated clock
 * (scripts/bench/polling.ts) all make the very same decisions.
 *
 * Schedule 1, from the job's own progress (tuned on smooth progress). With
 * E = the estimated end (the rate of progress since the first running
 * reading, extrapolated to 100 %; since submission without one) and S = the
 * estimated run (from that reading to E):
 *
 *   nothing has moved yet (progress 0)   half the time waited so far: the
 *                                        minimum at first, so a short job
 *                                        shows its progress, then sparser
 *                                        while it sits in the queue
 *   far from the end                     min + 15% of the distance to the dense
 *                                        band (reaches the maximum ~3 min out)
 *   dense band, E − 3%·S … E + 5%·S      the minimum: where most jobs finish
 *   past the band (overrun o)            min + 2% of o, steepening by (1 + o/S)
 *                                        so a job that runs twice as long as
 *                                        expected drifts to the maximum
 *   errors                               min · 2^streak, up to the maximum
 *
 * Schedule 2, from the history (poll-prior.ts), where progress says little.
 * For the state the job is in (queued, or running at its current value) the
 * history gives c, the chance that jobs end in it, and when those that did
 * ended. The next poll comes once the share 1/(TAIL_STEPS·c) of those ends
 * has passed — "equal-share" steps: dense where ends crowd, sparse where
 * none come, about TAIL_STEPS/2 polls over a job's uncertain end however
 * wide it is. Two guards keep a few dozen samples honest: inside the core
 * of the ends (2 %–98 %) a step is never longer than an even spread would
 * give (a trough there is noise), and past everything the history shows the
 * step grows from that even one as schedule 1's overrun does (a 3-hour job
 * is not polled densely for hours, nor lost sight of).
 *
 * Combined per poll: c ≥ TAIL_ONLY (no progress on a relay that reports
 * none, the last of coarse steps, 99 % held through moderation) — schedule 2
 * alone; c < MIN_FINAL_CHANCE (40 % on a smooth relay) — schedule 1 alone; in
 * between the shorter of the two. And where the history contradicts
 * schedule 1 — even the earliest of the jobs that got this far ended after
 * its dense band, as when 99 % is held — schedule 1's band is replaced by
 * the ends those jobs had, as multiples of their extrapolated run.
 *
 * Always clamped to [minMs, maxMs]; the poller adds 0–10% jitter on top.
 * Without history (a new bot, a new model: fewer than MIN_GROUP_WEIGHT
 * finished jobs in any group that fits) it is schedule 1 alone.
 *
 * Why (measured by `npm run bench`, polling part, per shape of reporting):
 * where progress tracks time most jobs end within a few percent of E, so
 * schedule 1 spends the minimum only there and its overrun slope catches
 * late failures. Where it does not, the rate says nothing but the history
 * knows when ends come: a fixed 10 s poller pays over the whole wait,
 * schedule 2 only over the part where jobs like this one end — and spends
 * the saving on a denser watch there. TAIL_STEPS = 66 is what keeps a relay
 * without progress within p95 10 s at fewer polls than the fixed 10 s
 * poller, and 99 % held 10–40 % of a run within p50 2 s likewise.
 */
import {
  type JobGroup,
  type JobState,
  type PollPrior,
  type PriorView,
  type Tail,
  jobState,
  tailPosition,
  viewFor,
} from './poll-prior.js';

export interface PollBounds {
  /** Shortest interval between two polls of one job. */
  minMs: number;
  /** Longest interval between two polls of one job. */
  maxMs: number;
}

export interface PollSnapshot {
  now: number;
  /** When upstream accepted the job. */
  submittedAt: number;
  /** Last progress seen, 0..99. */
  progress: number;
  /** When that progress value was first seen. */
  progressChangedAt: number | null;
  /**
   * The first reading of the job running (absent or null while queued): when,
   * and its progress then. Rates are measured from it, so time in the
   * provider's queue does not count as running time.
   */
  startedAt?: number | null;
  startedProgress?: number | null;
  /** Consecutive failed polls. */
  errorStreak: number;
  /** The job's model, duration and size: which history applies (absent: all jobs alike). */
  model?: string;
  seconds?: number;
  size?: string;
}

/** While progress is 0: wait this share of the time waited so far. */
const QUEUED_SHARE = 0.5;
/** The dense band around the estimated end, as shares of the estimated run. */
const BAND_BEFORE = 0.03;
const BAND_AFTER = 0.05;
/** Before the band, each second of distance to it adds this much to the interval. */
const APPROACH_SLOPE = 0.15;
/** After the band, each second of overrun adds this much (times 1 + overrun/run). */
const OVERRUN_SLOPE = 0.02;

/** About twice the polls spent over the uncertain part of a job's end (see the header). */
export const TAIL_STEPS = 66;
/** Below this chance of ending in the current state the history is not consulted. */
export const MIN_FINAL_CHANCE = 0.05;
/** From this chance on, the history alone decides. */
export const TAIL_ONLY = 0.9;
/** The core of a tail: between these shares of its ends (from each side). */
const CORE_EDGE = 0.02;
/** A time left from history is shown from this chance of ending in the current state on. */
const HISTORY_ESTIMATE_CHANCE = 0.5;
/** …and while the job is not past this share of the jobs that ended there (beyond it nothing is known). */
const HISTORY_ESTIMATE_UNTIL = 0.95;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

function groupOf(s: PollSnapshot): JobGroup | undefined {
  return s.model !== undefined && s.seconds !== undefined && s.size !== undefined
    ? { model: s.model, seconds: s.seconds, size: s.size }
    : undefined;
}

/**
 * The estimated end and run from the job's own progress: its rate since the
 * first running reading (since submission without one); undefined without a
 * signal.
 */
function estimateRun(s: PollSnapshot): { endAt: number; span: number } | undefined {
  if (s.progress <= 0 || s.progress >= 100 || s.progressChangedAt === null) return undefined;
  const from = s.startedAt ?? s.submittedAt;
  const fromProgress = s.startedAt == null ? 0 : (s.startedProgress ?? 0);
  const spent = s.progressChangedAt - from;
  if (s.progress <= fromProgress || spent <= 0) return undefined;
  const span = (spent * (100 - fromProgress)) / (s.progress - fromProgress);
  return { endAt: from + span, span };
}

/**
 * Milliseconds until the job is likely done (negative once overdue), or
 * undefined without enough signal: its own progress extrapolated. With a
 * reading of the job running, it is the rate of progress since that reading,
 * so a wait in the provider's queue (and a start noticed only at the next
 * poll) does not skew it; without one, the average rate since submission.
 */
export function estimateRemainingMs(s: PollSnapshot): number | undefined {
  const run = estimateRun(s);
  if (!run || s.progressChangedAt === null) return undefined;
  return run.endAt - s.now;
}

/** A time left to show, and what it rests on: this job's progress, or the jobs before it. */
export interface RemainingEstimate {
  etaMs: number;
  basis: 'progress' | 'history';
}

/**
 * The time left to show members, never made up: from the history where the
 * job is most likely in its last state (no progress on a relay that reports
 * none, 99 % held through moderation, the last coarse step) — the median of
 * the ends still to come for jobs that ended there — otherwise from the
 * job's own progress; undefined when neither knows (queued, or later than
 * nearly every job before it).
 */
export function estimateRemaining(s: PollSnapshot, prior?: PollPrior): RemainingEstimate | undefined {
  const view = prior && viewFor(prior, groupOf(s));
  if (view) {
    const state = jobState(s);
    if (view.finalChance(state.state) >= HISTORY_ESTIMATE_CHANCE) {
      const tail = view.tail(state.state, state.linearRemainingMs !== null);
      const pos = tail && tailPosition(tail, state, s.now);
      if (tail && pos) {
        const f = tail.cdfAt(pos.x);
        if (f >= HISTORY_ESTIMATE_UNTIL) return undefined;
        const median = tail.quantile(f + (1 - f) / 2);
        return { etaMs: Math.max(0, (median - pos.x) * pos.msPerUnit), basis: 'history' };
      }
    }
  }
  const eta = estimateRemainingMs(s);
  return eta !== undefined && eta > 0 ? { etaMs: eta, basis: 'progress' } : undefined;
}

/** Schedule 1: from the job's own progress. */
function progressDelay(s: PollSnapshot, minMs: number, maxMs: number): number {
  const run = estimateRun(s);
  if (run === undefined) return clamp(Math.max(0, s.now - s.submittedAt) * QUEUED_SHARE, minMs, maxMs);
  const remaining = run.endAt - s.now;
  const toBand = remaining - BAND_BEFORE * run.span;
  if (toBand > 0) return clamp(minMs + APPROACH_SLOPE * toBand, minMs, maxMs);
  const overrun = -remaining - BAND_AFTER * run.span;
  if (overrun <= 0) return minMs > maxMs ? maxMs : minMs;
  return clamp(minMs + OVERRUN_SLOPE * overrun * (1 + overrun / run.span), minMs, maxMs);
}

/**
 * The wait until the share `share` of a learned distribution's ends has
 * passed, from position `x` (in the distribution's units).
 */
function equalShareStep(tail: Tail, x: number, share: number): number {
  const lo = tail.quantile(CORE_EDGE);
  const hi = tail.quantile(1 - CORE_EDGE);
  /** The step if the core's ends were spread evenly. */
  const even = ((hi - lo) * share) / (1 - 2 * CORE_EDGE);
  const f = tail.cdfAt(x);
  if (f + share >= 1) {
    // Later than (nearly) every job before it: from the even step, back off as schedule 1's overrun does.
    const last = tail.quantile(1 - share);
    const over = Math.max(0, x - last);
    return even + OVERRUN_SLOPE * over * (1 + over / Math.max(last, Number.MIN_VALUE));
  }
  const step = tail.quantile(f + share) - x;
  // Inside the core a trough in a few dozen samples is noise, not knowledge: never sparser than an even spread.
  return x >= lo && x < hi ? Math.min(step, even) : step;
}

/** Schedule 2: by when jobs that ended in this state ended. */
function historyDelay(view: PriorView, state: JobState, now: number, chance: number): number {
  const tail = view.tail(state.state, state.linearRemainingMs !== null);
  const pos = tail && tailPosition(tail, state, now);
  if (!tail || !pos) return Infinity;
  return equalShareStep(tail, pos.x, 1 / (TAIL_STEPS * chance)) * pos.msPerUnit;
}

/**
 * Schedule 1 where history contradicts it: if even the earliest of the jobs
 * that got this far ended after its dense band (99 % held through
 * moderation), steps spread by where they did end, as multiples of the run
 * extrapolated from progress. Undefined where schedule 1 holds.
 */
function learnedBandDelay(view: PriorView, s: PollSnapshot, state: JobState, chance: number): number | undefined {
  const band = view.band(state.state);
  const run = estimateRun(s);
  if (!band || !run || band.quantile(CORE_EDGE) <= 1 + BAND_AFTER) return undefined;
  const start = run.endAt - run.span;
  return equalShareStep(band, (s.now - start) / run.span, 1 / (TAIL_STEPS * (1 - chance))) * run.span;
}

/**
 * Milliseconds until the next poll of this job. `prior` is the history of
 * finished jobs (poll-prior.ts); without it, schedule 1 alone.
 */
export function nextPollDelay(s: PollSnapshot, bounds: PollBounds, prior?: PollPrior): number {
  const { minMs, maxMs } = bounds;
  if (s.errorStreak > 0) {
    // Back off on upstream trouble: 2×, 4×… the minimum, up to the max, with the poller adding jitter.
    return clamp(minMs * 2 ** Math.min(s.errorStreak, 16), minMs, maxMs);
  }
  const fromProgress = progressDelay(s, minMs, maxMs);
  const view = prior && viewFor(prior, groupOf(s));
  if (!view) return fromProgress;
  const state = jobState(s);
  const chance = view.finalChance(state.state);
  let delay = chance < TAIL_ONLY ? (learnedBandDelay(view, s, state, chance) ?? fromProgress) : Infinity;
  if (chance >= MIN_FINAL_CHANCE) delay = Math.min(delay, historyDelay(view, state, s.now, chance));
  if (!Number.isFinite(delay)) delay = fromProgress;
  return minMs > maxMs ? maxMs : clamp(delay, minMs, maxMs);
}
