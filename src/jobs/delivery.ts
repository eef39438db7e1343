import fs from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../clock.js';
import type { Job } from '../db/jobs-repository.js';
import type { Logger } from '../logger.js';
import type { DiscordMessenger, SendOutcome } from '../services/discord-messenger.js';
import { CHANNEL_UPLOAD_LIMITS } from '../services/discord-rest.js';
import { ReencodeError, type Reencoder } from '../services/reencode.js';
import { describeFailure, type VideoApi } from '../services/video-api.js';
import { renderDelivery, type VideoLink } from '../ui/render.js';
import { deliveryModeOf } from './delivery-marker.js';
import type { JobEvents } from './job-events.js';

export interface DeliveryOptions {
  /** Largest video the bot downloads (to post, or to re-encode); bigger ones are posted as links. */
  maxVideoBytes: number;
  /** Where videos wait between download and upload. */
  tempDir: string;
  /** Told of each video posted, with its size when it was uploaded (metrics). */
  delivered?: (mode: 'attachment' | 'link', bytes: number | undefined) => void;
  /** Told how each re-encode ended: `ok`, or why it could not fit (metrics). */
  reencoded?: (outcome: string) => void;
  /** Makes a video over the upload limit fit it; without one, such a video is linked. */
  reencoder?: Reencoder;
}

/**
 * The smallest upload limit any Discord server has (boost tiers 0–1, and the
 * default for webhooks since 2025-01-16: facts/discord.md). When Discord
 * refuses a file the route's limit allowed (a tier the gateway had not told
 * yet), this is the size that fits.
 */
const SMALLEST_UPLOAD_LIMIT = CHANNEL_UPLOAD_LIMITS[0];
/** Bounds the look-up of a fresh link (expiry) before a post; the post goes without it after that. */
const LINK_LOOKUP_MS = 10_000;

/**
 * Removes videos left in the temp folder by deliveries that are over (a
 * crash between a download and its clean-up): a file stays only while its
 * job still waits to be posted, so a retry need not download it again.
 */
export async function sweepTempFiles(tempDir: string, stillPosting: (jobId: number) => boolean): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(tempDir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const m = /^job-(\d+)(?:\.fit)?\.mp4$/.exec(name);
    if (!m || stillPosting(Number(m[1]))) continue;
    await fs.rm(path.join(tempDir, name), { force: true });
    removed++;
  }
  return removed;
}

/** What the download left in the temp file: its size, or why there is none. */
type Downloaded = { size: number } | { size?: undefined; tooLarge: boolean } | 'retrying';

/**
 * Posts a finished video exactly once. The claim (completed → delivering) is
 * written before anything is uploaded, and the fact that a post went out is
 * written before it goes: whenever a post may have reached Discord (a lost
 * answer, a crash, an expired lease), the next attempt first looks in the
 * channel for it, and a failed look is retried, never taken for "not posted".
 *
 * What goes out, in order of preference: the video itself; when it is over
 * the upload limit, a re-encode that fits (with a link to the original when
 * the provider gave one); only when neither can be posted, a link, which
 * says until when it works when the provider says so.
 */
export class Delivery {
  constructor(
    private readonly events: JobEvents,
    private readonly messenger: DiscordMessenger,
    private readonly videos: VideoApi,
    private readonly clock: Clock,
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
    const fitFile = path.join(this.options.tempDir, `job-${job.id}.fit.mp4`);
    let retrying = false;
    try {
      retrying = await this.upload(claimed, tempFile, fitFile);
    } finally {
      // A retry keeps the downloaded video (downloading it again would cost the same bytes twice).
      await Promise.all([retrying ? undefined : fs.rm(tempFile, { force: true }), fs.rm(fitFile, { force: true })]);
    }
  }

  /** True when the job will try again later (the downloaded file is kept for it). */
  private async upload(job: Job, tempFile: string, fitFile: string): Promise<boolean> {
    const download = await this.download(job, tempFile);
    if (download === 'retrying') return false;
    let tooLarge = download.size === undefined && download.tooLarge;
    if (download.size !== undefined) {
      const sent = await this.postFile(job, tempFile, fitFile, download.size);
      if (sent === 'retry') return true;
      if (sent === 'done') return false;
      tooLarge = true;
    }
    return (
      (await this.postLink(job, { tooLarge, ...(download.size !== undefined ? { size: download.size } : {}) })) ===
      'retry'
    );
  }

  /**
   * Posts the downloaded video, or a re-encode of it that fits the limit.
   * `link`: no file could go (too large and no re-encode fits); nothing was posted.
   */
  private async postFile(job: Job, file: string, fitFile: string, size: number): Promise<'done' | 'retry' | 'link'> {
    // The route whose limit takes the most now (the server's tier, or a Nitro member's interaction), within MAX_VIDEO_MB.
    const limit = Math.min(this.options.maxVideoBytes, this.messenger.uploadLimit(job).bytes);
    if (size <= limit) {
      const sent = await this.post(job, 'attachment', size, (j) =>
        this.messenger.post(j, renderDelivery(j, null), mp4(file, j), `sora-job-${j.id}`),
      );
      if (sent !== 'too_large') return sent;
      // Discord refused what the job's limit allowed: this route's limit is smaller. What fits every server may still go.
      if (size <= SMALLEST_UPLOAD_LIMIT) return 'link';
      return this.postReencoded(job, file, fitFile, size, SMALLEST_UPLOAD_LIMIT);
    }
    return this.postReencoded(job, file, fitFile, size, limit);
  }

  private async postReencoded(
    job: Job,
    file: string,
    fitFile: string,
    size: number,
    limit: number,
  ): Promise<'done' | 'retry' | 'link'> {
    const reencoder = this.options.reencoder;
    if (!reencoder) return 'link';
    let fit;
    try {
      fit = await reencoder.fit(file, fitFile, limit);
    } catch (err) {
      const reason = err instanceof ReencodeError ? err.reason : 'error';
      this.options.reencoded?.(reason);
      this.log.warn(
        { jobId: job.id, err, reason, size, limit },
        'could not re-encode the video to fit; posting a link',
      );
      return 'link';
    }
    this.options.reencoded?.('ok');
    this.log.info(
      {
        jobId: job.id,
        from: size,
        to: fit.bytes,
        limit,
        height: fit.height,
        seconds: fit.elapsedMs / 1000,
        attempts: fit.attempts,
      },
      're-encoded the video to fit the upload limit',
    );
    const original = await this.linkOf(job);
    const reencoded = { originalSize: size, size: fit.bytes, limit, ...(original ? { original } : {}) };
    const sent = await this.post(job, 'attachment', fit.bytes, (j) =>
      this.messenger.post(j, renderDelivery(j, null, reencoded), mp4(fitFile, j), `sora-job-${j.id}-r`),
    );
    return sent === 'too_large' ? 'link' : sent;
  }

  /** The last resort: a link, only when one exists and still works; it says until when, when that is known. */
  private async postLink(job: Job, about: { tooLarge: boolean; size?: number }): Promise<'done' | 'retry'> {
    const link = await this.linkOf(job);
    if (!link) {
      await this.events.emit(job, { type: 'giveUp', reason: 'no video_url to link to' });
      return 'done';
    }
    if (link.expiresAt !== undefined && link.expiresAt <= this.clock.now()) {
      this.log.warn({ jobId: job.id, expiresAt: link.expiresAt }, 'the only link to the video has expired');
      await this.events.emit(job, {
        type: 'giveUp',
        reason: 'the video link expired before it could be posted',
        code: 'link_expired',
      });
      return 'done';
    }
    const limit = this.messenger.uploadLimit(job).bytes;
    const sent = await this.post(job, 'link', undefined, (j) =>
      this.messenger.post(j, renderDelivery(j, { ...link, ...about, limit }), undefined, `sora-job-${j.id}-l`),
    );
    return sent === 'retry' ? 'retry' : 'done';
  }

  /**
   * The video's link as the provider gives it now: asked again, because links
   * are signed and may have been renewed, and because only the provider knows
   * when they expire (`expires_at`). The stored link stands in when it cannot
   * be asked. Undefined when there is no link (OpenAI's shape has none).
   */
  private async linkOf(job: Job): Promise<VideoLink | undefined> {
    if (job.upstreamId) {
      try {
        const task = await this.videos.getVideo(job.upstreamId, { signal: AbortSignal.timeout(LINK_LOOKUP_MS) });
        const url = task.videoUrl ?? job.videoUrl;
        if (!url) return undefined;
        return task.expiresAt !== undefined ? { url, expiresAt: task.expiresAt } : { url };
      } catch (err) {
        this.log.debug({ jobId: job.id, err }, 'could not ask for a fresh link; using the stored one');
      }
    }
    return job.videoUrl ? { url: job.videoUrl } : undefined;
  }

  /**
   * Downloads the video into `tempFile`: from its link, or through the
   * provider's `/content` route when there is no link (OpenAI's shape) or the
   * link no longer works. Up to MAX_VIDEO_MB, not the upload limit: a bigger
   * video is re-encoded to fit.
   */
  private async download(job: Job, tempFile: string): Promise<Downloaded> {
    await fs.mkdir(this.options.tempDir, { recursive: true });
    // An earlier attempt's download (files appear only once complete and checked: TuziClient.downloadVideo).
    const kept = await fs.stat(tempFile).catch(() => undefined);
    if (kept) return { size: kept.size };
    const sources = [job.videoUrl, job.upstreamId].filter((s): s is string => !!s);
    for (const [i, source] of sources.entries()) {
      try {
        const downloaded = await this.videos.downloadVideo(source, tempFile, { maxBytes: this.options.maxVideoBytes });
        return { size: downloaded.bytes };
      } catch (err) {
        const failure = describeFailure(err);
        if (failure.tooLarge) return { tooLarge: true };
        if (failure.retryable) {
          this.log.warn({ jobId: job.id, err }, 'video download failed; will retry');
          await this.events.emit(job, { type: 'retryDelivery', reason: failure.message });
          return 'retrying';
        }
        const next = i + 1 < sources.length ? 'trying the provider’s content route' : 'falling back to the link';
        this.log.warn({ jobId: job.id, err }, `video download failed; ${next}`);
      }
    }
    return { tooLarge: false };
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
  ): Promise<'done' | 'retry' | 'too_large'> {
    const attempted = await this.events.emit(job, { type: 'postAttempted' });
    if (!attempted) return 'done';
    const outcome = await send(attempted);
    if (outcome.ok) {
      this.options.delivered?.(mode, bytes);
      await this.events.emit(attempted, { type: 'posted', messageId: outcome.messageId, mode });
      return 'done';
    }
    if (outcome.reason === 'too_large' && mode === 'attachment') return 'too_large';
    if (outcome.reason === 'rate_limited') {
      // Not a failure: the post waits in the job row, not in a worker slot.
      this.log.info(
        { jobId: job.id, retryAfterMs: outcome.retryAfterMs },
        'video post rate-limited; scheduled for later',
      );
      await this.events.emit(attempted, {
        type: 'retryDelivery',
        reason: 'rate limited',
        waitMs: outcome.retryAfterMs,
      });
      return 'retry';
    }
    if (outcome.reason === 'transient') {
      this.log.warn({ jobId: job.id, detail: outcome.detail }, 'video post failed; will retry');
      const retried = await this.events.emit(attempted, { type: 'retryDelivery', reason: outcome.detail });
      return retried?.status === 'completed' ? 'retry' : 'done';
    } else {
      this.log.error({ jobId: job.id, reason: outcome.reason }, 'Discord refused the video post');
      await this.events.emit(attempted, { type: 'giveUp', reason: `Discord refused the post: ${outcome.reason}` });
    }
    return 'done';
  }
}

function mp4(file: string, job: Job) {
  return { path: file, name: `sora-${job.id}.mp4`, contentType: 'video/mp4' };
}
