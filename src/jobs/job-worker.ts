import type { Clock } from '../clock.js';
import type { Job } from '../db/jobs-repository.js';
import type { Logger } from '../logger.js';
import { describeFailure, type VideoApi } from '../services/video-api.js';
import type { Delivery } from './delivery.js';
import type { JobEvents } from './job-events.js';
import { isIn, pastDeadline, type LifecycleRules } from './lifecycle.js';

/**
 * One step of one job, as the scheduler hands it over: a status check while
 * upstream makes the video, the delivery once it is made. The poller decides
 * when; the lifecycle decides what the answer means. Transient upstream
 * errors only delay the next step; they never fail a job.
 */
export class JobWorker {
  /**
   * The unrecognised status last logged per job, so a relay's new word is
   * logged once per job (and again only if it changes), not on every poll.
   * Entries go when the job's status is recognised again or it stops being polled.
   */
  private readonly unknownLogged = new Map<number, string>();

  constructor(
    private readonly events: JobEvents,
    private readonly videos: VideoApi,
    private readonly delivery: Delivery,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly rules: Pick<LifecycleRules, 'maxWaitMs'>,
  ) {}

  async step(job: Job): Promise<void> {
    if (isIn(job.status, 'polled')) return this.poll(job);
    if (isIn(job.status, 'hasVideo') && isIn(job.status, 'scheduled')) return this.delivery.deliver(job);
    // Not the scheduler's business any more (a concurrent event moved it on).
  }

  private async poll(job: Job): Promise<void> {
    if (pastDeadline(job, this.clock.now(), this.rules)) {
      this.unknownLogged.delete(job.id);
      await this.events.emit(job, { type: 'timedOut' });
      return;
    }
    let task;
    try {
      task = await this.videos.getVideo(job.upstreamId!);
    } catch (err) {
      const failure = describeFailure(err);
      const gone = failure.taskGone !== undefined;
      if (gone) {
        this.unknownLogged.delete(job.id);
        this.log.warn(
          { jobId: job.id, status: failure.status, code: failure.code },
          'upstream no longer knows the task',
        );
      }
      const updated = await this.events.emit(job, {
        type: 'pollFailed',
        failure: {
          gone,
          ...(failure.taskGone ? { goneCode: failure.taskGone } : {}),
          ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
        },
      });
      if (updated && !gone)
        this.log[failure.retryable ? 'warn' : 'error'](
          {
            jobId: job.id,
            err,
            errorStreak: updated.errorStreak,
            retryInMs: (updated.nextRunAt ?? 0) - this.clock.now(),
          },
          'poll failed; will retry',
        );
      return;
    }
    if (task.status === 'unknown') {
      if (this.unknownLogged.get(job.id) !== task.rawStatus) {
        this.unknownLogged.set(job.id, task.rawStatus);
        this.log.warn({ jobId: job.id, status: task.rawStatus }, 'unknown upstream status; still polling');
      }
    } else {
      this.unknownLogged.delete(job.id);
    }
    await this.events.emit(job, { type: 'polled', task });
  }
}
