import type { Clock } from '../clock.js';
import type { Job, JobsRepository } from '../db/jobs-repository.js';
import type { Logger } from '../logger.js';
import type { Delivery } from './delivery.js';
import { estimateRemainingMs, nextPollDelay, type PollBounds } from './poll-policy.js';
import { isRetryableUpstreamError, retryAfterMs, upstreamStatus, type VideoApi } from './video-api.js';

export interface JobWorkerOptions extends PollBounds {
  /** After this long since submission, a job is timed out. */
  maxWaitMs: number;
}

/**
 * One step of one job: poll upstream, update the row and the reply, hand a
 * finished video to delivery. The poller decides when; this decides what.
 * Transient upstream errors only delay the next step; they never fail a job.
 */
export class JobWorker {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly videos: VideoApi,
    private readonly delivery: Delivery,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: JobWorkerOptions,
    private readonly random: () => number = Math.random,
  ) {}

  async step(job: Job): Promise<void> {
    switch (job.status) {
      case 'queued':
      case 'in_progress':
        return this.poll(job);
      case 'completed':
      case 'delivering':
        await this.delivery.deliver(job);
        return;
      default:
        // Not the poller's business any more (a concurrent transition won).
        return;
    }
  }

  private async poll(job: Job): Promise<void> {
    const now = this.clock.now();
    const submittedAt = job.submittedAt ?? job.createdAt;
    if (now - submittedAt >= this.options.maxWaitMs) {
      const timedOut = this.jobs.transition(
        job.id,
        ['queued', 'in_progress'],
        'timed_out',
        { finishedAt: now, nextRunAt: null },
        now,
      );
      if (timedOut) await this.delivery.showFailure(timedOut);
      return;
    }

    let task;
    try {
      task = await this.videos.getVideo(job.upstreamId!);
    } catch (err) {
      return this.pollFailed(job, err);
    }
    const at = this.clock.now();
    if (task.status === 'completed') {
      const done = this.jobs.transition(
        job.id,
        ['queued', 'in_progress'],
        'completed',
        { progress: 100, videoUrl: task.videoUrl ?? null, errorStreak: 0, pollCount: job.pollCount + 1, nextRunAt: at },
        at,
      );
      if (done) await this.delivery.deliver(done);
      return;
    }
    if (task.status === 'failed') {
      const failed = this.jobs.transition(
        job.id,
        ['queued', 'in_progress'],
        'failed',
        {
          errorCode: task.error?.code ?? null,
          errorMessage: task.error?.message ?? null,
          finishedAt: at,
          nextRunAt: null,
          pollCount: job.pollCount + 1,
        },
        at,
      );
      if (failed) await this.delivery.showFailure(failed);
      return;
    }

    // queued, in_progress, or a status we do not know yet: keep following it.
    const status = task.status === 'queued' ? 'queued' : 'in_progress';
    const progress = Math.max(job.progress, Math.min(99, Math.round(task.progress)));
    const progressChangedAt = progress !== job.progress || job.progressChangedAt === null ? at : job.progressChangedAt;
    // The first reading of the job running anchors the time-left estimate.
    const start =
      job.startedAt === null && (status === 'in_progress' || progress > 0)
        ? { startedAt: at, startedProgress: progress }
        : undefined;
    const snapshot = {
      now: at,
      submittedAt,
      progress,
      progressChangedAt,
      startedAt: job.startedAt,
      startedProgress: job.startedProgress,
      ...start,
      errorStreak: 0,
    };
    const delay = this.jitter(nextPollDelay(snapshot, this.options));
    const updated = this.jobs.transition(
      job.id,
      ['queued', 'in_progress'],
      status,
      {
        progress,
        progressChangedAt,
        ...start, // written once, at the first reading of the job running
        errorStreak: 0,
        pollCount: job.pollCount + 1,
        nextRunAt: at + delay,
      },
      at,
    );
    if (!updated) return;
    if (task.status === 'unknown')
      this.log.warn({ jobId: job.id, status: task.rawStatus }, 'unknown upstream status; still polling');
    const etaMs = estimateRemainingMs(snapshot);
    await this.delivery.showProgress(updated, {
      status,
      progress,
      ...(etaMs !== undefined && etaMs > 0 ? { etaMs } : {}),
    });
  }

  private async pollFailed(job: Job, err: unknown): Promise<void> {
    const now = this.clock.now();
    const status = upstreamStatus(err);
    if (status === 404) {
      // The task is unknown upstream: waiting longer cannot help.
      const failed = this.jobs.transition(
        job.id,
        ['queued', 'in_progress'],
        'failed',
        {
          errorCode: 'not_found',
          errorMessage: 'The video service no longer knows this task.',
          finishedAt: now,
          nextRunAt: null,
        },
        now,
      );
      if (failed) await this.delivery.showFailure(failed);
      return;
    }
    // Everything else (network, 429, 5xx, and even 401/403, which an operator
    // can fix by correcting the key) waits and tries again until the maximum wait.
    const errorStreak = job.errorStreak + 1;
    const backoff = nextPollDelay(
      {
        now,
        submittedAt: job.submittedAt ?? job.createdAt,
        progress: job.progress,
        progressChangedAt: job.progressChangedAt,
        errorStreak,
      },
      this.options,
    );
    const delay = Math.max(this.jitter(backoff), retryAfterMs(err) ?? 0);
    this.jobs.patch(job.id, { errorStreak, nextRunAt: now + delay }, now, ['queued', 'in_progress']);
    const level = isRetryableUpstreamError(err) ? 'warn' : 'error';
    this.log[level]({ jobId: job.id, err, errorStreak, retryInMs: delay }, 'poll failed; will retry');
  }

  /** Up to 10% random spread, so jobs started together do not poll in lockstep. */
  private jitter(ms: number): number {
    return Math.round(ms * (1 + 0.1 * this.random()));
  }
}
