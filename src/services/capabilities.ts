import fs from 'node:fs';
import { z } from 'zod';

/**
 * The model catalogue: what each video model accepts, as data. The `/sora`
 * command's choices, input validation, `/sora-config allowed_models`,
 * `DEFAULT_ALLOWED_MODELS` and the help texts all derive from one
 * ModelCatalogue, which the composition root builds from the config (the
 * built-in default, or the JSON file in `MODELS_FILE`) and passes in. The
 * Tuzi emulator keeps its own list (emulators/tuzi/models.ts), so a test can
 * notice when the bot and the provider disagree.
 */

/** Optional create fields beyond `model`, `prompt`, `seconds` and `size` (the seed's table, §1.2). */
export const OPTIONAL_FIELDS = [
  'input_reference',
  'character_url',
  'character_timestamps',
  'character_from_task',
  'character_create',
  'watermark',
  'private',
] as const;
export type OptionalField = (typeof OPTIONAL_FIELDS)[number];

export interface CatalogueModel {
  /** Upstream model id, sent verbatim as the `model` field. */
  readonly id: string;
  /** What members see in the model picker. */
  readonly name: string;
  /** Clip lengths in seconds the model accepts, sent as the `seconds` string. */
  readonly durations: readonly number[];
  /** Frame sizes the model accepts, sent as `size`: `WIDTHxHEIGHT`, or aspect ratios such as `16:9` or `adaptive`. */
  readonly sizes: readonly string[];
  readonly defaultDuration: number;
  readonly defaultSize: string;
  /** The optional fields it takes; any other is refused before anything is sent. */
  readonly fields: readonly OptionalField[];
}

/** What pricing and settings need of a model (costs.ts, settings.ts): a catalogue entry is one. */
export type ModelCapability = Pick<CatalogueModel, 'id' | 'durations' | 'sizes'>;

/** A validated catalogue as plain data (what the config carries). */
export interface CatalogueSpec {
  /** The model `/sora` uses when the member picks none. */
  readonly defaultModel: string;
  readonly models: readonly CatalogueModel[];
}

const SORA_SIZES = ['1280x720', '720x1280'];
const SORA_PRO_SIZES = [...SORA_SIZES, '1792x1024', '1024x1792', '1024x1024'];

/**
 * The built-in catalogue, from the seed (§1.2): `sora-1` (10 s / 15 s HD) and
 * `sora-2-pro` (10 s / 15 s HD, 25 s; `1024x1024` and `1792x1024` pro only,
 * `1024x1792` too per third-party docs), plus `sora-2`, which the seed's own
 * response example and every public client use. Every Sora model takes every
 * optional field of the seed. `sora-2` stays the default, as before the
 * catalogue existed.
 */
export const BUILT_IN_CATALOGUE: CatalogueSpec = {
  defaultModel: 'sora-2',
  models: [
    {
      id: 'sora-2',
      name: 'Sora 2',
      durations: [10, 15],
      sizes: SORA_SIZES,
      defaultDuration: 10,
      defaultSize: '1280x720',
      fields: OPTIONAL_FIELDS,
    },
    {
      id: 'sora-2-pro',
      name: 'Sora 2 Pro',
      durations: [10, 15, 25],
      sizes: SORA_PRO_SIZES,
      defaultDuration: 10,
      defaultSize: '1280x720',
      fields: OPTIONAL_FIELDS,
    },
    {
      id: 'sora-1',
      name: 'Sora 1',
      durations: [10, 15],
      sizes: SORA_SIZES,
      defaultDuration: 10,
      defaultSize: '1280x720',
      fields: OPTIONAL_FIELDS,
    },
  ],
};

/** Discord's limit on choices per option: beyond it an option switches to autocomplete. */
export const MAX_CHOICES = 25;

/** One catalogue, read by everything that needs to know what a model accepts. */
export class ModelCatalogue {
  readonly models: readonly CatalogueModel[];
  readonly defaultModel: CatalogueModel;
  private readonly byId: ReadonlyMap<string, CatalogueModel>;

  constructor(spec: CatalogueSpec) {
    if (spec.models.length === 0) throw new TypeError('a catalogue needs at least one model');
    this.models = spec.models;
    this.byId = new Map(spec.models.map((m) => [m.id.toLowerCase(), m]));
    const fallback = this.byId.get(spec.defaultModel.toLowerCase());
    if (!fallback) throw new TypeError(`the default model ${spec.defaultModel} is not in the catalogue`);
    this.defaultModel = fallback;
  }

  /** The model with this id (matched without regard to case, as moderators type ids). */
  find(id: string): CatalogueModel | undefined {
    return this.byId.get(id.trim().toLowerCase());
  }

  ids(): string[] {
    return this.models.map((m) => m.id);
  }

  /** Every duration any model accepts, ascending. */
  allDurations(): number[] {
    return [...new Set(this.models.flatMap((m) => m.durations))].sort((a, b) => a - b);
  }

  /** Every size any model accepts, in catalogue order. */
  allSizes(): string[] {
    return [...new Set(this.models.flatMap((m) => m.sizes))];
  }

  /** The models (in catalogue order) that accept a duration, a size or a field, for "use X instead" hints. */
  supporting(filter: { duration?: number; size?: string; field?: OptionalField }): string[] {
    return this.models
      .filter(
        (m) =>
          (filter.duration === undefined || m.durations.includes(filter.duration)) &&
          (filter.size === undefined || m.sizes.includes(filter.size)) &&
          (filter.field === undefined || m.fields.includes(filter.field)),
      )
      .map((m) => m.id);
  }
}

export function accepts(model: CatalogueModel, field: OptionalField): boolean {
  return model.fields.includes(field);
}

/**
 * A list of model ids as moderators (`/sora-config allowed_models`) and
 * operators (`DEFAULT_ALLOWED_MODELS`) write it: separated by commas (ASCII
 * or full-width) or spaces, trimmed, matched without regard to case and
 * written as `known` spells them, without repeats; and which of them `known`
 * does not list.
 */
export function splitModelList(text: string, known: readonly string[]): { models: string[]; unknown: string[] } {
  const canonical = new Map(known.map((k) => [k.toLowerCase(), k]));
  const typed = text
    .split(/[,，\s]+/)
    .map((m) => m.trim())
    .filter(Boolean);
  const models = [...new Set(typed.map((m) => canonical.get(m.toLowerCase()) ?? m.toLowerCase()))];
  return { models, unknown: models.filter((m) => !known.includes(m)) };
}

// ---------------------------------------------------------------------------
// The catalogue file (MODELS_FILE)

/** Values Discord takes as choice values and the provider as form fields: no spaces, at most 100 characters. */
const token = z
  .string({ error: 'must be a string' })
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(/^\S+$/, 'must not contain spaces');

const modelSchema = z
  .object({
    id: token,
    name: z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(100).optional(),
    durations: z
      .array(z.number({ error: 'must be a number' }).int('must be whole seconds').min(1).max(3600), {
        error: 'must be a list of seconds, e.g. [10, 15]',
      })
      .min(1, 'must list at least one duration'),
    sizes: z
      .array(token, { error: 'must be a list such as ["1280x720"] or ["16:9", "9:16"]' })
      .min(1, 'must list at least one size'),
    defaultDuration: z.number({ error: 'must be a number' }).int().optional(),
    defaultSize: z.string({ error: 'must be a string' }).optional(),
    fields: z.array(z.enum(OPTIONAL_FIELDS, { error: `must each be one of ${OPTIONAL_FIELDS.join(', ')}` }), {
      error: `must be a list of the optional fields the model takes ([] for none; any of ${OPTIONAL_FIELDS.join(', ')})`,
    }),
  })
  .strict();

const fileSchema = z
  .object({
    default: z.string({ error: 'must be a model id' }).optional(),
    models: z.array(modelSchema, { error: 'must be a list of models' }).min(1, 'must list at least one model'),
  })
  .strict();

type RawFile = z.infer<typeof fileSchema>;

/** Where a problem sits in the file, as an operator reads it: `models[2].durations`. */
function where(issuePath: readonly PropertyKey[]): string {
  return issuePath.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** The problems zod cannot see: defaults outside their lists, repeated ids, the default model. */
function crossChecks(file: RawFile): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  file.models.forEach((m, i) => {
    const at = `models[${i}]`;
    const first = seen.get(m.id.toLowerCase());
    if (first !== undefined) problems.push(`${at}.id ${m.id} repeats models[${first}].id`);
    else seen.set(m.id.toLowerCase(), i);
    if (new Set(m.durations).size !== m.durations.length) problems.push(`${at}.durations lists a duration twice`);
    if (new Set(m.sizes).size !== m.sizes.length) problems.push(`${at}.sizes lists a size twice`);
    if (m.defaultDuration !== undefined && !m.durations.includes(m.defaultDuration))
      problems.push(`${at}.defaultDuration ${m.defaultDuration} is not one of its durations`);
    if (m.defaultSize !== undefined && !m.sizes.includes(m.defaultSize))
      problems.push(`${at}.defaultSize ${m.defaultSize} is not one of its sizes`);
  });
  if (file.default !== undefined && !seen.has(file.default.trim().toLowerCase()))
    problems.push(`default ${file.default} is not the id of a model in the file`);
  return problems;
}

/**
 * Validates a parsed catalogue file. Returns the catalogue, or every problem
 * found (one line each, located in the file), never a partial catalogue.
 */
export function parseCatalogue(raw: unknown): { ok: true; spec: CatalogueSpec } | { ok: false; problems: string[] } {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => {
        const at = where(issue.path);
        return at ? `${at} ${issue.message}` : issue.message;
      }),
    };
  }
  const problems = crossChecks(parsed.data);
  if (problems.length > 0) return { ok: false, problems };
  const models = parsed.data.models.map((m): CatalogueModel => ({
    id: m.id,
    name: m.name ?? m.id,
    durations: m.durations,
    sizes: m.sizes,
    defaultDuration: m.defaultDuration ?? m.durations[0]!,
    defaultSize: m.defaultSize ?? m.sizes[0]!,
    fields: OPTIONAL_FIELDS.filter((f) => m.fields.includes(f)),
  }));
  const wanted = parsed.data.default?.trim().toLowerCase();
  const defaultModel = models.find((m) => m.id.toLowerCase() === wanted)?.id ?? models[0]!.id;
  return { ok: true, spec: { defaultModel, models } };
}

/** Reads and validates MODELS_FILE; every problem is one line that names the file. */
export function readCatalogueFile(file: string): { ok: true; spec: CatalogueSpec } | { ok: false; problems: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { ok: false, problems: [`cannot be read (${file}: ${code})`] };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`is not valid JSON (${file}: ${(err as Error).message})`] };
  }
  const result = parseCatalogue(raw);
  if (result.ok) return result;
  return { ok: false, problems: result.problems.map((p) => `${file}: ${p}`) };
}
