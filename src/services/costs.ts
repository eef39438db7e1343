import { UserFacingError } from '../errors.js';
import type { ModelCapability } from './capabilities.js';

/**
 * What one video costs in credits, by model and length. A function rather
 * than a table so the source can change (the model catalogue is becoming
 * operator data) without touching its callers: the budget check, `show` and
 * the export only ever ask `(model, seconds)`.
 */
export type CostLookup = (model: string, seconds: number) => number;

/**
 * The bot's cost table. A credit is the server's own unit; the default is
 * roughly one second of `sora-2`, with `sora-2-pro` at three times the
 * price (the ratio resellers of the two models publish). A server overrides
 * any entry with `/sora-config set costs`.
 */
export const DEFAULT_COSTS: Readonly<Record<string, Readonly<Record<number, number>>>> = {
  'sora-2': { 10: 10, 15: 15 },
  'sora-2-pro': { 10: 30, 15: 45, 25: 75 },
};

/** A model or length the table does not know (a catalogue model added later): one credit per second. */
const FALLBACK_CREDITS_PER_SECOND = 1;

export const defaultCost: CostLookup = (model, seconds) =>
  DEFAULT_COSTS[model]?.[seconds] ?? seconds * FALLBACK_CREDITS_PER_SECOND;

/**
 * A server's overrides: `model` → credits for every length of that model, or
 * `model:seconds` → credits for that length only (the more specific wins).
 */
export type CostOverrides = Readonly<Record<string, number>>;

export function withOverrides(base: CostLookup, overrides: CostOverrides | null): CostLookup {
  if (!overrides || Object.keys(overrides).length === 0) return base;
  return (model, seconds) => overrides[`${model}:${seconds}`] ?? overrides[model] ?? base(model, seconds);
}

export const COST_BOUNDS = { min: 0, max: 100_000 } as const;

/**
 * Parses `/sora-config set costs`: comma-separated `model=credits` or
 * `model:seconds=credits` entries, e.g. `sora-2-pro:25=100, sora-2=8`.
 * `default` (alone) clears every override. Merged over the current
 * overrides, so one entry can be changed without retyping the rest; an
 * entry `model=default` removes that model's overrides.
 */
export function parseCostOverrides(
  input: string,
  current: CostOverrides | null,
  models: readonly ModelCapability[],
): Record<string, number> | null {
  const text = input.trim().toLowerCase();
  if (text === 'default' || text === 'reset') return null;
  const next: Record<string, number> = { ...current };
  const entries = text
    .split(/[,，;\n]+/)
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new UserFacingError('config.bad_costs', { entry: input });
  for (const entry of entries) {
    const m = /^([a-z0-9][a-z0-9._-]*)(?:\s*:\s*(\d+))?\s*[=＝]\s*(\d+|default)$/.exec(entry);
    if (!m) throw new UserFacingError('config.bad_costs', { entry });
    const [, modelId, secondsText, creditsText] = m as unknown as [string, string, string | undefined, string];
    const model = models.find((x) => x.id === modelId);
    if (!model)
      throw new UserFacingError('config.bad_models', {
        unknown: `\`${modelId}\``,
        models: models.map((x) => `\`${x.id}\``).join(', '),
      });
    if (secondsText !== undefined && !model.durations.includes(Number(secondsText)))
      throw new UserFacingError('config.bad_cost_seconds', {
        model: model.id,
        seconds: secondsText,
        durations: model.durations.join(', '),
      });
    const key = secondsText === undefined ? model.id : `${model.id}:${Number(secondsText)}`;
    if (creditsText === 'default') {
      delete next[key];
      // `model=default` forgets the model's per-length entries too.
      if (secondsText === undefined)
        for (const k of Object.keys(next)) if (k.startsWith(`${model.id}:`)) delete next[k];
      continue;
    }
    const credits = Number(creditsText);
    if (credits < COST_BOUNDS.min || credits > COST_BOUNDS.max)
      throw new UserFacingError('config.bad_number', { option: 'costs', min: COST_BOUNDS.min, max: COST_BOUNDS.max });
    next[key] = credits;
  }
  return Object.keys(next).length > 0 ? next : null;
}

/** Every model × length with its cost, in table order: for `show` and the export. */
export function costTable(
  lookup: CostLookup,
  models: readonly ModelCapability[],
): { model: string; seconds: number; credits: number }[] {
  return models.flatMap((m) =>
    m.durations.map((seconds) => ({ model: m.id, seconds, credits: lookup(m.id, seconds) })),
  );
}
