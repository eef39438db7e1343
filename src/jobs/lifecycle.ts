import type { Job, JobPatch } from '../db/jobs-repository.js';
import type { VideoTask } from '../services/tuzi/types.js';

/**
 * The job lifecycle, whole: every status with the groups it belongs to, every
 * event with the statuses it may happen in, and one pure function that turns
 * (job, event) into the next status, the row patch and the effects to run.
 * Services apply events (src/jobs/job-events.ts) and never pick a status
 * themselves; SQL lists, the scheduler's partial index, the status trigger and
 * the UI's guards are all derived from the table below.
 *
 * ```
 *   waiting ──claimSubmission──▶ submitting ──accepted──▶ queued ⇄ in_progress ──polled(done)──▶ completed ──claimDelivery──▶ delivering ──posted──▶ delivered
 *    │   ▲                        │    │                      │          │                           ▲                             │
 *    │   └──────requeued──────────┘  abandoned       polled(failed) / pollFailed(gone) / timedOut    └──────retryDelivery─────────┤
 *    ▼ cancel                          ▼                      ▼                   ▼ cancel                                       ▼ giveUp
 *   withdrawn                     submit_failed       failed · timed_out      cancelled                                   delivery_failed
 * ```
 */

/** The questions the code asks about a status. Each status lists the groups it belongs to. */
export const GROUPS = {
  /** In the bot's own line for upstream capacity, not sent yet (the jobs_line index covers exactly these). */
  inLine: 'waits in the line for upstream capacity',
  /** Holds one of the provider's running-job slots for this key (counted against TUZI_MAX_RUNNING_JOBS). */
  usesCapacity: 'holds an upstream running-job slot',
  /** The scheduler owns it: it has a `next_run_at` and a step to run (the jobs_due index covers exactly these). */
  scheduled: 'the poller runs a step for it',
  /** Upstream is still making it: its step is a status check. */
  polled: 'its step asks upstream how far it is',
  /** Counts toward the member's `max_active`. */
  holdsSlot: 'counts toward the unfinished-jobs limit',
  /** Counts toward the member's daily limit (it was, or is being, sent upstream). */
  countsToday: 'counts toward the daily limit',
  /** Upstream made the video: follow-up buttons and character reuse apply. */
  hasVideo: 'a video exists upstream',
  /** Nothing runs for it any more. */
  ended: 'nothing runs for it any more',
  /** Ended without a posted video: the reason is shown. */
  failure: 'ended without a posted video',
  /** A member or moderator may cancel it. */
  cancellable: 'may be cancelled',
} as const;
export type StatusGroup = keyof typeof GROUPS;

interface StatusSpec {
  readonly groups: readonly StatusGroup[];
  /** What the row means in this status, for readers and the README. */
  readonly means: string;
}

export const STATUSES = {
  waiting: {
    groups: ['inLine', 'holdsSlot', 'countsToday', 'cancellable'],
    means: 'the row is written; it waits in a fair line for upstream capacity (nothing sent, nothing paid)',
  },
  submitting: {
    groups: ['usesCapacity', 'holdsSlot', 'countsToday'],
    means: 'the one POST upstream is under way (left by a crash: interrupted, never resent)',
  },
  submit_failed: { groups: ['ended', 'failure'], means: 'upstream never took it (refused, unavailable, unknown)' },
  queued: {
    groups: ['scheduled', 'polled', 'usesCapacity', 'holdsSlot', 'countsToday', 'cancellable'],
    means: 'accepted upstream, waiting there',
  },
  in_progress: {
    groups: ['scheduled', 'polled', 'usesCapacity', 'holdsSlot', 'countsToday', 'cancellable'],
    means: 'upstream is making it',
  },
  completed: { groups: ['scheduled', 'hasVideo', 'countsToday'], means: 'the video is ready; the post is due' },
  delivering: {
    groups: ['scheduled', 'hasVideo', 'countsToday'],
    means: 'one process holds the delivery lease and is posting the video',
  },
  delivered: { groups: ['ended', 'hasVideo', 'countsToday'], means: 'the video message exists; its id is recorded' },
  delivery_failed: {
    groups: ['ended', 'failure', 'hasVideo', 'countsToday'],
    means: 'made, but could not be posted after every attempt',
  },
  failed: { groups: ['ended', 'failure', 'countsToday'], means: 'upstream failed it, or forgot it' },
  timed_out: { groups: ['ended', 'failure', 'countsToday'], means: 'not ready by its deadline' },
  withdrawn: { groups: ['ended', 'failure'], means: 'cancelled while in line: never sent, never counted' },
  cancelled: {
    groups: ['ended', 'failure', 'countsToday'],
    means: 'cancelled after it was sent: no longer followed (the provider is asked to stop it)',
  },
} as const satisfies Record<string, StatusSpec>;

export type JobStatus = keyof typeof STATUSES;
export const JOB_STATUSES = Object.keys(STATUSES) as JobStatus[];

const MEMBERS = new Map<StatusGroup, readonly JobStatus[]>(
  (Object.keys(GROUPS) as StatusGroup[]).map((g) => [
    g,
    JOB_STATUSES.filter((s) => (STATUSES[s].groups as readonly StatusGroup[]).includes(g)),
  ]),
);

/** The statuses of a group, in table order. */
export function statusesIn(group: StatusGroup): readonly JobStatus[] {
  return MEMBERS.get(group)!;
}

/** Statuses outside a group (e.g. `statusesOutside('ended')`: every job still active). */
export function statusesOutside(group: StatusGroup): readonly JobStatus[] {
  const inside = statusesIn(group);
  return JOB_STATUSES.filter((s) => !inside.includes(s));
}

export function isIn(status: JobStatus, group: StatusGroup): boolean {
  return statusesIn(group).includes(status);
}

/** Why a submission ended before upstream took it. */
export type AbandonCode =
  /** Upstream refused the request (4xx): nothing was made. */
  | 'rejected'
  /** Rate-limited, or the request never left: nothing was made. */
  | 'unavailable'
  /** The provider does not serve the model (any more): nothing was made; moderators should change the catalogue. */
  | 'model_unavailable'
  /** No answer or a 5xx: a video may exist that cannot be followed; never resent. */
  | 'unknown'
  /** Left in `submitting` by a stop or a crash: it may exist upstream; never resent. */
  | 'interrupted'
  /** Discord refused the acknowledgement: the member saw nothing. */
  | 'ack_failed'
  /** The reference image could not be fetched: the member is told privately. */
  | 'image_unreadable'
  /** Left in line half-prepared by a stop (its image never stored): never sent, nothing paid. */
  | 'not_prepared';

/** Codes whose explanation is private (the interaction's own error path), not an edit of the public reply. */
const PRIVATE_ABANDON: ReadonlySet<AbandonCode> = new Set(['ack_failed', 'image_unreadable']);

/**
 * How upstream said it no longer has the task: `not_found` (404), new-api's
 * `task_not_exist` (400), or `result_deleted` (410, the result was deleted).
 */
export type GoneCode = 'not_found' | 'task_not_exist' | 'result_deleted';

/** The status a new job's row is written in. */
export const INITIAL_STATUS: JobStatus = 'waiting';

/** A failed status check, as the lifecycle needs it. */
export interface PollFailure {
  /** Upstream does not know the task (any more): waiting cannot help. */
  gone: boolean;
  /** Which answer said so (default `not_found`); recorded as the job's error code. */
  goneCode?: GoneCode;
  /** How long upstream asked us to wait, when it said. */
  retryAfterMs?: number;
}

export type JobEvent =
  /** The line's turn came and capacity is free: the dispatcher takes it to send. */
  | { type: 'claimSubmission' }
  /** The provider refused the POST without making anything (full, rate-limited, out of balance): back in line. */
  | { type: 'requeued'; reason: string }
  /** A member or moderator cancelled it (`by`: their user id). */
  | { type: 'cancel'; by: string }
  | { type: 'accepted'; task: VideoTask }
  | { type: 'abandoned'; code: AbandonCode; message: string }
  | { type: 'polled'; task: VideoTask }
  | { type: 'pollFailed'; failure: PollFailure }
  | { type: 'timedOut' }
  | { type: 'claimDelivery' }
  | { type: 'postAttempted' }
  | { type: 'posted'; messageId: string; mode: 'attachment' | 'link' }
  /**
   * The post did not happen now. `waitMs`: Discord asked for a wait (a rate
   * limit); such a retry is not a failure, so it uses up no attempt.
   */
  | { type: 'retryDelivery'; reason: string; waitMs?: number }
  /** `code`: why, for what the member is shown (e.g. `link_expired`: no link to offer). */
  | { type: 'giveUp'; reason: string; code?: string };
export type JobEventType = JobEvent['type'];

/** The statuses each event may happen in; any other (status, event) pair is refused. */
export const EVENT_SOURCES: { readonly [E in JobEventType]: readonly JobStatus[] } = {
  claimSubmission: ['waiting'],
  requeued: ['submitting'],
  cancel: statusesIn('cancellable'),
  accepted: ['submitting'],
  abandoned: ['waiting', 'submitting'],
  polled: statusesIn('polled'),
  pollFailed: statusesIn('polled'),
  timedOut: statusesIn('polled'),
  claimDelivery: ['completed', 'delivering'],
  postAttempted: ['delivering'],
  posted: ['delivering'],
  retryDelivery: ['delivering'],
  giveUp: ['delivering'],
};

/** What a service runs after the row changed. */
export type Effect =
  /** The scheduler should look at the database again now. */
  | { type: 'wake' }
  /** Upstream capacity was freed, or the line changed: the dispatcher should look again. */
  | { type: 'dispatch' }
  /** The reply shows the job's progress (throttled, only when what it shows changed). */
  | { type: 'showProgress' }
  /** The reply shows how the job ended (the failure reason, or where the video is). */
  | { type: 'showOutcome' };

export interface Step {
  from: JobStatus;
  to: JobStatus;
  patch: JobPatch;
  effects: Effect[];
}

export type Decision = { ok: true; step: Step } | { ok: false; reason: string };

/** What the schedule needs to know to pick the next poll. */
export interface PollState {
  now: number;
  /** Which history applies to it. */
  model: string;
  seconds: number;
  size: string;
  submittedAt: number;
  progress: number;
  progressChangedAt: number | null;
  startedAt: number | null;
  startedProgress: number | null;
  errorStreak: number;
}

/** The tunables the transitions use; injected so tests and the benchmark decide the same way. */
export interface LifecycleRules {
  /** A job not done this long after submission times out (stored on the row as its deadline). */
  maxWaitMs: number;
  /** How long a claimed delivery belongs to its claimer before another pass may take it over. */
  leaseMs: number;
  /** Delivery attempts before a job is given up as delivery_failed. */
  maxDeliveryAttempts: number;
  /** Milliseconds until the next status check, from the state the row will have (jitter included). */
  pollDelay(state: PollState, retryAfterMs?: number): number;
}

/** The job's deadline; rows from before deadlines were stored fall back to the rule. */
export function deadlineOf(job: Job, rules: Pick<LifecycleRules, 'maxWaitMs'>): number {
  return job.deadlineAt ?? (job.submittedAt ?? job.createdAt) + rules.maxWaitMs;
}

export function pastDeadline(job: Job, now: number, rules: Pick<LifecycleRules, 'maxWaitMs'>): boolean {
  return now >= deadlineOf(job, rules);
}

/** The backoff between delivery attempts: 5 s · 2^attempts, at most 5 minutes. */
export function deliveryRetryDelay(attempts: number): number {
  return Math.min(5 * 60_000, 5_000 * 2 ** attempts);
}

/**
 * An upstream task as the row records it — the one place a task becomes row
 * fields, for the first answer (create) and every status check after.
 */
function taskPatch(job: Job, task: VideoTask, now: number): { status: 'queued' | 'in_progress'; patch: JobPatch } {
  const status = task.status === 'queued' ? 'queued' : 'in_progress';
  // Progress never goes back, and 100 means "completed", which only the status says.
  const progress = Math.max(job.progress, Math.min(99, Math.round(task.progress)));
  const patch: JobPatch = {
    progress,
    progressChangedAt: progress !== job.progress || job.progressChangedAt === null ? now : job.progressChangedAt,
  };
  // The first reading of the job running anchors the time-left estimate; written once.
  if (job.startedAt === null && (status === 'in_progress' || progress > 0)) {
    patch.startedAt = now;
    patch.startedProgress = progress;
  }
  return { status, patch };
}

function pollState(job: Job, patch: JobPatch, now: number): PollState {
  const merged = { ...job, ...patch };
  return {
    now,
    model: merged.model,
    seconds: merged.seconds,
    size: merged.size,
    submittedAt: merged.submittedAt ?? merged.createdAt,
    progress: merged.progress,
    progressChangedAt: merged.progressChangedAt,
    startedAt: merged.startedAt,
    startedProgress: merged.startedProgress,
    errorStreak: merged.errorStreak,
  };
}

const ended = (now: number): JobPatch => ({ finishedAt: now, nextRunAt: null });

/** How a job left polling, kept for the learned prior (poll-prior.ts): when, from where, after which check. */
const leftPolling = (job: Job, now: number): JobPatch => ({
  endedAt: now,
  endProgress: job.progress,
  endProgressAt: job.progressChangedAt,
  endPrevPollAt: job.lastPolledAt,
});

/**
 * The lifecycle's one decision: what `event` does to `job` at `now`. Pure: the
 * same row, event and rules always give the same step, so it can be tested
 * whole and replayed by the benchmarks.
 */
export function decide(job: Job, event: JobEvent, now: number, rules: LifecycleRules): Decision {
  if (!EVENT_SOURCES[event.type].includes(job.status))
    return { ok: false, reason: `${event.type} cannot happen in ${job.status}` };
  const step = (to: JobStatus, patch: JobPatch, effects: Effect[] = []): Decision => {
    // Whatever frees an upstream slot, or changes who is in line, lets the dispatcher look again.
    const linesMoved =
      (isIn(job.status, 'usesCapacity') && !isIn(to, 'usesCapacity')) ||
      isIn(job.status, 'inLine') !== isIn(to, 'inLine');
    return {
      ok: true,
      step: { from: job.status, to, patch, effects: linesMoved ? [...effects, { type: 'dispatch' }] : effects },
    };
  };

  switch (event.type) {
    case 'claimSubmission':
      return step('submitting', {});
    case 'requeued':
      // Nothing was made, so the same request may go again; its place in line (its id) is kept.
      // What the reply shows (its place in line) is the dispatcher's to update.
      return step('waiting', { errorMessage: event.reason });
    case 'cancel':
      if (isIn(job.status, 'inLine'))
        return step('withdrawn', { cancelledBy: event.by, ...ended(now) }, [{ type: 'showOutcome' }]);
      return step('cancelled', { cancelledBy: event.by, ...ended(now) }, [{ type: 'showOutcome' }]);
    case 'accepted': {
      const { status, patch } = taskPatch(job, event.task, now);
      const accepted: JobPatch = {
        ...patch,
        upstreamId: event.task.id,
        submittedAt: now,
        deadlineAt: now + rules.maxWaitMs,
        lastPolledAt: now,
        errorStreak: 0,
        errorMessage: null,
      };
      accepted.nextRunAt = now + rules.pollDelay(pollState(job, accepted, now));
      return step(status, accepted, [{ type: 'wake' }, { type: 'showProgress' }]);
    }
    case 'abandoned':
      return step(
        'submit_failed',
        { errorCode: event.code, errorMessage: event.message, ...ended(now) },
        PRIVATE_ABANDON.has(event.code) ? [] : [{ type: 'showOutcome' }],
      );
    case 'polled': {
      const pollCount = job.pollCount + 1;
      const { task } = event;
      if (task.status === 'completed')
        return step(
          'completed',
          {
            progress: 100,
            videoUrl: task.videoUrl ?? null,
            errorStreak: 0,
            pollCount,
            nextRunAt: now,
            lastPolledAt: now,
            ...leftPolling(job, now),
          },
          [{ type: 'wake' }],
        );
      if (task.status === 'failed')
        return step(
          'failed',
          {
            errorCode: task.error?.code ?? null,
            // An empty reason (a bare `cancelled`) is no reason: the status's own text is shown.
            errorMessage: task.error?.message || null,
            pollCount,
            lastPolledAt: now,
            ...leftPolling(job, now),
            ...ended(now),
          },
          [{ type: 'showOutcome' }],
        );
      // queued, in_progress, or a status not known yet: keep following it.
      const { status, patch } = taskPatch(job, task, now);
      const polled: JobPatch = { ...patch, errorStreak: 0, pollCount, lastPolledAt: now };
      polled.nextRunAt = now + rules.pollDelay(pollState(job, polled, now));
      return step(status, polled, [{ type: 'showProgress' }]);
    }
    case 'pollFailed': {
      if (event.failure.gone)
        return step(
          'failed',
          {
            errorCode: event.failure.goneCode ?? 'not_found',
            errorMessage:
              event.failure.goneCode === 'result_deleted'
                ? 'The video service deleted the result of this task.'
                : 'The video service no longer knows this task.',
            ...ended(now),
          },
          [{ type: 'showOutcome' }],
        );
      // Everything else (network, 429, 5xx, even 401/403, which an operator can
      // fix) waits and tries again until the deadline.
      const errorStreak = job.errorStreak + 1;
      const delay = rules.pollDelay(pollState(job, { errorStreak }, now), event.failure.retryAfterMs);
      return step(job.status, { errorStreak, nextRunAt: now + delay });
    }
    case 'timedOut':
      return step('timed_out', { deadlineAt: deadlineOf(job, rules), ...leftPolling(job, now), ...ended(now) }, [
        { type: 'showOutcome' },
      ]);
    case 'claimDelivery':
      return step('delivering', {
        deliveryAttempts: job.deliveryAttempts + 1,
        deliveryClaimedAt: job.deliveryClaimedAt ?? now,
        nextRunAt: now + rules.leaseMs,
      });
    case 'postAttempted':
      // Recorded before the request goes out: from now on, every later attempt
      // (a retry, a restart, a lease taken over) looks in the channel first.
      return step('delivering', { postAttemptedAt: job.postAttemptedAt ?? now });
    case 'posted':
      return step('delivered', { deliveredMessageId: event.messageId, deliveryMode: event.mode, ...ended(now) }, [
        { type: 'showOutcome' },
      ]);
    case 'retryDelivery':
      if (event.waitMs !== undefined)
        return step('completed', {
          nextRunAt: now + event.waitMs,
          deliveryAttempts: Math.max(0, job.deliveryAttempts - 1),
        });
      if (job.deliveryAttempts >= rules.maxDeliveryAttempts)
        return step('delivery_failed', { errorMessage: event.reason, ...ended(now) }, [{ type: 'showOutcome' }]);
      return step('completed', { nextRunAt: now + deliveryRetryDelay(job.deliveryAttempts) });
    case 'giveUp':
      return step(
        'delivery_failed',
        { errorMessage: event.reason, ...(event.code ? { errorCode: event.code } : {}), ...ended(now) },
        [{ type: 'showOutcome' }],
      );
  }
}
