import fs from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../clock.js';
import type { Job, JobsRepository } from '../db/jobs-repository.js';
import type { Logger } from '../logger.js';
import {
  failureReason,
  progressKey,
  renderDelivery,
  renderFailureNotice,
  renderJob,
  type MessageBody,
  type ProgressView,
} from '../ui/render.js';
import type { DiscordMessenger, SendOutcome } from './discord-messenger.js';
import type { JobLifecycleEvents } from './mod-log.js';
import type { VideoApi } from './video-api.js';
import { isRetryableUpstreamError } from './video-api.js';
import { TuziError } from './tuzi/errors.js';

export interface DeliveryOptions {
  /** Minimum spacing of progress edits of one message. */
  progressEditMs: number;
  /** Largest video the bot downloads; bigger ones are posted as links. */
  maxVideoBytes: number;
  /** Where videos wait between download and upload. */
  tempDir: string;
  /** The job's maximum wait, for the timed-out message. */
  jobMaxWaitMs: number;
  /** Delivery attempts before a job is given up as delivery_failed. */
  maxDeliveryAttempts: number;
  /** How long a claimed delivery may run before a restart may take it over. */
  leaseMs: number;
}

export type DeliveryResult = { done: true } | { done: false; retryInMs: number };

/**
 * What members see of a job after the command: throttled progress edits, the
 * final video (exactly once), and failures. Every step reads and writes the
 * job row, so a restart continues where the last process stopped.
 */
export class Delivery {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly messenger: DiscordMessenger,
    private readonly videos: VideoApi,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: DeliveryOptions,
    /** Told of every job that ends without a video (the moderator log). */
    private readonly events?: Pick<JobLifecycleEvents, 'failed'>,
  ) {}

  /**
   * Edits the reply when what the member sees changed and the last edit is
   * old enough. Returns whether an edit was made.
   */
  async showProgress(job: Job, view: ProgressView): Promise<boolean> {
    if (job.messageGone) return false;
    const key = progressKey(job.locale, view);
    const now = this.clock.now();
    if (key === job.shownKey) return false;
    if (job.shownAt !== null && now - job.shownAt < this.options.progressEditMs) return false;
    const outcome = await this.messenger.editReply(job, renderJob(job, view));
    this.noteEdit(job, outcome, key);
    return outcome.ok;
  }

  /** Shows a final state (failed, timed out, not started) on the reply, or in a new message if the reply is gone. */
  async showFailure(job: Job): Promise<void> {
    this.events?.failed(job);
    const body = renderJob(
      job,
      { status: job.status, progress: job.progress },
      failureReason(job, this.options.jobMaxWaitMs),
    );
    const outcome = await this.messenger.editReply(job, body);
    this.noteEdit(job, outcome, `final:${job.status}`);
    if (
      !outcome.ok &&
      (outcome.reason === 'gone' || outcome.reason === 'forbidden' || outcome.reason === 'token_expired')
    ) {
      const posted = await this.messenger.post(job, renderFailureNotice(job, this.options.jobMaxWaitMs));
      if (!posted.ok)
        this.log.warn({ jobId: job.id, reason: posted.reason }, 'could not tell the member that the job failed');
    }
  }

  /**
   * Posts the finished video exactly once. The claim (completed → delivering)
   * is written before anything is uploaded; a job found in `delivering`
   * (a crash, or an expired lease) first looks in the channel for a message
   * already posted for it.
   */
  async deliver(job: Job): Promise<DeliveryResult> {
    const now = this.clock.now();
    const claimed = this.jobs.transition(
      job.id,
      job.status === 'delivering' ? 'delivering' : 'completed',
      'delivering',
      {
        deliveryAttempts: job.deliveryAttempts + 1,
        deliveryClaimedAt: job.deliveryClaimedAt ?? now,
        nextRunAt: now + this.options.leaseMs,
      },
      now,
    );
    if (!claimed) return { done: true };

    if (job.status === 'delivering' && claimed.deliveryClaimedAt !== null && claimed.upstreamId) {
      const previous = await this.messenger.findPosted(claimed, claimed.deliveryClaimedAt, claimed.upstreamId);
      if ('found' in previous && previous.found) {
        this.log.info({ jobId: job.id }, 'video was already posted before the restart; recording it');
        return this.finish(claimed, previous.found, 'attachment');
      }
    }

    const tempFile = path.join(this.options.tempDir, `job-${job.id}.mp4`);
    try {
      return await this.upload(claimed, tempFile);
    } finally {
      await fs.rm(tempFile, { force: true });
    }
  }

  private async upload(job: Job, tempFile: string): Promise<DeliveryResult> {
    const nonce = `sora-job-${job.id}`;
    let size: number | undefined;
    let tooLarge = false;
    try {
      await fs.mkdir(this.options.tempDir, { recursive: true });
      const downloaded = await this.videos.downloadVideo(job.videoUrl ?? job.upstreamId!, tempFile, {
        maxBytes: Math.min(this.options.maxVideoBytes, Math.max(job.attachmentSizeLimit, 1)),
      });
      size = downloaded.bytes;
    } catch (err) {
      tooLarge = err instanceof TuziError && err.kind === 'too_large';
      if (!tooLarge && isRetryableUpstreamError(err)) return this.retryLater(job, err);
      if (!tooLarge) this.log.warn({ jobId: job.id, err }, 'video download failed; falling back to the link');
    }

    if (size !== undefined) {
      const outcome = await this.messenger.post(
        job,
        renderDelivery(job, null),
        { path: tempFile, name: videoFileName(job), contentType: 'video/mp4' },
        nonce,
      );
      if (outcome.ok) return this.finish(job, outcome.messageId, 'attachment');
      if (outcome.reason !== 'too_large') return this.postFailed(job, outcome);
      tooLarge = true;
    }
    if (!job.videoUrl) return this.giveUp(job, 'no video_url to link to');
    const outcome = await this.messenger.post(
      job,
      renderDelivery(job, { url: job.videoUrl, tooLarge, ...(size !== undefined ? { size } : {}) }),
      undefined,
      `${nonce}-l`,
    );
    if (outcome.ok) return this.finish(job, outcome.messageId, 'link');
    return this.postFailed(job, outcome);
  }

  private async finish(job: Job, messageId: string, mode: 'attachment' | 'link'): Promise<DeliveryResult> {
    const now = this.clock.now();
    const done = this.jobs.transition(
      job.id,
      'delivering',
      'delivered',
      { deliveredMessageId: messageId, deliveryMode: mode, finishedAt: now, nextRunAt: null },
      now,
    );
    if (done) await this.showDelivered(done);
    return { done: true };
  }

  /** Turns the progress reply into a pointer to the video message. */
  private async showDelivered(job: Job): Promise<void> {
    const body: MessageBody = renderJob(job, { status: 'delivered', progress: 100 });
    const outcome = await this.messenger.editReply(job, body);
    this.noteEdit(job, outcome, 'final:delivered');
  }

  private async postFailed(job: Job, outcome: Exclude<SendOutcome, { ok: true }>): Promise<DeliveryResult> {
    if (outcome.reason === 'transient') return this.retryLater(job, new Error(outcome.detail));
    return this.giveUp(job, `Discord refused the post: ${outcome.reason}`);
  }

  private async retryLater(job: Job, err: unknown): Promise<DeliveryResult> {
    const now = this.clock.now();
    if (job.deliveryAttempts >= this.options.maxDeliveryAttempts) return this.giveUp(job, String(err));
    const retryInMs = Math.min(5 * 60_000, 5_000 * 2 ** job.deliveryAttempts);
    this.jobs.transition(job.id, 'delivering', 'completed', { nextRunAt: now + retryInMs }, now);
    this.log.warn({ jobId: job.id, attempt: job.deliveryAttempts, err }, 'delivery failed; will retry');
    return { done: false, retryInMs };
  }

  private async giveUp(job: Job, why: string): Promise<DeliveryResult> {
    const now = this.clock.now();
    const failed = this.jobs.transition(
      job.id,
      'delivering',
      'delivery_failed',
      { finishedAt: now, nextRunAt: null, errorMessage: why },
      now,
    );
    this.log.error({ jobId: job.id, why }, 'delivery given up');
    if (failed) await this.showFailure(failed);
    return { done: true };
  }

  private noteEdit(job: Job, outcome: SendOutcome, key: string): void {
    const now = this.clock.now();
    if (outcome.ok) {
      this.jobs.patch(
        job.id,
        { shownKey: key, shownAt: now, ...(job.messageId ? {} : { messageId: outcome.messageId }) },
        now,
      );
    } else if (outcome.reason === 'gone' || outcome.reason === 'forbidden') {
      this.jobs.patch(job.id, { messageGone: true }, now);
    } else if (outcome.reason === 'token_expired') {
      this.jobs.patch(job.id, { interactionToken: null }, now);
    } else if (outcome.reason !== 'transient') {
      this.log.debug({ jobId: job.id, outcome }, 'progress edit refused');
    }
  }
}

function videoFileName(job: Job): string {
  return `sora-${job.id}.mp4`;
}
