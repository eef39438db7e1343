import type { ControlsRepository } from '../db/controls-repository.js';
import type { SettingsRepository } from '../db/settings-repository.js';
import type { ModelCapability } from './capabilities.js';
import { costTable } from './costs.js';
import type { SettingsService } from './settings.js';

/** How much history an export carries: enough for a review, small enough for any upload limit. */
export const EXPORT_HISTORY_LIMIT = 5_000;

/**
 * `/sora-config export`: everything a server's moderators configured and
 * what the bot recorded about it, as one JSON document. Discord ids stay
 * strings (they exceed 2^53); times are ISO 8601. It never holds a prompt:
 * refusals name the rule, and the filter's own terms are the moderators'.
 */
export function buildControlsExport(
  deps: { settings: SettingsService; settingsRepo: SettingsRepository; controls: ControlsRepository },
  guildId: string,
  now: number,
  usageToday: { started: number; active: number; credits: number },
  /** The catalogue's models (app.ts's catalogue). */
  models: readonly ModelCapability[],
): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const effective = deps.settings.effective(guildId);
  const stored = deps.settingsRepo.get(guildId);
  const lookup = deps.settings.costLookup(effective);
  const doc = {
    format: 'sora-bot-controls/1',
    guildId,
    exportedAt: iso(now),
    settings: {
      effective: {
        private: effective.private,
        watermark: effective.watermark,
        lockPrivate: effective.lockPrivate,
        lockWatermark: effective.lockWatermark,
        dailyLimit: effective.dailyLimit,
        maxActive: effective.maxActive,
        allowedModels: effective.allowedModels,
        allowedChannels: effective.allowedChannels,
        serverDailyLimit: effective.serverDailyLimit,
        serverDailyCredits: effective.serverDailyCredits,
        logChannel: effective.logChannel,
      },
      /** What this server changed; null fields follow the bot's defaults. */
      overrides: stored ? { ...stored, updatedAt: iso(stored.updatedAt), guildId: undefined } : null,
      costs: costTable(lookup, models),
    },
    usageToday,
    roles: deps.controls.roleRules(guildId).map((r) => ({ ...r, updatedAt: iso(r.updatedAt) })),
    blocks: deps.controls.blocks(guildId).map((b) => ({ ...b, createdAt: iso(b.createdAt) })),
    filter: deps.controls.filterTerms(guildId).map((f) => ({ ...f, createdAt: iso(f.createdAt) })),
    refusals: deps.controls.refusals(guildId, EXPORT_HISTORY_LIMIT).map((r) => ({ ...r, createdAt: iso(r.createdAt) })),
    audit: deps.settings
      .history(guildId, EXPORT_HISTORY_LIMIT)
      .map((a) => ({ userId: a.userId, changes: a.changes, createdAt: iso(a.createdAt) })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
