import type { Clock } from '../clock.js';
import type { Job, JobParams, JobsRepository, InsertResult } from '../db/jobs-repository.js';
import { UserFacingError } from '../errors.js';
import type { Logger } from '../logger.js';
import { t } from '../ui/i18n.js';
import { renderJob, type MessageBody } from '../ui/render.js';
import type { AdmissionService } from './admission.js';
import type { Delivery } from './delivery.js';
import type { ImageStore } from './image-store.js';
import type { JobLifecycleEvents } from './mod-log.js';
import type { Poller } from './poller.js';
import { nextPollDelay, type PollBounds } from './poll-policy.js';
import { utcDayStart, type EffectiveSettings, type SettingsService } from './settings.js';
import { validateSoraOptions, type SoraOptions } from './sora-request.js';
import type { CreateVideoRequest } from './tuzi/types.js';
import { TuziError } from './tuzi/errors.js';
import { upstreamStatus, type VideoApi } from './video-api.js';

/** Discord's interaction token lifetime. */
export const INTERACTION_TOKEN_TTL_MS = 15 * 60_000;

/** Who asked, where, and how to answer: what a job keeps of its interaction. */
export interface CommandContext {
  interactionId: string;
  applicationId: string;
  token: string;
  guildId: string | null;
  channelId: string;
  userId: string;
  /** The member's role ids (the server's id stands for @everyone), for role rules. */
  memberRoleIds: readonly string[];
  locale: string;
  attachmentSizeLimit: number;
  /** When the interaction arrived (the token's 15 minutes start here). */
  receivedAt: number;
}

/**
 * The interaction as the job service needs it. The command adapts a
 * discord.js interaction to this, so the rules here can be tested without one.
 */
export interface Responder {
  /** An ephemeral reply before any deferral: nothing public appears. */
  refuse(message: string): Promise<void>;
  /** Acknowledges with a public "thinking" reply. */
  defer(): Promise<void>;
  /** Edits the public reply; returns its message id. */
  edit(body: MessageBody): Promise<{ messageId: string }>;
  /** Takes back the public reply and tells the member privately why. */
  withdraw(message: string): Promise<void>;
}

export interface ReusedImage {
  path: string;
  name: string;
  contentType: string;
}

/** A finished job's parameters as `/sora` options, for a re-roll or a character follow-up. */
export function optionsFromJob(job: Job): { options: SoraOptions; image?: ReusedImage } {
  const options: SoraOptions = {
    prompt: job.prompt,
    model: job.model,
    duration: job.seconds,
    size: job.size,
    watermark: job.watermark,
    private: job.private,
  };
  if (job.imageUrl) options.imageUrl = job.imageUrl;
  if (job.characterUrl) options.characterUrl = job.characterUrl;
  if (job.characterTimestamps) options.characterTimestamps = job.characterTimestamps;
  if (job.characterFromTask) options.characterFromTask = job.characterFromTask;
  if (job.characterCreate !== null) options.characterCreate = job.characterCreate;
  const image = job.imagePath
    ? { path: job.imagePath, name: job.imageName ?? 'image', contentType: job.imageType ?? 'image/png' }
    : undefined;
  return image ? { options, image } : { options };
}

export interface JobServiceOptions extends PollBounds {
  maxImageBytes: number;
}

/** The server's controls (issue #17): who may start a job, and who hears that it started. */
export interface JobControls {
  admission: AdmissionService;
  events?: Pick<JobLifecycleEvents, 'started'>;
}

/**
 * Turns a validated `/sora` into a job: limits and the row first (atomic,
 * before the deferral so a refusal stays private), then the deferral, the
 * image copy, the single upstream POST and the hand-over to the poller.
 */
export class JobService {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly settings: SettingsService,
    private readonly videos: VideoApi,
    private readonly images: ImageStore,
    private readonly delivery: Delivery,
    private readonly poller: Poller,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: JobServiceOptions,
    private readonly controls?: JobControls,
  ) {}

  /**
   * `reuseImage`: a stored reference image to send again (a re-roll), instead
   * of a new Discord attachment.
   */
  async start(
    ctx: CommandContext,
    options: SoraOptions,
    responder: Responder,
    reuseImage?: ReusedImage,
  ): Promise<Job | undefined> {
    let params: JobParams & { image: { url: string } | null };
    let result: InsertResult;
    try {
      const request = validateSoraOptions(options, { maxImageBytes: this.options.maxImageBytes });
      const effective = this.settings.effective(ctx.guildId);
      const admitted = this.controls?.admission.admit(ctx, request, effective) ?? { settings: effective, cost: 0 };
      const limits = admitted.settings;
      const applied = this.settings.apply(limits, request, ctx.channelId);
      params = {
        prompt: request.prompt,
        model: request.model,
        seconds: request.seconds,
        size: request.size,
        watermark: applied.watermark,
        private: applied.private,
        overrides: applied.overrides,
        imagePath: null,
        imageName: request.image?.name ?? reuseImage?.name ?? null,
        imageType: request.image?.contentType ?? reuseImage?.contentType ?? null,
        imageUrl: request.imageUrl,
        characterUrl: request.characterUrl,
        characterTimestamps: request.characterTimestamps,
        characterFromTask: request.characterFromTask,
        characterCreate: request.characterCreate,
        image: request.image,
      };
      const now = this.clock.now();
      result = this.jobs.insertWithinQuota(
        {
          ...params,
          interactionId: ctx.interactionId,
          applicationId: ctx.applicationId,
          guildId: ctx.guildId,
          channelId: ctx.channelId,
          userId: ctx.userId,
          locale: ctx.locale,
          interactionToken: ctx.token,
          tokenExpiresAt: ctx.receivedAt + INTERACTION_TOKEN_TTL_MS,
          attachmentSizeLimit: ctx.attachmentSizeLimit,
          cost: admitted.cost,
        },
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
          this.controls?.admission.budgetRefused(ctx, request, reason, detail);
        }
        throw this.limitError(result, limits, now);
      }
    } catch (err) {
      if (err instanceof UserFacingError) {
        await responder.refuse(t(ctx.locale, err.key, err.params));
        return undefined;
      }
      throw err;
    }

    let job = result.job;
    try {
      await responder.defer();
    } catch (err) {
      this.abandon(job, 'ack_failed', 'The interaction could not be acknowledged.');
      throw err;
    }

    if (params.image || reuseImage) {
      try {
        const stored = params.image
          ? await this.images.fetch(job.id, params.image.url)
          : { path: await this.images.copy(reuseImage!.path, job.id), contentType: reuseImage!.contentType };
        this.jobs.patch(job.id, { imagePath: stored.path, imageType: stored.contentType }, this.clock.now());
        job = { ...job, imagePath: stored.path, imageType: stored.contentType };
      } catch (err) {
        this.log.info({ jobId: job.id, err }, 'reference image refused');
        this.abandon(job, 'image_unreadable', 'The reference image could not be read.');
        await responder.withdraw(t(ctx.locale, 'sora.image_unreadable'));
        return undefined;
      }
    }

    try {
      const { messageId } = await responder.edit(renderJob(job));
      this.jobs.patch(job.id, { messageId }, this.clock.now());
      job = { ...job, messageId };
    } catch (err) {
      // The job can still run: progress goes through the webhook while the token lives.
      this.log.warn({ jobId: job.id, err }, 'could not show the first reply');
    }
    return this.submit(job);
  }

  /** The one POST upstream. It is never repeated: a second POST is a second paid video. */
  private async submit(job: Job): Promise<Job | undefined> {
    let task;
    try {
      task = await this.videos.createVideo(toCreateRequest(job));
    } catch (err) {
      const code = submitFailureCode(err);
      const message = upstreamMessage(err);
      this.log.warn({ jobId: job.id, err, code }, 'submission failed');
      const failed = this.abandon(job, code, message);
      if (failed) await this.delivery.showFailure(failed);
      return failed;
    }
    const now = this.clock.now();
    const progress = Math.max(0, Math.min(99, Math.round(task.progress)));
    const status = task.status === 'in_progress' ? 'in_progress' : 'queued';
    const delay = nextPollDelay(
      { now, submittedAt: now, progress, progressChangedAt: now, errorStreak: 0 },
      this.options,
    );
    const queued = this.jobs.transition(
      job.id,
      'submitting',
      status,
      {
        upstreamId: task.id,
        submittedAt: now,
        progress,
        progressChangedAt: now,
        ...(status === 'in_progress' || progress > 0 ? { startedAt: now, startedProgress: progress } : {}),
        nextRunAt: now + delay,
      },
      now,
    );
    if (!queued) return undefined;
    this.controls?.events?.started(queued);
    this.poller.wake();
    await this.delivery.showProgress(queued, { status, progress });
    return this.jobs.get(job.id);
  }

  /**
   * Runs once at start, before the poller: a row still in `submitting` was
   * caught by a crash between the row and the upstream answer. It may or may
   * not exist upstream, so it is never sent again; the member is told.
   */
  async recoverInterruptedSubmissions(): Promise<number> {
    const stuck = this.jobs.unfinished().filter((j) => j.status === 'submitting');
    for (const job of stuck) {
      const failed = this.abandon(job, 'interrupted', 'The bot restarted while submitting this job.');
      if (failed)
        await this.delivery
          .showFailure(failed)
          .catch((err: unknown) => this.log.warn({ err, jobId: job.id }, 'could not explain an interrupted job'));
    }
    return stuck.length;
  }

  private abandon(job: Job, code: string, message: string): Job | undefined {
    const now = this.clock.now();
    return this.jobs.transition(
      job.id,
      'submitting',
      'submit_failed',
      { errorCode: code, errorMessage: message, finishedAt: now, nextRunAt: null },
      now,
    );
  }

  private limitError(
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
}

/**
 * rejected: upstream refused the request (4xx) — nothing was made.
 * unavailable: rate-limited (429), or the request never left — nothing was made.
 * unknown: no answer, or a 5xx (a gateway may fail after upstream accepted
 * the job) — a video may exist that we cannot follow, so it is not resent.
 */
function submitFailureCode(err: unknown): 'rejected' | 'unavailable' | 'unknown' | 'interrupted' {
  // The bot is shutting down and cut the request: the same uncertainty as a crash mid-submission.
  if (err instanceof TuziError && err.kind === 'closed') return 'interrupted';
  const status = upstreamStatus(err);
  if (status === 429) return 'unavailable';
  if (status !== undefined && status >= 400 && status < 500) return 'rejected';
  if (status === undefined && err instanceof TuziError && !err.mayHaveReachedServer) return 'unavailable';
  return 'unknown';
}

function upstreamMessage(err: unknown): string {
  if (err instanceof TuziError) return err.upstreamMessage ?? err.message;
  return err instanceof Error ? err.message : 'unknown error';
}

/** The job's parameters as the upstream request. */
export function toCreateRequest(job: Job): CreateVideoRequest {
  const request: CreateVideoRequest = {
    model: job.model,
    prompt: job.prompt,
    seconds: job.seconds,
    size: job.size,
    watermark: job.watermark,
    private: job.private,
  };
  if (job.imagePath)
    request.inputReference = {
      path: job.imagePath,
      filename: job.imageName ?? 'image',
      contentType: job.imageType ?? 'application/octet-stream',
    };
  else if (job.imageUrl) request.inputReference = { url: job.imageUrl };
  if (job.characterUrl) request.characterUrl = job.characterUrl;
  if (job.characterTimestamps) request.characterTimestamps = job.characterTimestamps;
  if (job.characterFromTask) request.characterFromTask = job.characterFromTask;
  if (job.characterCreate !== null) request.characterCreate = job.characterCreate;
  return request;
}
