import type { Clock } from '../clock.js';
import type { Job, JobPatch, JobsRepository, InsertResult } from '../db/jobs-repository.js';
import { UserFacingError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ImageStore } from '../services/image-store.js';
import type { AdmissionService } from '../services/admission.js';
import { checkChannelAccess } from '../services/channel-access.js';
import { t } from '../ui/i18n.js';
import type { ModelCatalogue } from '../services/capabilities.js';
import { utcDayStart, type EffectiveSettings, type SettingsService } from '../services/settings.js';
import { checkAppliedSettings, validateSoraOptions, type SoraOptions } from '../services/sora-request.js';
import type { VideoApi } from '../services/video-api.js';
import { renderJob } from '../ui/render.js';
import type { CommandContext, Responder } from './context.js';
import { jobParams, newJobRow, type ReusedImage } from './job-request.js';
import type { Applied, JobEvents } from './job-events.js';
import type { AbandonCode } from './lifecycle.js';

export interface JobServiceOptions {
  maxImageBytes: number;
  /** What each model accepts (validation, and the server settings a model must take). */
  catalogue: ModelCatalogue;
}

/**
 * Turns a `/sora` (or a re-roll, or a character follow-up) into a job:
 * validation, the server's rules and the row first (atomic, before the
 * acknowledgement, so a refusal stays private), then the acknowledgement
 * (the first reply itself, or a deferral), the image copy and the first
 * reply; then the job takes its place in the line, and the
 * dispatcher sends it when its turn comes. Refusals are
 * thrown as UserFacingError; the interaction router answers them.
 */
export class JobService {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly events: JobEvents,
    private readonly settings: SettingsService,
    private readonly videos: VideoApi,
    private readonly images: ImageStore,
    private readonly line: { wake(): void },
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: JobServiceOptions,
    /** The server's controls: blocks, role rules, the prompt filter, the budget's refusals. */
    private readonly admission: AdmissionService,
  ) {}

  /** `reuseImage`: a stored reference image to send again (a re-roll), instead of a new Discord attachment. */
  async start(
    ctx: CommandContext,
    options: SoraOptions,
    responder: Responder,
    reuseImage?: ReusedImage,
  ): Promise<void> {
    const { catalogue } = this.options;
    // The channel first: the bot learns the rest of what it needs there only once the video is paid for.
    checkChannelAccess(ctx.channelFacts, (key) => t(ctx.locale, key));
    const request = validateSoraOptions(options, { maxImageBytes: this.options.maxImageBytes }, catalogue);
    const effective = this.settings.effective(ctx.guildId);
    const admitted = this.admission.admit(ctx, request, effective);
    const limits = admitted.settings;
    const applied = this.settings.apply(limits, request, ctx.channelId);
    checkAppliedSettings(catalogue, request.model, applied);
    const now = this.clock.now();
    const result = await this.jobs.insertWithinQuotaGrouped(
      { ...newJobRow(ctx, jobParams(request, applied, reuseImage)), cost: admitted.cost },
      {
        maxActive: limits.maxActive,
        dailyLimit: limits.dailyLimit,
        dayStart: utcDayStart(now),
        serverDailyLimit: effective.serverDailyLimit,
        serverDailyCredits: effective.serverDailyCredits,
      },
      now,
    );
    if (!result.ok) {
      if (result.reason === 'server_daily_limit' || result.reason === 'server_daily_credits') {
        const { ok: _ok, reason, ...detail } = result;
        this.admission.budgetRefused(ctx, request, reason, detail);
      }
      throw limitError(result, limits, now);
    }

    let job = result.job;
    let ack;
    try {
      // The first reply can be the acknowledgement itself, unless a reference image is still to be read.
      const ready = !request.image && !reuseImage;
      const first = result.job;
      ack = await responder.acknowledge(ready ? () => renderJob(first) : undefined);
    } catch (err) {
      this.abandon(job, 'ack_failed', 'The interaction could not be acknowledged.');
      throw err;
    }

    let image: Pick<JobPatch, 'imagePath' | 'imageType'> = {};
    if (request.image || reuseImage) {
      try {
        const stored = request.image
          ? await this.images.fetch(job.id, request.image.url)
          : { path: await this.images.copy(reuseImage!.path, job.id), contentType: reuseImage!.contentType };
        image = { imagePath: stored.path, imageType: stored.contentType };
        job = { ...job, ...image };
      } catch (err) {
        this.log.info({ jobId: job.id, err }, 'reference image refused');
        this.abandon(job, 'image_unreadable', 'The reference image could not be read.');
        throw new UserFacingError('sora.image_unreadable');
      }
    }

    let messageId = ack.messageId;
    if (!ack.replied) {
      try {
        ({ messageId } = await responder.edit(renderJob(job)));
      } catch (err) {
        // The job can still run: progress goes through the webhook while the token lives.
        this.log.warn({ jobId: job.id, err }, 'could not show the first reply');
      }
    }
    // One row write for what the follow-up learnt: the stored image, the reply's message id, a place in line.
    this.ready(job, { ...image, ...(messageId === null ? {} : { messageId }) });
  }

  /**
   * Puts a prepared job in line (its image, if any, is stored): the dispatcher
   * may now send it. `learnt`: what the row still lacks, written with it.
   */
  private ready(job: Job, learnt: JobPatch = {}): void {
    const now = this.clock.now();
    if (this.jobs.patch(job.id, { ...learnt, nextRunAt: now }, now, ['waiting'])) this.line.wake();
    // It ended meanwhile (cancelled from /sora-jobs while its image was fetched): what was learnt is kept.
    else if (Object.keys(learnt).length > 0) this.jobs.patch(job.id, learnt, now);
  }

  /**
   * What an earlier process left mid-way, settled before the gateway connects
   * — so no interaction of this process can be among them. Rows in
   * `submitting` were caught between the row and the upstream answer: they may
   * or may not exist upstream, so they are never sent again. Waiting rows still
   * being prepared go in line if they have all they need (nothing was sent), or
   * end when their reference image was never stored. What is shown to the
   * members runs once Discord is reachable (`events.run` on the result).
   */
  settleInterrupted(): Applied[] {
    const settled: (Applied | undefined)[] = this.jobs.withStatus('submitting').map((job) =>
      this.events.apply(job, {
        type: 'abandoned',
        code: 'interrupted',
        message: 'The bot restarted while submitting this job.',
      }),
    );
    for (const job of this.jobs.withStatus('waiting')) {
      if (job.nextRunAt !== null) continue;
      if (job.imageName !== null && job.imagePath === null)
        settled.push(
          this.events.apply(job, {
            type: 'abandoned',
            code: 'not_prepared',
            message: 'The bot restarted before this job was ready to send.',
          }),
        );
      else this.ready(job);
    }
    return settled.filter((a): a is Applied => a !== undefined);
  }

  /**
   * Cancels a job for its member or a moderator. A waiting job leaves the line
   * (nothing was paid); a running one stops being followed, and the provider is
   * asked to stop it — the answer says honestly whether it did.
   */
  async cancel(job: Job, by: { userId: string; moderator: boolean }): Promise<CancelResult> {
    if (job.userId !== by.userId && !by.moderator) throw new UserFacingError('jobs.cancel_not_yours');
    const sent = job.upstreamId !== null;
    const cancelled = this.events.apply(job, { type: 'cancel', by: by.userId });
    if (!cancelled) throw new UserFacingError('jobs.cancel_too_late');
    let stopped: CancelResult['upstream'] = 'not_sent';
    if (sent && job.upstreamId) {
      try {
        stopped = (await this.videos.deleteVideo(job.upstreamId)) ? 'stopped' : 'not_stopped';
      } catch (err) {
        this.log.info({ jobId: job.id, err }, 'the provider did not stop a cancelled job');
        stopped = 'not_stopped';
      }
      this.jobs.patch(job.id, { errorCode: `cancel_${stopped}` }, this.clock.now());
    }
    await this.events.run({ ...cancelled, job: this.jobs.get(job.id) ?? cancelled.job });
    return { job: this.jobs.get(job.id) ?? cancelled.job, upstream: stopped };
  }

  private abandon(job: Job, code: AbandonCode, message: string): void {
    // Private codes have no effects to run: the member is answered on the interaction.
    this.events.apply(job, { type: 'abandoned', code, message });
  }
}

/** What a cancel did: the job as it is now, and whether the provider stopped it. */
export interface CancelResult {
  job: Job;
  upstream: 'not_sent' | 'stopped' | 'not_stopped';
}

function limitError(
  result: Exclude<InsertResult, { ok: true }>,
  limits: EffectiveSettings,
  now: number,
): UserFacingError {
  const reset = `<t:${Math.floor((utcDayStart(now) + 86_400_000) / 1000)}:R>`;
  switch (result.reason) {
    case 'max_active':
      return new UserFacingError('sora.limit_active', { active: result.active, max: limits.maxActive });
    case 'daily_limit':
      return new UserFacingError('sora.limit_daily', { max: limits.dailyLimit, reset });
    case 'server_daily_limit':
      return new UserFacingError('sora.limit_server_daily', { max: limits.serverDailyLimit, reset });
    case 'server_daily_credits':
      return new UserFacingError('sora.limit_server_credits', {
        used: result.used,
        max: limits.serverDailyCredits,
        cost: result.cost,
        reset,
      });
    case 'duplicate':
      return new UserFacingError('sora.duplicate');
  }
}
