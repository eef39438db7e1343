/**
 * When to ask upstream about a job next. Pure functions of what the job row
 * holds, so the poller, the tests and the benchmark's simulated clock
 * (scripts/bench/polling.ts) all use the very same decisions.
 *
 * The shape, with E = the estimated total duration (time from submission to
 * the moment the current progress value was first seen, divided by that
 * progress) and r = E − elapsed, the time left by that estimate:
 *
 *   nothing has moved yet (progress 0)   half the time waited so far: the
 *                                        minimum at first, so a short job
 *                                        shows its progress, then sparser
 *                                        while it sits in the queue
 *   far from the end                     min + 15% of the distance to the dense
 *                                        band (reaches the maximum ~3 min out)
 *   dense band, E − 3%·E … E + 5%·E      the minimum: where most jobs finish
 *   past the band (overrun o)            min + 2% of o, steepening by (1 + o/E)
 *                                        so a job that runs twice as long as
 *                                        expected drifts to the maximum
 *   errors                               min · 2^streak, up to the maximum
 *
 * Always clamped to [minMs, maxMs]; the poller adds 0–10% jitter on top.
 *
 * Why this shape (measured by `npm run bench`, polling part): the upstream
 * reports progress that tracks time closely enough that most jobs end
 * within a few percent of E, so the minimum is spent only there. The slow
 * overrun slope is what catches completions after a moderation stall near
 * 90% (20–40% of the run with little or no progress) and late failures,
 * which both land after E: at a 100 s overrun the interval is still ~5 s.
 * Far from the end it is as sparse as the maximum allows.
 */
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
  /** Last progress seen, 0..100. */
  progress: number;
  /** When that progress value was first seen. */
  progressChangedAt: number | null;
  /**
   * The first reading of the job running (absent or null while queued): when,
   * and its progress then. Only the time-left estimate uses it.
   */
  startedAt?: number | null;
  startedProgress?: number | null;
  /** Consecutive failed polls. */
  errorStreak: number;
}

/** While progress is 0: wait this share of the time waited so far. */
const QUEUED_SHARE = 0.5;
/** The dense band around the estimated finish, as shares of the estimated total. */
const BAND_BEFORE = 0.03;
const BAND_AFTER = 0.05;
/** Before the band, each second of distance to it adds this much to the interval. */
const APPROACH_SLOPE = 0.15;
/** After the band, each second of overrun adds this much (times 1 + overrun/estimate). */
const OVERRUN_SLOPE = 0.02;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Estimated total duration from submission, from the average rate so far; undefined without a signal. */
function estimateTotalMs(s: PollSnapshot): number | undefined {
  if (s.progress <= 0 || s.progress >= 100 || s.progressChangedAt === null) return undefined;
  const spent = s.progressChangedAt - s.submittedAt;
  if (spent <= 0) return undefined;
  return (spent * 100) / s.progress;
}

/**
 * Milliseconds until the job is likely done (negative once overdue), or
 * undefined without enough signal: what members see as "time left". With a
 * reading of the job running, it is the rate of progress since that reading,
 * so a wait in the provider's queue (and a start noticed only at the next
 * poll) does not skew it; without one, the average rate since submission.
 * (The poll schedule keeps the estimate from submission it was tuned with.)
 */
export function estimateRemainingMs(s: PollSnapshot): number | undefined {
  const from = s.startedAt ?? s.submittedAt;
  const fromProgress = s.startedAt == null ? 0 : (s.startedProgress ?? 0);
  if (s.progress <= fromProgress || s.progress >= 100 || s.progressChangedAt === null) return undefined;
  const spent = s.progressChangedAt - from;
  if (spent <= 0) return undefined;
  const left = ((100 - s.progress) * spent) / (s.progress - fromProgress);
  return s.progressChangedAt + left - s.now;
}

export function nextPollDelay(s: PollSnapshot, bounds: PollBounds): number {
  const { minMs, maxMs } = bounds;
  if (s.errorStreak > 0) {
    // Back off on upstream trouble: 2×, 4×… the minimum, up to the max, with the poller adding jitter.
    return clamp(minMs * 2 ** Math.min(s.errorStreak, 16), minMs, maxMs);
  }
  const elapsed = Math.max(0, s.now - s.submittedAt);
  const total = estimateTotalMs(s);
  if (total === undefined) return clamp(elapsed * QUEUED_SHARE, minMs, maxMs);

  const remaining = total - elapsed;
  const toBand = remaining - BAND_BEFORE * total;
  if (toBand > 0) return clamp(minMs + APPROACH_SLOPE * toBand, minMs, maxMs);
  const overrun = -remaining - BAND_AFTER * total;
  if (overrun <= 0) return minMs > maxMs ? maxMs : minMs;
  return clamp(minMs + OVERRUN_SLOPE * overrun * (1 + overrun / total), minMs, maxMs);
}
