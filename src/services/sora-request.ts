import { UserFacingError } from '../errors.js';
import { accepts, type CatalogueModel, type ModelCatalogue, type OptionalField } from './capabilities.js';
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

/** The `/sora` option behind each optional upstream field, for the refusal that names it. */
const OPTION_OF: Record<OptionalField, string> = {
  input_reference: 'image',
  character_url: 'character_url',
  character_timestamps: 'character_timestamps',
  character_from_task: 'character_from_task',
  character_create: 'character_create',
  watermark: 'watermark',
  private: 'private',
};

function refuseField(catalogue: ModelCatalogue, model: CatalogueModel, field: OptionalField, option?: string): never {
  throw new UserFacingError('sora.option_unsupported', {
    model: model.id,
    option: option ?? OPTION_OF[field],
    models: list(catalogue.supporting({ field })) || '—',
  });
}

/**
 * Every option the member gave must be one the model takes: a field the
 * provider does not know for that model would be refused upstream (or worse,
 * ignored). A boolean left `false` asks for the provider's default, so it is
 * simply not sent rather than refused.
 */
function checkFields(catalogue: ModelCatalogue, model: CatalogueModel, options: SoraOptions): void {
  const given: [OptionalField, boolean, string?][] = [
    ['input_reference', options.image !== undefined, 'image'],
    ['input_reference', options.imageUrl !== undefined, 'image_url'],
    ['character_url', options.characterUrl !== undefined],
    ['character_timestamps', options.characterTimestamps !== undefined],
    ['character_from_task', options.characterFromTask !== undefined],
    ['character_create', options.characterCreate === true],
    ['watermark', options.watermark === true],
    ['private', options.private === true],
  ];
  for (const [field, present, option] of given)
    if (present && !accepts(model, field)) refuseField(catalogue, model, field, option);
}

/**
 * What the server's settings add after validation: a server that makes every
 * video private (or watermarked) cannot use a model that has no such field,
 * or the video would come out public. Throws UserFacingError naming models
 * that can.
 */
export function checkAppliedSettings(
  catalogue: ModelCatalogue,
  modelId: string,
  applied: { private: boolean; watermark: boolean },
): void {
  const model = catalogue.find(modelId);
  if (!model) return;
  for (const field of ['private', 'watermark'] as const) {
    if (applied[field] && !accepts(model, field))
      throw new UserFacingError('sora.setting_unsupported', {
        model: model.id,
        option: OPTION_OF[field],
        models: list(catalogue.supporting({ field })) || '—',
      });
  }
}

/**
 * Every check on `/sora` that needs no I/O, so a refusal can be an
 * ephemeral reply before anything public appears or anything is sent.
 * Throws UserFacingError naming what is wrong and how to fix it.
 */
export function validateSoraOptions(
  options: SoraOptions,
  limits: { maxImageBytes: number },
  catalogue: ModelCatalogue,
): ValidatedSoraRequest {
  const prompt = options.prompt.trim();
  if (prompt.length === 0) throw new UserFacingError('sora.prompt_empty');
  const length = [...prompt].length;
  if (length > PROMPT_MAX_LENGTH) throw new UserFacingError('sora.prompt_too_long', { length, max: PROMPT_MAX_LENGTH });

  const model = options.model === undefined ? catalogue.defaultModel : catalogue.find(options.model);
  if (!model) throw new UserFacingError('sora.model_unknown', { model: options.model!, models: list(catalogue.ids()) });

  const seconds = options.duration ?? model.defaultDuration;
  if (!model.durations.includes(seconds)) {
    throw new UserFacingError('sora.duration_unsupported', {
      seconds,
      model: model.id,
      models: list(catalogue.supporting({ duration: seconds })) || '—',
      durations: model.durations.join(', '),
    });
  }
  const size = options.size ?? model.defaultSize;
  if (!model.sizes.includes(size)) {
    throw new UserFacingError('sora.size_unsupported', {
      size,
      model: model.id,
      models: list(catalogue.supporting({ size })) || '—',
      sizes: list(model.sizes),
    });
  }

  checkFields(catalogue, model, options);

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
    // `false` for a model without the field is its default: nothing to send.
    characterCreate: accepts(model, 'character_create') ? (options.characterCreate ?? null) : null,
  };
}
