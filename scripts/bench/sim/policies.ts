/**
 * Polling policies replayed by the benchmark: ours (the real functions from
 * src/services/poll-policy.ts and poll-prior.ts, fed exactly as JobWorker
 * feeds them and learning as the bot learns) and the peers described in
 * shared/facts/tuzi.md.
 */
import { nextPollDelay, type PollBounds, type PollSnapshot } from '../../../src/services/poll-policy.js';
import { EMPTY_PRIOR, type FinishedJob, type PollPrior, withFinishedJob } from '../../../src/services/poll-prior.js';
import type { Observation, SimGroup } from './jobs.js';
import type { Random } from './prng.js';

/** One job's polling loop. Times are ms since submission. */
export interface PolicyRun {
  /** Delay before the first GET, given the POST's answer; null = never poll. */
  afterSubmit(answer: Observation): number | null;
  /** After a GET at `atMs` that was not terminal: ms until the next GET, or null to give up. */
  afterPoll(atMs: number, seen: Observation, pollsSoFar: number): number | null;
  /** The GET at `atMs` saw the end. */
  ended?(atMs: number, seen: Observation): void;
}

/** What a policy knows of a job when it starts following it. */
export interface JobInfo {
  id: number;
  group: SimGroup;
  /** Submission time, ms since the start of the simulated day. */
  submitAt: number;
}

/** One bot process: what its jobs share (ours: the history it learns from). */
export interface Fleet {
  /** `rng` is this job's own jitter stream. */
  start(rng: Random, job: JobInfo): PolicyRun;
}

export interface PollingPolicy {
  id: string;
  label: string;
  /** One line: where the policy comes from and what it does. */
  note: string;
  /** A fresh process with no history. */
  fleet(): Fleet;
}

export const DEFAULT_BOUNDS: PollBounds = { minMs: 3_000, maxMs: 30_000 };
/** JOB_MAX_WAIT_MINUTES default: the worker times a job out after this. */
export const DEFAULT_MAX_WAIT_MS = 90 * 60_000;

type Next = (s: PollSnapshot, b: PollBounds, prior?: PollPrior) => number;

/**
 * Our policy, with the same state updates JobWorker makes: progress is the
 * max seen, capped at 99; progressChangedAt is when the current value was
 * first seen; startedAt/startedProgress are the first reading of the job
 * running; the worker adds 0–10% jitter after each poll (not after the
 * submit, where jobs.ts schedules the first poll without jitter).
 *
 * With `learn`, each job that ends is fed to the prior exactly as the bot
 * feeds it — the fields the 050 migration's trigger records: the progress
 * and its time before the end, the poll before the end, the poll that saw
 * it — through withFinishedJob, and the next polls of every job use it. The
 * prior starts empty: nothing about the simulated jobs is handed over.
 * (A job we time out would be recorded as censored; none times out here.)
 */
export function ourPolicy(
  opts: { bounds?: PollBounds; next?: Next; maxWaitMs?: number; learn?: boolean } = {},
): PollingPolicy {
  const { bounds = DEFAULT_BOUNDS, next = nextPollDelay, maxWaitMs = DEFAULT_MAX_WAIT_MS, learn = true } = opts;
  return {
    id: learn ? 'ours' : 'ours-no-history',
    label: learn ? 'ours (learned prior)' : 'ours, no history',
    note: learn
      ? `nextPollDelay with the prior learned online from earlier jobs, min ${bounds.minMs / 1000} s / max ${bounds.maxMs / 1000} s, +0–10% jitter, as JobWorker runs it`
      : 'the same without history (a new bot): the progress schedule alone',
    fleet() {
      let prior: PollPrior = EMPTY_PRIOR;
      return {
        start(rng, job) {
          const submittedAt = job.submitAt;
          const group = { model: job.group.model, seconds: job.group.seconds, size: job.group.size };
          let progress = 0;
          let progressChangedAt: number | null = null;
          let startedAt: number | null = null;
          let startedProgress: number | null = null;
          /** The row's last write: the previous poll (or the submission). */
          let lastWriteAt = submittedAt;
          const snapshot = (now: number): PollSnapshot => ({
            now,
            submittedAt,
            progress,
            progressChangedAt,
            startedAt,
            startedProgress,
            errorStreak: 0,
            ...group,
          });
          return {
            afterSubmit(answer) {
              progress = Math.max(0, Math.min(99, Math.round(answer.progress)));
              progressChangedAt = submittedAt;
              if (answer.status === 'in_progress' || progress > 0) {
                startedAt = submittedAt;
                startedProgress = progress;
              }
              return next(snapshot(submittedAt), bounds, learn ? prior : undefined);
            },
            afterPoll(atRel, seen) {
              const at = submittedAt + atRel;
              const p = Math.max(progress, Math.min(99, Math.round(seen.progress)));
              progressChangedAt = p !== progress || progressChangedAt === null ? at : progressChangedAt;
              progress = p;
              if (startedAt === null && (seen.status !== 'queued' || p > 0)) {
                startedAt = at;
                startedProgress = p;
              }
              lastWriteAt = at;
              const delay = Math.round(next(snapshot(at), bounds, learn ? prior : undefined) * (1 + 0.1 * rng()));
              // The worker checks the maximum wait before each GET and times the job out instead.
              return atRel + delay >= maxWaitMs ? null : delay;
            },
            ended(atRel, seen) {
              if (!learn) return;
              const record: FinishedJob = {
                jobId: job.id,
                ...group,
                submittedAt,
                startedAt,
                startedProgress,
                endProgress: progress,
                endProgressAt: progressChangedAt,
                prevPollAt: lastWriteAt,
                endedAt: submittedAt + atRel,
                outcome: seen.status === 'failed' ? 'failed' : 'completed',
              };
              prior = withFinishedJob(prior, record);
            },
          };
        },
      };
    },
  };
}

/** A policy whose jobs share nothing. */
function stateless(id: string, label: string, note: string, run: () => PolicyRun): PollingPolicy {
  return { id, label, note, fleet: () => ({ start: () => run() }) };
}

/** Fixed interval, optionally with a cap on polls. */
function fixed(
  id: string,
  label: string,
  note: string,
  intervalMs: number,
  opts: { maxPolls?: number; pollAtOnce?: boolean } = {},
): PollingPolicy {
  return stateless(id, label, note, () => ({
    afterSubmit: () => (opts.pollAtOnce ? 0 : intervalMs),
    afterPoll: (_at, _seen, polls) => (opts.maxPolls !== undefined && polls >= opts.maxPolls ? null : intervalMs),
  }));
}

export const PEER_POLICIES: readonly PollingPolicy[] = [
  fixed(
    'sdk-1s',
    'fixed 1 s (OpenAI SDK)',
    'openai-python create_and_poll: GET at once, then every 1 s, no limit',
    1_000,
    { pollAtOnce: true },
  ),
  stateless(
    'tuzi-client',
    '3→8 s, 8 min (Tuzi client)',
    'a public Tuzi client: waits 3, 4, 5, 6, 7 s, then 8 s; gives up once 8 minutes have passed',
    () => ({
      afterSubmit: () => 3_000,
      afterPoll: (at, _seen, polls) => {
        const delay = Math.min(8, 3 + polls) * 1000;
        return at + delay > 8 * 60_000 ? null : delay;
      },
    }),
  ),
  // Tuzi's own web client (ljquan/aitu, packages/drawnix/src/services/video-api-service.ts):
  // generateVideoWithPolling sleeps `interval = 5000` before each GET, `maxAttempts = 1080` ("90min at 5s interval").
  fixed('tuzi-web', 'fixed 5 s, 90 min (Tuzi web)', "Tuzi's own web client: every 5 s, at most 1,080 polls", 5_000, {
    maxPolls: 1_080,
  }),
  fixed(
    'discord-10s',
    'fixed 10 s, 60 polls (bot)',
    'a public Discord video bot: every 10 s, gives up after 60 polls',
    10_000,
    { maxPolls: 60 },
  ),
  fixed('fixed-10s', 'fixed 10 s', 'a plain 10 s loop, no limit (the reference of issue #16)', 10_000),
  fixed('fixed-5s', 'fixed 5 s', 'a plain 5 s loop, no limit', 5_000),
];
