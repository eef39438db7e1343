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
      await this.events.emit(job, { type: 'timedOut' });
      return;
    }
    let task;
    try {
      task = await this.videos.getVideo(job.upstreamId!);
    } catch (err) {
      const failure = describeFailure(err);
      const gone = failure.status === 404;
      const updated = await this.events.emit(job, {
        type: 'pollFailed',
        failure: { gone, ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}) },
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
    if (task.status === 'unknown')
      this.log.warn({ jobId: job.id, status: task.rawStatus }, 'unknown upstream status; still polling');
    await this.events.emit(job, { type: 'polled', task });
  }
}
