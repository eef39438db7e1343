import type { Db } from './database.js';

/** A server's stored overrides; null means "use the bot's default". */
export interface GuildSettingsRow {
  guildId: string;
  private: boolean | null;
  watermark: boolean | null;
  lockPrivate: boolean;
  lockWatermark: boolean;
  dailyLimit: number | null;
  maxActive: number | null;
  allowedModels: string[] | null;
  allowedChannels: string[] | null;
  /** Videos the whole server may start per UTC day. */
  serverDailyLimit: number | null;
  /** Credits the whole server may spend per UTC day. */
  serverDailyCredits: number | null;
  /** Cost overrides over the bot's cost table (see services/costs.ts). */
  costs: Record<string, number> | null;
  /** Where the moderator log goes. */
  logChannel: string | null;
  updatedAt: number;
  updatedBy: string;
}

export type GuildSettingsPatch = Partial<Omit<GuildSettingsRow, 'guildId' | 'updatedAt' | 'updatedBy'>>;

export interface AuditEntry {
  guildId: string;
  userId: string;
  changes: Record<string, unknown>;
  createdAt: number;
}

interface RawSettings {
  guild_id: string;
  private: number | null;
  watermark: number | null;
  lock_private: number;
  lock_watermark: number;
  daily_limit: number | null;
  max_active: number | null;
  allowed_models: string | null;
  allowed_channels: string | null;
  server_daily_limit: number | null;
  server_daily_credits: number | null;
  costs: string | null;
  log_channel: string | null;
  updated_at: number;
  updated_by: string;
}

const bool = (v: number | null) => (v === null ? null : v === 1);
const list = (v: string | null) => (v === null ? null : v.split(',').filter(Boolean));

function toSettings(r: RawSettings): GuildSettingsRow {
  return {
    guildId: r.guild_id,
    private: bool(r.private),
    watermark: bool(r.watermark),
    lockPrivate: r.lock_private === 1,
    lockWatermark: r.lock_watermark === 1,
    dailyLimit: r.daily_limit,
    maxActive: r.max_active,
    allowedModels: list(r.allowed_models),
    allowedChannels: list(r.allowed_channels),
    serverDailyLimit: r.server_daily_limit,
    serverDailyCredits: r.server_daily_credits,
    costs: r.costs === null ? null : (JSON.parse(r.costs) as Record<string, number>),
    logChannel: r.log_channel,
    updatedAt: r.updated_at,
    updatedBy: r.updated_by,
  };
}

export class SettingsRepository {
  private readonly getStmt;
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly auditStmt;
  private readonly historyStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string], RawSettings>('SELECT * FROM guild_settings WHERE guild_id = ?');
    this.upsertStmt = db.prepare(`
      INSERT INTO guild_settings (guild_id, private, watermark, lock_private, lock_watermark, daily_limit, max_active,
        allowed_models, allowed_channels, server_daily_limit, server_daily_credits, costs, log_channel, updated_at,
        updated_by)
      VALUES (@guildId, @private, @watermark, @lockPrivate, @lockWatermark, @dailyLimit, @maxActive, @allowedModels,
        @allowedChannels, @serverDailyLimit, @serverDailyCredits, @costs, @logChannel, @updatedAt, @updatedBy)
      ON CONFLICT (guild_id) DO UPDATE SET private = excluded.private, watermark = excluded.watermark,
        lock_private = excluded.lock_private, lock_watermark = excluded.lock_watermark,
        daily_limit = excluded.daily_limit, max_active = excluded.max_active,
        allowed_models = excluded.allowed_models, allowed_channels = excluded.allowed_channels,
        server_daily_limit = excluded.server_daily_limit, server_daily_credits = excluded.server_daily_credits,
        costs = excluded.costs, log_channel = excluded.log_channel,
        updated_at = excluded.updated_at, updated_by = excluded.updated_by`);
    this.deleteStmt = db.prepare<[string]>('DELETE FROM guild_settings WHERE guild_id = ?');
    this.auditStmt = db.prepare<[string, string, string, number]>(
      'INSERT INTO guild_settings_audit (guild_id, user_id, changes, created_at) VALUES (?, ?, ?, ?)',
    );
    this.historyStmt = db.prepare<
      [string, number],
      { guild_id: string; user_id: string; changes: string; created_at: number }
    >(
      'SELECT guild_id, user_id, changes, created_at FROM guild_settings_audit WHERE guild_id = ? ORDER BY id DESC LIMIT ?',
    );
  }

  get(guildId: string): GuildSettingsRow | undefined {
    const r = this.getStmt.get(guildId);
    return r && toSettings(r);
  }

  /** Applies a change and records who made it, in one transaction. */
  update(guildId: string, patch: GuildSettingsPatch, userId: string, now: number): GuildSettingsRow {
    return this.db.transaction(() => {
      const current = this.get(guildId);
      const next: GuildSettingsRow = {
        guildId,
        private: null,
        watermark: null,
        lockPrivate: false,
        lockWatermark: false,
        dailyLimit: null,
        maxActive: null,
        allowedModels: null,
        allowedChannels: null,
        serverDailyLimit: null,
        serverDailyCredits: null,
        costs: null,
        logChannel: null,
        ...current,
        ...patch,
        updatedAt: now,
        updatedBy: userId,
      };
      const b = (v: boolean | null) => (v === null ? null : v ? 1 : 0);
      this.upsertStmt.run({
        guildId,
        private: b(next.private),
        watermark: b(next.watermark),
        lockPrivate: next.lockPrivate ? 1 : 0,
        lockWatermark: next.lockWatermark ? 1 : 0,
        dailyLimit: next.dailyLimit,
        maxActive: next.maxActive,
        allowedModels: next.allowedModels?.join(',') ?? null,
        allowedChannels: next.allowedChannels?.join(',') ?? null,
        serverDailyLimit: next.serverDailyLimit,
        serverDailyCredits: next.serverDailyCredits,
        costs: next.costs ? JSON.stringify(next.costs) : null,
        logChannel: next.logChannel,
        updatedAt: now,
        updatedBy: userId,
      });
      this.auditStmt.run(guildId, userId, JSON.stringify(patch), now);
      return next;
    })();
  }

  /** Forgets a server's overrides (back to the bot's defaults), keeping the audit trail. */
  reset(guildId: string, userId: string, now: number): void {
    this.db.transaction(() => {
      this.deleteStmt.run(guildId);
      this.auditStmt.run(guildId, userId, JSON.stringify({ reset: true }), now);
    })();
  }

  history(guildId: string, limit: number): AuditEntry[] {
    return this.historyStmt.all(guildId, limit).map((r) => ({
      guildId: r.guild_id,
      userId: r.user_id,
      changes: JSON.parse(r.changes) as Record<string, unknown>,
      createdAt: r.created_at,
    }));
  }
}
