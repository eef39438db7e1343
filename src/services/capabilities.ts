/**
 * The one table of what each video model accepts. The `/sora` command's
 * choices, input validation, `/sora-config allowed_models` and the Tuzi
 * emulator all read it, so a provider change is a change here only.
 *
 * The seed's enum names `sora-1`, but its own response example and every
 * public client use `sora-2`; the table follows what the service answers to.
 */
export interface ModelCapability {
  /** Upstream model id, sent verbatim as the `model` field. */
  readonly id: string;
  /** Clip lengths in seconds the model accepts, sent as the `seconds` string. */
  readonly durations: readonly number[];
  /** Frame sizes (`WIDTHxHEIGHT`) the model accepts. */
  readonly sizes: readonly string[];
}

export const ALL_SIZES = ['1280x720', '720x1280', '1792x1024', '1024x1792', '1024x1024'] as const;
export const ALL_DURATIONS = [10, 15, 25] as const;

export const MODELS: readonly ModelCapability[] = [
  { id: 'sora-2', durations: [10, 15], sizes: ['1280x720', '720x1280'] },
  { id: 'sora-2-pro', durations: [10, 15, 25], sizes: [...ALL_SIZES] },
];

export const DEFAULT_MODEL = 'sora-2';
export const DEFAULT_DURATION = 10;
export const DEFAULT_SIZE = '1280x720';

export function findModel(id: string): ModelCapability | undefined {
  return MODELS.find((m) => m.id === id);
}

/** The models (in table order) that accept a duration or size, for "use X instead" hints. */
export function modelsSupporting(filter: { duration?: number; size?: string }): string[] {
  return MODELS.filter(
    (m) =>
      (filter.duration === undefined || m.durations.includes(filter.duration)) &&
      (filter.size === undefined || m.sizes.includes(filter.size)),
  ).map((m) => m.id);
}

/**
 * A list of model ids as moderators (`/sora-config allowed_models`) and
 * operators (`DEFAULT_ALLOWED_MODELS`) write it: separated by commas (ASCII
 * or full-width) or spaces, trimmed, lower-cased, without repeats; and which
 * of them `known` does not list.
 */
export function splitModelList(text: string, known: readonly string[]): { models: string[]; unknown: string[] } {
  const models = [
    ...new Set(
      text
        .split(/[,，\s]+/)
        .map((m) => m.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
  return { models, unknown: models.filter((m) => !known.includes(m)) };
}
