/**
 * Polling policies replayed by the benchmark: ours (the real functions from
 * src/services/poll-policy.ts, fed exactly as JobWorker feeds them) and the
 * peers described in shared/facts/tuzi.md.
 */
import { nextPollDelay, type PollBounds, type PollSnapshot } from '../../../src/services/poll-policy.js';
import type { Observation } from './jobs.js';
import type { Random } from './prng.js';

/** One job's polling loop. Times are ms since submission. */
export interface PolicyRun {
  /** Delay before the first GET, given the POST's answer; null = never poll. */
  afterSubmit(answer: Observation): number | null;
  /** After a GET at `atMs` that was not terminal: ms until the next GET, or null to give up. */
  afterPoll(atMs: number, seen: Observation, pollsSoFar: number): number | null;
}

export interface PollingPolicy {
  id: string;
  label: string;
  /** One line: where the policy comes from and what it does. */
  note: string;
  /** `rng` is this job's own jitter stream. */
  start(rng: Random): PolicyRun;
}

export const DEFAULT_BOUNDS: PollBounds = { minMs: 3_000, maxMs: 30_000 };
/** JOB_MAX_WAIT_MINUTES default: the worker times a job out after this. */
export const DEFAULT_MAX_WAIT_MS = 90 * 60_000;

/**
 * Our policy, with the same state updates JobWorker makes: progress is the
 * max seen, capped at 99; progressChangedAt is when the current value was
 * first seen; the worker adds 0–10% jitter after each poll (not after the
 * submit, where jobs.ts schedules the first poll without jitter).
 */
export function ourPolicy(
  bounds: PollBounds = DEFAULT_BOUNDS,
  next: (s: PollSnapshot, b: PollBounds) => number = nextPollDelay,
  maxWaitMs = DEFAULT_MAX_WAIT_MS,
): PollingPolicy {
  return {
    id: 'ours',
    label: 'ours (poll-policy.ts)',
    note: `nextPollDelay with min ${bounds.minMs / 1000} s / max ${bounds.maxMs / 1000} s, +0–10% jitter, as JobWorker runs it`,
    start(rng) {
      const submittedAt = 0;
      let progress = 0;
      let progressChangedAt: number | null = null;
      return {
        afterSubmit(answer) {
          progress = Math.max(0, Math.min(99, Math.round(answer.progress)));
          progressChangedAt = submittedAt;
          return next({ now: submittedAt, submittedAt, progress, progressChangedAt, errorStreak: 0 }, bounds);
        },
        afterPoll(at, seen) {
          const p = Math.max(progress, Math.min(99, Math.round(seen.progress)));
          progressChangedAt = p !== progress || progressChangedAt === null ? at : progressChangedAt;
          progress = p;
          const delay = Math.round(
            next({ now: at, submittedAt, progress, progressChangedAt, errorStreak: 0 }, bounds) * (1 + 0.1 * rng()),
          );
          // The worker checks the maximum wait before each GET and times the job out instead.
          return at + delay - submittedAt >= maxWaitMs ? null : delay;
        },
      };
    },
  };
}

/** Fixed interval, optionally with a cap on polls. */
function fixed(
  id: string,
  label: string,
  note: string,
  intervalMs: number,
  opts: { maxPolls?: number; pollAtOnce?: boolean } = {},
): PollingPolicy {
  return {
    id,
    label,
    note,
    start: () => ({
      afterSubmit: () => (opts.pollAtOnce ? 0 : intervalMs),
      afterPoll: (_at, _seen, polls) => (opts.maxPolls !== undefined && polls >= opts.maxPolls ? null : intervalMs),
    }),
  };
}

export const PEER_POLICIES: readonly PollingPolicy[] = [
  fixed(
    'sdk-1s',
    'fixed 1 s (OpenAI SDK)',
    'openai-python create_and_poll: GET at once, then every 1 s, no limit',
    1_000,
    { pollAtOnce: true },
  ),
  {
    id: 'tuzi-client',
    label: '3→8 s, 8 min (Tuzi client)',
    note: 'a public Tuzi client: waits 3, 4, 5, 6, 7 s, then 8 s; gives up once 8 minutes have passed',
    start: () => ({
      afterSubmit: () => 3_000,
      afterPoll: (at, _seen, polls) => {
        const delay = Math.min(8, 3 + polls) * 1000;
        return at + delay > 8 * 60_000 ? null : delay;
      },
    }),
  },
  fixed(
    'discord-10s',
    'fixed 10 s, 60 polls (bot)',
    'a public Discord video bot: every 10 s, gives up after 60 polls',
    10_000,
    { maxPolls: 60 },
  ),
  fixed('fixed-5s', 'fixed 5 s', 'a plain 5 s loop, no limit', 5_000),
];
