import type { Clock } from '../clock.js';
import type { Job, JobsRepository, InsertResult } from '../db/jobs-repository.js';
import { UserFacingError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ImageStore } from '../services/image-store.js';
import { utcDayStart, type SettingsService } from '../services/settings.js';
import { accepts, type ModelCatalogue } from '../services/capabilities.js';
import { checkAppliedSettings, validateSoraOptions, type SoraOptions } from '../services/sora-request.js';
import { describeFailure, type UpstreamFailure, type VideoApi } from '../services/video-api.js';
import { renderJob } from '../ui/render.js';
import type { CommandContext, Responder } from './context.js';
import { jobParams, newJobRow, toCreateRequest, type ReusedImage } from './job-request.js';
import type { Applied, JobEvents } from './job-events.js';
import type { AbandonCode } from './lifecycle.js';

export interface JobServiceOptions {
  maxImageBytes: number;
  /** What each model accepts (validation, and the fields sent upstream). */
  catalogue: ModelCatalogue;
  /**
   * Called when the provider refused a model as not found (it dropped or
   * never served it): the hook that tells moderators what to change.
   */
  onModelUnavailable?: (model: string, message: string) => void;
}

/**
 * Turns a `/sora` (or a re-roll, or a character follow-up) into a job:
 * validation, the server's rules and the row first (atomic, before the
 * deferral, so a refusal stays private), then the deferral, the image copy,
 * the single upstream POST and the hand-over to the scheduler. Refusals are
 * thrown as UserFacingError; the interaction router answers them.
 */
export class JobService {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly events: JobEvents,
    private readonly settings: SettingsService,
    private readonly videos: VideoApi,
    private readonly images: ImageStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: JobServiceOptions,
  ) {}

  /** `reuseImage`: a stored reference image to send again (a re-roll), instead of a new Discord attachment. */
  async start(ctx: CommandContext, options: SoraOptions, responder: Responder, reuseImage?: ReusedImage): Promise<Job> {
    const { catalogue } = this.options;
    const request = validateSoraOptions(options, { maxImageBytes: this.options.maxImageBytes }, catalogue);
    const effective = this.settings.effective(ctx.guildId);
    const applied = this.settings.apply(effective, request, ctx.channelId);
    checkAppliedSettings(catalogue, request.model, applied);
    const now = this.clock.now();
    const result = this.jobs.insertWithinQuota(
      newJobRow(ctx, jobParams(request, applied, reuseImage)),
      { maxActive: effective.maxActive, dailyLimit: effective.dailyLimit, dayStart: utcDayStart(now) },
      now,
    );
    if (!result.ok) throw limitError(result, effective.maxActive, effective.dailyLimit, now);

    let job = result.job;
    try {
      await responder.defer();
    } catch (err) {
      this.abandon(job, 'ack_failed', 'The interaction could not be acknowledged.');
      throw err;
    }

    if (request.image || reuseImage) {
      try {
        const stored = request.image
          ? await this.images.fetch(job.id, request.image.url)
          : { path: await this.images.copy(reuseImage!.path, job.id), contentType: reuseImage!.contentType };
        this.jobs.patch(job.id, { imagePath: stored.path, imageType: stored.contentType }, this.clock.now());
        job = { ...job, imagePath: stored.path, imageType: stored.contentType };
      } catch (err) {
        this.log.info({ jobId: job.id, err }, 'reference image refused');
        this.abandon(job, 'image_unreadable', 'The reference image could not be read.');
        throw new UserFacingError('sora.image_unreadable');
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
  private async submit(job: Job): Promise<Job> {
    let task;
    const model = this.options.catalogue.find(job.model);
    try {
      task = await this.videos.createVideo(toCreateRequest(job, (field) => !model || accepts(model, field)));
    } catch (err) {
      const failure = describeFailure(err);
      const code = submitFailureCode(failure);
      this.log.warn({ jobId: job.id, err, code }, 'submission failed');
      if (code === 'model_unavailable') this.options.onModelUnavailable?.(job.model, failure.message);
      return (await this.events.emit(job, { type: 'abandoned', code, message: failure.message })) ?? job;
    }
    return (await this.events.emit(job, { type: 'accepted', task })) ?? job;
  }

  /**
   * Rows still in `submitting` when this process starts were left by an
   * earlier one, caught between the row and the upstream answer. They may or
   * may not exist upstream, so they are never sent again. Called before the
   * gateway connects — so no submission of this process can be among them —
   * it marks them; what is shown to their members runs once Discord is
   * reachable (`events.run` on the result).
   */
  abandonInterrupted(): Applied[] {
    return this.jobs
      .withStatus('submitting')
      .map((job) =>
        this.events.apply(job, {
          type: 'abandoned',
          code: 'interrupted',
          message: 'The bot restarted while submitting this job.',
        }),
      )
      .filter((a): a is Applied => a !== undefined);
  }

  private abandon(job: Job, code: AbandonCode, message: string): void {
    // Private codes have no effects to run: the member is answered on the interaction.
    this.events.apply(job, { type: 'abandoned', code, message });
  }
}

/**
 * rejected: upstream refused the request (4xx) — nothing was made.
 * unavailable: rate-limited (429), or the request never left — nothing was made.
 * model_unavailable: the provider does not serve the model (any more) — nothing was made.
 * unknown: no answer, or a 5xx (a gateway may fail after upstream accepted
 * the job) — a video may exist that we cannot follow, so it is not resent.
 * interrupted: the bot is stopping and cut the request — the same uncertainty as a crash.
 */
function submitFailureCode(failure: UpstreamFailure): AbandonCode {
  if (failure.closed) return 'interrupted';
  // Before the status rules: new-api answers a model it has no channel for with a 503.
  if (failure.modelUnavailable) return 'model_unavailable';
  const { status } = failure;
  if (status === 429) return 'unavailable';
  if (status !== undefined && status >= 400 && status < 500) return 'rejected';
  if (status === undefined && !failure.mayHaveReachedServer) return 'unavailable';
  return 'unknown';
}

function limitError(
  result: Exclude<InsertResult, { ok: true }>,
  maxActive: number,
  dailyLimit: number,
  now: number,
): UserFacingError {
  switch (result.reason) {
    case 'max_active':
      return new UserFacingError('sora.limit_active', { active: result.active, max: maxActive });
    case 'daily_limit':
      return new UserFacingError('sora.limit_daily', {
        max: dailyLimit,
        reset: `<t:${Math.floor((utcDayStart(now) + 86_400_000) / 1000)}:R>`,
      });
    case 'duplicate':
      return new UserFacingError('sora.duplicate');
  }
}
