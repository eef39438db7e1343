import type { Config } from '../config.js';
import type { GuildSettingsPatch, SettingsRepository, AuditEntry } from '../db/settings-repository.js';
import { UserFacingError } from '../errors.js';
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
  constructor(
    private readonly repo: SettingsRepository,
    private readonly defaults: ServerDefaults,
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
      customized: row !== undefined,
    };
  }

  /**
   * Checks the request against the server's rules and fills in its defaults.
   * Throws UserFacingError when the channel or model is not allowed.
   */
  apply(settings: EffectiveSettings, request: ValidatedSoraRequest, channelId: string): AppliedSettings {
    if (settings.allowedChannels.length > 0 && !settings.allowedChannels.includes(channelId)) {
      throw new UserFacingError('sora.channel_not_allowed', { channels: settings.allowedChannels.map((c) => `<#${c}>`).join(', ') });
    }
    if (!settings.allowedModels.includes(request.model)) {
      throw new UserFacingError('sora.model_not_allowed', {
        model: request.model,
        models: settings.allowedModels.map((m) => `\`${m}\``).join(', '),
      });
    }
    const overrides: string[] = [];
    const pick = (name: 'private' | 'watermark', locked: boolean, chosen: boolean | undefined, serverValue: boolean) => {
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
