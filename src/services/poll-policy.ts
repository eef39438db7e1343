/**
 * When to ask upstream about a job next. Pure functions of what the job row
 * holds, so the poller, the tests and the benchmark's simulated clock all
 * use the very same decisions.
 *
 * The shape: while a job shows no progress, poll on a slowly growing
 * interval (queues are unpredictable). Once progress moves, estimate the
 * finish from the observed rate and halve the distance to it on each poll,
 * so polls are sparse far from the end and dense right around it. A job that
 * overruns its estimate (moderation often holds videos near 90%) is polled on
 * an interval that grows with the overrun, never beyond the maximum.
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
  /** Consecutive failed polls. */
  errorStreak: number;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Milliseconds until the job is likely done, or undefined without enough signal. */
export function estimateRemainingMs(s: PollSnapshot): number | undefined {
  if (s.progress <= 0 || s.progress >= 100 || s.progressChangedAt === null) return undefined;
  const spent = s.progressChangedAt - s.submittedAt;
  if (spent <= 0) return undefined;
  const total = (spent * 100) / s.progress;
  return total - (s.now - s.submittedAt);
}

export function nextPollDelay(s: PollSnapshot, bounds: PollBounds): number {
  if (s.errorStreak > 0) {
    // Back off on upstream trouble: min, 2×, 4×… up to the max, with the poller adding jitter.
    return clamp(bounds.minMs * 2 ** Math.min(s.errorStreak, 16), bounds.minMs, bounds.maxMs);
  }
  const elapsed = Math.max(0, s.now - s.submittedAt);
  const remaining = estimateRemainingMs(s);
  if (remaining === undefined) return clamp(elapsed * 0.25, bounds.minMs, bounds.maxMs);
  if (remaining > 0) return clamp(remaining * 0.5, bounds.minMs, bounds.maxMs);
  return clamp(-remaining * 0.25, bounds.minMs, bounds.maxMs);
}
