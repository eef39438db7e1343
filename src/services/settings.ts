import type { Config } from '../config.js';
import type { GuildSettingsPatch, SettingsRepository, AuditEntry } from '../db/settings-repository.js';
import { UserFacingError } from '../errors.js';
import { splitModelList, type ModelCapability } from './capabilities.js';
import { defaultCost, parseCostOverrides, withOverrides, type CostLookup } from './costs.js';
import type { ValidatedSoraRequest } from './sora-request.js';

export type ServerDefaults = Config['serverDefaults'];

/** A server's settings with the bot's defaults filled in. */
export interface EffectiveSettings {
  private: boolean;
  watermark: boolean;
  lockPrivate: boolean;
  lockWatermark: boolean;
  dailyLimit: number;
  maxActive: number;
  allowedModels: string[];
  /** Channels where `/sora` may run; empty = everywhere. */
  allowedChannels: string[];
  /** Videos the whole server may start per UTC day; 0 = unlimited. */
  serverDailyLimit: number;
  /** Credits the whole server may spend per UTC day; 0 = unlimited. */
  serverDailyCredits: number;
  /** The server's overrides of the cost table (null: none). */
  costOverrides: Record<string, number> | null;
  /** The moderator log channel, or null when the log is off. */
  logChannel: string | null;
  /** True when the server has stored overrides (false: all defaults). */
  customized: boolean;
}

/** What the member's request becomes once the server's defaults and locks apply. */
export interface AppliedSettings {
  private: boolean;
  watermark: boolean;
  /** Settings whose lock overrode an explicit choice of the member. */
  overrides: string[];
}

export class SettingsService {
  /**
   * `baseCost`: the bot's cost per model and length, before a server's
   * overrides (the cost table; later the operator's model catalogue).
   */
  constructor(
    private readonly repo: SettingsRepository,
    private readonly defaults: ServerDefaults,
    private readonly baseCost: CostLookup = defaultCost,
  ) {}

  effective(guildId: string | null): EffectiveSettings {
    const row = guildId ? this.repo.get(guildId) : undefined;
    const d = this.defaults;
    return {
      private: row?.private ?? d.private,
      watermark: row?.watermark ?? d.watermark,
      lockPrivate: row?.lockPrivate ?? false,
      lockWatermark: row?.lockWatermark ?? false,
      dailyLimit: row?.dailyLimit ?? d.dailyLimit,
      maxActive: row?.maxActive ?? d.maxActive,
      allowedModels: row?.allowedModels ?? [...d.allowedModels],
      allowedChannels: row?.allowedChannels ?? [],
      serverDailyLimit: row?.serverDailyLimit ?? 0,
      serverDailyCredits: row?.serverDailyCredits ?? 0,
      costOverrides: row?.costs ?? null,
      logChannel: row?.logChannel ?? null,
      customized: row !== undefined,
    };
  }

  /** What a video costs on this server, in credits. */
  costLookup(settings: EffectiveSettings): CostLookup {
    return withOverrides(this.baseCost, settings.costOverrides);
  }

  /**
   * Checks the request against the server's rules and fills in its defaults.
   * Throws UserFacingError when the channel or model is not allowed.
   */
  apply(settings: EffectiveSettings, request: ValidatedSoraRequest, channelId: string): AppliedSettings {
    if (settings.allowedChannels.length > 0 && !settings.allowedChannels.includes(channelId)) {
      throw new UserFacingError('sora.channel_not_allowed', {
        channels: settings.allowedChannels.map((c) => `<#${c}>`).join(', '),
      });
    }
    if (!settings.allowedModels.includes(request.model)) {
      throw new UserFacingError('sora.model_not_allowed', {
        model: request.model,
        models: settings.allowedModels.map((m) => `\`${m}\``).join(', '),
      });
    }
    const overrides: string[] = [];
    const pick = (
      name: 'private' | 'watermark',
      locked: boolean,
      chosen: boolean | undefined,
      serverValue: boolean,
    ) => {
      if (locked) {
        if (chosen !== undefined && chosen !== serverValue) overrides.push(name);
        return serverValue;
      }
      return chosen ?? serverValue;
    };
    return {
      private: pick('private', settings.lockPrivate, request.private, settings.private),
      watermark: pick('watermark', settings.lockWatermark, request.watermark, settings.watermark),
      overrides,
    };
  }

  update(guildId: string, patch: GuildSettingsPatch, userId: string, now: number): EffectiveSettings {
    this.repo.update(guildId, patch, userId, now);
    return this.effective(guildId);
  }

  reset(guildId: string, userId: string, now: number): EffectiveSettings {
    this.repo.reset(guildId, userId, now);
    return this.effective(guildId);
  }

  history(guildId: string, limit = 5): AuditEntry[] {
    return this.repo.history(guildId, limit);
  }
}

/** Start of the UTC day containing `now`: daily limits reset at UTC midnight. */
export function utcDayStart(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

/** `/sora-config set` options as the moderator gave them. */
export interface SettingsChangeInput {
  private?: boolean;
  watermark?: boolean;
  lockPrivate?: boolean;
  lockWatermark?: boolean;
  dailyLimit?: number;
  maxActive?: number;
  /** Comma-separated model ids. */
  allowedModels?: string;
  addChannel?: string;
  removeChannel?: string;
  allChannels?: boolean;
  serverDailyLimit?: number;
  serverDailyCredits?: number;
  /** `model[:seconds]=credits` entries, or `default`. */
  costs?: string;
  logChannel?: string;
  /** true: turn the moderator log off. */
  logOff?: boolean;
}

export const LIMIT_BOUNDS = {
  dailyLimit: { min: 0, max: 10_000 },
  maxActive: { min: 0, max: 1_000 },
  serverDailyLimit: { min: 0, max: 1_000_000 },
  serverDailyCredits: { min: 0, max: 100_000_000 },
} as const;

/** Reads a model list option: comma-, space- or full-width-comma-separated, known models only, at least one. */
export function parseModelList(input: string, knownModels: readonly string[]): string[] {
  const { models: list, unknown } = splitModelList(input, knownModels);
  const models = knownModels.map((m) => `\`${m}\``).join(', ');
  if (unknown.length > 0)
    throw new UserFacingError('config.bad_models', { unknown: unknown.map((m) => `\`${m}\``).join(', '), models });
  if (list.length === 0) throw new UserFacingError('config.no_models', { models });
  return list;
}

/** Checks a whole-number option against its bounds. */
export function checkBound(
  value: number,
  option: string,
  bounds: { readonly min: number; readonly max: number },
): number {
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max)
    throw new UserFacingError('config.bad_number', { option, min: bounds.min, max: bounds.max });
  return value;
}

/**
 * Validates a settings change and turns it into a stored patch. Throws
 * UserFacingError naming the bad option; nothing is stored then.
 */
export function buildSettingsPatch(
  current: EffectiveSettings,
  input: SettingsChangeInput,
  knownModels: readonly string[],
  /** The catalogue's models (costs name them); app.ts's catalogue, never a built-in default. */
  catalogue: readonly ModelCapability[],
): GuildSettingsPatch {
  const patch: GuildSettingsPatch = {};
  if (input.private !== undefined) patch.private = input.private;
  if (input.watermark !== undefined) patch.watermark = input.watermark;
  if (input.lockPrivate !== undefined) patch.lockPrivate = input.lockPrivate;
  if (input.lockWatermark !== undefined) patch.lockWatermark = input.lockWatermark;
  for (const [name, option] of [
    ['dailyLimit', 'daily_limit'],
    ['maxActive', 'max_active'],
    ['serverDailyLimit', 'server_daily_limit'],
    ['serverDailyCredits', 'server_daily_credits'],
  ] as const) {
    const value = input[name];
    if (value === undefined) continue;
    patch[name] = checkBound(value, option, LIMIT_BOUNDS[name]);
  }
  if (input.allowedModels !== undefined) patch.allowedModels = parseModelList(input.allowedModels, knownModels);
  if (input.costs !== undefined) patch.costs = parseCostOverrides(input.costs, current.costOverrides, catalogue);
  if (input.logOff === true) {
    if (input.logChannel !== undefined) throw new UserFacingError('config.log_conflict');
    patch.logChannel = null;
  } else if (input.logChannel !== undefined) {
    patch.logChannel = input.logChannel;
  }
  if (input.allChannels === true) {
    if (input.addChannel !== undefined || input.removeChannel !== undefined)
      throw new UserFacingError('config.channel_conflict');
    patch.allowedChannels = null;
  } else if (input.addChannel !== undefined || input.removeChannel !== undefined) {
    const channels = new Set(current.allowedChannels);
    if (input.addChannel !== undefined) channels.add(input.addChannel);
    if (input.removeChannel !== undefined) channels.delete(input.removeChannel);
    patch.allowedChannels = channels.size > 0 ? [...channels] : null;
  }
  if (Object.keys(patch).length === 0) throw new UserFacingError('config.nothing');
  return patch;
}
