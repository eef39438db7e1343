import { UserFacingError } from '../errors.js';
import { DEFAULT_DURATION, DEFAULT_MODEL, DEFAULT_SIZE, findModel, MODELS, modelsSupporting } from './capabilities.js';
import { formatBytes } from '../ui/render.js';

export const PROMPT_MAX_LENGTH = 2000;
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
const TASK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{2,199}$/;

/** `/sora` options as the member typed them (undefined = not given). */
export interface SoraOptions {
  prompt: string;
  model?: string;
  duration?: number;
  size?: string;
  image?: { name: string; contentType: string | null; size: number; url: string };
  imageUrl?: string;
  watermark?: boolean;
  private?: boolean;
  characterUrl?: string;
  characterTimestamps?: string;
  characterFromTask?: string;
  characterCreate?: boolean;
}

/** A request that passed every check that needs no I/O. Server defaults are not applied yet. */
export interface ValidatedSoraRequest {
  prompt: string;
  model: string;
  seconds: number;
  size: string;
  image: { name: string; contentType: string; size: number; url: string } | null;
  imageUrl: string | null;
  watermark: boolean | undefined;
  private: boolean | undefined;
  characterUrl: string | null;
  characterTimestamps: string | null;
  characterFromTask: string | null;
  characterCreate: boolean | null;
}

const list = (items: readonly (string | number)[]) => items.map((i) => `\`${i}\``).join(', ');

function httpUrl(value: string, option: string): string {
  const v = value.trim();
  try {
    const u = new URL(v);
    if (u.protocol === 'http:' || u.protocol === 'https:') return v;
  } catch {
    // fall through to the member-facing message
  }
  throw new UserFacingError('sora.url_invalid', { option });
}

/** `start,end` in seconds, 1–3 s apart; returns the normalised form (`1,3`). */
export function parseTimestamps(value: string): string {
  const m = /^\s*(\d+(?:\.\d+)?)\s*[,，]\s*(\d+(?:\.\d+)?)\s*$/.exec(value);
  if (!m) throw new UserFacingError('sora.timestamps_format');
  const start = Number(m[1]);
  const end = Number(m[2]);
  const length = Math.round((end - start) * 1000) / 1000;
  if (!(length >= 1 && length <= 3)) throw new UserFacingError('sora.timestamps_range', { length });
  return `${m[1]},${m[2]}`;
}

function imageType(image: NonNullable<SoraOptions['image']>): string {
  const declared = image.contentType?.split(';')[0]?.trim().toLowerCase();
  if (declared && (IMAGE_TYPES as readonly string[]).includes(declared)) return declared;
  if (!declared) {
    const ext = image.name.toLowerCase().split('.').pop();
    const byExt: Record<string, string> = {
      png: 'image/png',
      jpg: 'image/jpeg',
      jpeg: 'image/jpeg',
      webp: 'image/webp',
    };
    if (ext && byExt[ext]) return byExt[ext];
  }
  throw new UserFacingError('sora.image_type', { type: declared || image.name });
}

/**
 * Every check on `/sora` that needs no I/O, so a refusal can be an
 * ephemeral reply before anything public appears or anything is sent.
 * Throws UserFacingError naming what is wrong and how to fix it.
 */
export function validateSoraOptions(options: SoraOptions, limits: { maxImageBytes: number }): ValidatedSoraRequest {
  const prompt = options.prompt.trim();
  if (prompt.length === 0) throw new UserFacingError('sora.prompt_empty');
  const length = [...prompt].length;
  if (length > PROMPT_MAX_LENGTH) throw new UserFacingError('sora.prompt_too_long', { length, max: PROMPT_MAX_LENGTH });

  const modelId = options.model ?? DEFAULT_MODEL;
  const model = findModel(modelId);
  if (!model)
    throw new UserFacingError('sora.model_unknown', { model: modelId, models: list(MODELS.map((m) => m.id)) });

  const seconds = options.duration ?? DEFAULT_DURATION;
  if (!model.durations.includes(seconds)) {
    throw new UserFacingError('sora.duration_unsupported', {
      seconds,
      model: model.id,
      models: list(modelsSupporting({ duration: seconds })) || '—',
      durations: model.durations.join(', '),
    });
  }
  const size = options.size ?? DEFAULT_SIZE;
  if (!model.sizes.includes(size)) {
    throw new UserFacingError('sora.size_unsupported', {
      size,
      model: model.id,
      models: list(modelsSupporting({ size })) || '—',
      sizes: list(model.sizes),
    });
  }

  if (options.image && options.imageUrl !== undefined) throw new UserFacingError('sora.image_and_url');
  let image: ValidatedSoraRequest['image'] = null;
  if (options.image) {
    const contentType = imageType(options.image);
    if (options.image.size > limits.maxImageBytes) {
      throw new UserFacingError('sora.image_too_big', {
        size: formatBytes(options.image.size),
        max: formatBytes(limits.maxImageBytes),
      });
    }
    image = { name: options.image.name, contentType, size: options.image.size, url: options.image.url };
  }
  const imageUrl = options.imageUrl === undefined ? null : httpUrl(options.imageUrl, 'image_url');

  const characterUrl = options.characterUrl === undefined ? null : httpUrl(options.characterUrl, 'character_url');
  let characterFromTask: string | null = null;
  if (options.characterFromTask !== undefined) {
    characterFromTask = options.characterFromTask.trim();
    if (!TASK_ID_PATTERN.test(characterFromTask)) throw new UserFacingError('sora.task_id_invalid');
  }
  let characterTimestamps: string | null = null;
  if (options.characterTimestamps !== undefined) {
    if (!characterUrl && !characterFromTask) throw new UserFacingError('sora.timestamps_without_source');
    characterTimestamps = parseTimestamps(options.characterTimestamps);
  }
  if (options.characterCreate === true && !characterUrl) throw new UserFacingError('sora.character_create_without_url');

  return {
    prompt,
    model: model.id,
    seconds,
    size,
    image,
    imageUrl,
    watermark: options.watermark,
    private: options.private,
    characterUrl,
    characterTimestamps,
    characterFromTask,
    characterCreate: options.characterCreate ?? null,
  };
}
