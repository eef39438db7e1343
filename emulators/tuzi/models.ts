/**
 * The provider's own model catalogue. It is data the emulator is started
 * with (or a JSON file given to the CLI), never the bot's table: a test can
 * only notice that the bot and the provider disagree if the two are kept
 * apart.
 */
import { z } from 'zod';

/** Optional create fields beyond `model`, `prompt`, `seconds` and `size` (the seed's table). */
export const OPTIONAL_FIELDS = [
  'input_reference',
  'watermark',
  'private',
  'character_url',
  'character_timestamps',
  'character_from_task',
  'character_create',
] as const;
export type OptionalField = (typeof OPTIONAL_FIELDS)[number];

export interface ProviderModel {
  /** The `model` value the provider answers to. */
  id: string;
  /** Accepted `seconds` values. */
  durations: readonly number[];
  /** Accepted `size` values: `WIDTHxHEIGHT`, or aspect ratios such as `16:9` or `adaptive` for some models. */
  sizes: readonly string[];
  /** Used when `seconds` is omitted; the first duration by default. */
  defaultSeconds?: number;
  /** Used when `size` is omitted; the first size by default. */
  defaultSize?: string;
  /** Optional fields this model takes; every one by default. Sending another answers 400 `unsupported_parameter`. */
  fields?: readonly OptionalField[];
  /** `owned_by` in `GET /v1/models`. */
  ownedBy?: string;
  /** `created` (Unix seconds) in `GET /v1/models`. */
  created?: number;
  /** Shown by `GET /v1/models` (default true). */
  listed?: boolean;
  /**
   * Accepted by `POST /v1/videos` (default true). False is a model a
   * reseller still lists after its upstream went away: creating answers
   * "model not found".
   */
  served?: boolean;
  /** Credits per second of video, for the balance (default 1). */
  costPerSecond?: number;
}

const SORA_SIZES = ['1280x720', '720x1280'] as const;
const SORA_PRO_SIZES = [...SORA_SIZES, '1792x1024', '1024x1792', '1024x1024'] as const;
/** A fixed listing date, so `GET /v1/models` answers the same bytes on every run. */
const LISTED_AT = 1_760_000_000;

/**
 * What the seed and Tuzi's public tooling describe (facts/tuzi.md, seed
 * §1.2):
 * - `sora-1`: the seed's enum, 10 s / 15 s HD, landscape or portrait.
 * - `sora-2`: 10 / 15 s, what the seed's own response example and every
 *   public client use.
 * - `sora-2-pro`: 10 / 15 s HD plus 25 s; `1024x1024` and `1792x1024` are
 *   pro only (seed), `1024x1792` too (third-party docs).
 * - the non-Sora models Tuzi's 2026 tooling lists on the same endpoint
 *   (`veo3`, `veo3.1`, `veo3.1-4k` 8 s; `kling-v1-6` and `seedance-1.5-pro`
 *   5 / 10 s), which take aspect ratios as `size`. Their ratio sets follow
 *   the vendors' own APIs (Veo: 16:9 and 9:16; Kling: 16:9, 9:16, 1:1;
 *   Seedance: its ratios plus `adaptive`), and none of them takes Sora's
 *   character or gallery fields: facts/tuzi.md says not every model takes
 *   every optional field.
 */
export const DEFAULT_MODELS: readonly ProviderModel[] = [
  { id: 'sora-1', durations: [10, 15], sizes: SORA_SIZES, defaultSeconds: 10, ownedBy: 'openai' },
  { id: 'sora-2', durations: [10, 15], sizes: SORA_SIZES, defaultSeconds: 10, ownedBy: 'openai' },
  { id: 'sora-2-pro', durations: [10, 15, 25], sizes: SORA_PRO_SIZES, defaultSeconds: 10, ownedBy: 'openai' },
  { id: 'veo3', durations: [8], sizes: ['16:9', '9:16'], fields: ['input_reference'], ownedBy: 'google' },
  { id: 'veo3.1', durations: [8], sizes: ['16:9', '9:16'], fields: ['input_reference'], ownedBy: 'google' },
  {
    id: 'veo3.1-4k',
    durations: [8],
    sizes: ['16:9', '9:16'],
    fields: ['input_reference'],
    ownedBy: 'google',
    costPerSecond: 4,
  },
  {
    id: 'kling-v1-6',
    durations: [5, 10],
    sizes: ['16:9', '9:16', '1:1'],
    fields: ['input_reference'],
    ownedBy: 'kling',
  },
  {
    id: 'seedance-1.5-pro',
    durations: [5, 10],
    sizes: ['adaptive', '16:9', '9:16', '1:1', '4:3', '3:4', '21:9'],
    fields: ['input_reference', 'watermark'],
    ownedBy: 'bytedance',
  },
];

const modelSchema = z
  .object({
    id: z.string().min(1),
    durations: z.array(z.number().int().positive()).min(1),
    sizes: z.array(z.string().min(1)).min(1),
    defaultSeconds: z.number().int().positive().optional(),
    defaultSize: z.string().min(1).optional(),
    fields: z.array(z.enum(OPTIONAL_FIELDS)).optional(),
    ownedBy: z.string().min(1).optional(),
    created: z.number().int().nonnegative().optional(),
    listed: z.boolean().optional(),
    served: z.boolean().optional(),
    costPerSecond: z.number().nonnegative().optional(),
  })
  .strict()
  .refine((m) => m.defaultSeconds === undefined || m.durations.includes(m.defaultSeconds), {
    message: 'defaultSeconds must be one of durations',
  })
  .refine((m) => m.defaultSize === undefined || m.sizes.includes(m.defaultSize), {
    message: 'defaultSize must be one of sizes',
  });

const catalogueSchema = z
  .array(modelSchema)
  .refine((list) => new Set(list.map((m) => m.id)).size === list.length, { message: 'model ids must be unique' });

/** Checks a catalogue (an option or a parsed JSON file); throws a readable error. */
export function validateModels(models: unknown): ProviderModel[] {
  const parsed = catalogueSchema.safeParse(models);
  if (!parsed.success) throw new TypeError(`invalid model list: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function defaultSecondsOf(model: ProviderModel): number {
  return model.defaultSeconds ?? model.durations[0] ?? 0;
}

export function defaultSizeOf(model: ProviderModel): string {
  return model.defaultSize ?? model.sizes[0] ?? '';
}

export function acceptsField(model: ProviderModel, field: OptionalField): boolean {
  return model.fields === undefined || model.fields.includes(field);
}

/** `GET /v1/models` as OpenAI documents it: `{ object: "list", data: [{ id, object: "model", created, owned_by }] }`. */
export function modelListJson(models: readonly ProviderModel[]): Record<string, unknown> {
  return {
    object: 'list',
    data: models
      .filter((m) => m.listed !== false)
      .map((m) => ({ id: m.id, object: 'model', created: m.created ?? LISTED_AT, owned_by: m.ownedBy ?? 'custom' })),
  };
}
