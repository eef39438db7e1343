import type { Job, JobParams, NewJob } from '../db/jobs-repository.js';
import type { AppliedSettings } from '../services/settings.js';
import type { SoraOptions, ValidatedSoraRequest } from '../services/sora-request.js';
import type { OptionalField } from '../services/capabilities.js';
import type { CreateVideoRequest } from '../services/tuzi/types.js';
import { INTERACTION_TOKEN_TTL_MS, type CommandContext } from './context.js';

/**
 * A job's parameters in each of the shapes they travel in — the member's
 * options, the stored row, the upstream request — mapped in this one place.
 * The character fields carry the same names in all three, so they are copied
 * by one list rather than field by field.
 */
const CHARACTER_FIELDS = ['characterUrl', 'characterTimestamps', 'characterFromTask', 'characterCreate'] as const;

/** A stored reference image sent again (a re-roll) instead of a new Discord attachment. */
export interface ReusedImage {
  path: string;
  name: string;
  contentType: string;
}

/** A validated request with the server's settings applied, as the row stores it (the image is fetched later). */
export function jobParams(request: ValidatedSoraRequest, applied: AppliedSettings, reuse?: ReusedImage): JobParams {
  const { image, ...rest } = request;
  return {
    ...rest,
    ...applied, // the member's private/watermark with the server's defaults and locks applied
    imagePath: null,
    imageName: image?.name ?? reuse?.name ?? null,
    imageType: image?.contentType ?? reuse?.contentType ?? null,
  };
}

/** The row of a new job: its parameters and what it keeps of the interaction that asked for it. */
export function newJobRow(ctx: CommandContext, params: JobParams): NewJob {
  return {
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
  };
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
  if (job.imageUrl !== null) options.imageUrl = job.imageUrl;
  for (const field of CHARACTER_FIELDS) if (job[field] !== null) Object.assign(options, { [field]: job[field] });
  if (!job.imagePath) return { options };
  return {
    options,
    image: { path: job.imagePath, name: job.imageName ?? 'image', contentType: job.imageType ?? 'image/png' },
  };
}

/**
 * The job's parameters as the one upstream request. `accepts` says which
 * optional fields the model takes (the catalogue): validation already refused
 * every one the member asked for that it does not, so what is left out here
 * are the server's `false` defaults, which the provider assumes anyway.
 */
export function toCreateRequest(job: Job, accepts: (field: OptionalField) => boolean = () => true): CreateVideoRequest {
  const request: CreateVideoRequest = {
    model: job.model,
    prompt: job.prompt,
    seconds: job.seconds,
    size: job.size,
  };
  if (accepts('watermark')) request.watermark = job.watermark;
  if (accepts('private')) request.private = job.private;
  if (job.imagePath)
    request.inputReference = {
      path: job.imagePath,
      filename: job.imageName ?? 'image',
      contentType: job.imageType ?? 'application/octet-stream',
    };
  else if (job.imageUrl) request.inputReference = { url: job.imageUrl };
  for (const field of CHARACTER_FIELDS) if (job[field] !== null) Object.assign(request, { [field]: job[field] });
  return request;
}
