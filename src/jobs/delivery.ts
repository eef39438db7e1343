import fs from 'node:fs/promises';
import path from 'node:path';
import type { Job } from '../db/jobs-repository.js';
import type { Logger } from '../logger.js';
import type { DiscordMessenger, SendOutcome } from '../services/discord-messenger.js';
import { describeFailure, type VideoApi } from '../services/video-api.js';
import { renderDelivery } from '../ui/render.js';
import { deliveryModeOf } from './delivery-marker.js';
import type { JobEvents } from './job-events.js';

export interface DeliveryOptions {
  /** Largest video the bot downloads; bigger ones are posted as links. */
  maxVideoBytes: number;
  /** Where videos wait between download and upload. */
  tempDir: string;
  /** Told of each video posted, with its size when it was uploaded (metrics). */
  delivered?: (mode: 'attachment' | 'link', bytes: number | undefined) => void;
}

/**
 * Posts a finished video exactly once. The claim (completed → delivering) is
 * written before anything is uploaded, and the fact that a post went out is
 * written before it goes: whenever a post may have reached Discord (a lost
 * answer, a crash, an expired lease), the next attempt first looks in the
 * channel for it, and a failed look is retried, never taken for "not posted".
 */
export class Delivery {
  constructor(
    private readonly events: JobEvents,
    private readonly messenger: DiscordMessenger,
    private readonly videos: VideoApi,
    private readonly log: Logger,
    private readonly options: DeliveryOptions,
  ) {}

  async deliver(job: Job): Promise<void> {
    const claimed = await this.events.emit(job, { type: 'claimDelivery' });
    if (!claimed) return;
    if (claimed.postAttemptedAt !== null) {
      const look = await this.messenger.findPosted(claimed, claimed.postAttemptedAt);
      if ('error' in look) {
        this.log.warn(
          { jobId: job.id, why: look.error },
          'could not check whether the video was posted; will look again',
        );
        await this.events.emit(claimed, {
          type: 'retryDelivery',
          reason: `could not check the channel: ${look.error}`,
        });
        return;
      }
      if (look.found) {
        this.log.info({ jobId: job.id }, 'the video was already posted; recording it');
        this.options.delivered?.(deliveryModeOf(look.found), undefined);
        await this.events.emit(claimed, { type: 'posted', messageId: look.found.id, mode: deliveryModeOf(look.found) });
        return;
      }
    }
    const tempFile = path.join(this.options.tempDir, `job-${job.id}.mp4`);
    try {
      await this.upload(claimed, tempFile);
    } finally {
      await fs.rm(tempFile, { force: true });
    }
  }

  private async upload(job: Job, tempFile: string): Promise<void> {
    const download = await this.download(job, tempFile);
    if (download === 'retrying') return;
    let tooLarge = download.tooLarge;
    if (download.size !== undefined) {
      const file = { path: tempFile, name: `sora-${job.id}.mp4`, contentType: 'video/mp4' };
      const sent = await this.post(job, 'attachment', download.size, (j) =>
        this.messenger.post(j, renderDelivery(j, null), file, `sora-job-${j.id}`),
      );
      if (sent !== 'too_large') return;
      tooLarge = true;
    }
    if (!job.videoUrl) {
      await this.events.emit(job, { type: 'giveUp', reason: 'no video_url to link to' });
      return;
    }
    const link = { url: job.videoUrl, tooLarge, ...(download.size !== undefined ? { size: download.size } : {}) };
    await this.post(job, 'link', undefined, (j) =>
      this.messenger.post(j, renderDelivery(j, link), undefined, `sora-job-${j.id}-l`),
    );
  }

  /** The video in `tempFile` (its size), or why there is none: too large, unreadable, or a retry was scheduled. */
  private async download(job: Job, tempFile: string): Promise<{ size?: number; tooLarge: boolean } | 'retrying'> {
    try {
      await fs.mkdir(this.options.tempDir, { recursive: true });
      const downloaded = await this.videos.downloadVideo(job.videoUrl ?? job.upstreamId!, tempFile, {
        maxBytes: Math.min(this.options.maxVideoBytes, Math.max(job.attachmentSizeLimit, 1)),
      });
      return { size: downloaded.bytes, tooLarge: false };
    } catch (err) {
      const failure = describeFailure(err);
      if (failure.tooLarge) return { tooLarge: true };
      if (failure.retryable) {
        this.log.warn({ jobId: job.id, err }, 'video download failed; will retry');
        await this.events.emit(job, { type: 'retryDelivery', reason: failure.message });
        return 'retrying';
      }
      this.log.warn({ jobId: job.id, err }, 'video download failed; falling back to the link');
      return { tooLarge: false };
    }
  }

  /**
   * Records that a post goes out, sends it, and records how it went. An
   * attachment over the limit is handed back to the caller (a link follows);
   * every other outcome ends here.
   */
  private async post(
    job: Job,
    mode: 'attachment' | 'link',
    bytes: number | undefined,
    send: (job: Job) => Promise<SendOutcome>,
  ): Promise<'done' | 'too_large'> {
    const attempted = await this.events.emit(job, { type: 'postAttempted' });
    if (!attempted) return 'done';
    const outcome = await send(attempted);
    if (outcome.ok) {
      this.options.delivered?.(mode, bytes);
      await this.events.emit(attempted, { type: 'posted', messageId: outcome.messageId, mode });
      return 'done';
    }
    if (outcome.reason === 'too_large' && mode === 'attachment') return 'too_large';
    if (outcome.reason === 'transient') {
      this.log.warn({ jobId: job.id, detail: outcome.detail }, 'video post failed; will retry');
      await this.events.emit(attempted, { type: 'retryDelivery', reason: outcome.detail });
    } else {
      this.log.error({ jobId: job.id, reason: outcome.reason }, 'Discord refused the video post');
      await this.events.emit(attempted, { type: 'giveUp', reason: `Discord refused the post: ${outcome.reason}` });
    }
    return 'done';
  }
}
