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

/**
 * A server's settings version, which lets `/sora` keep what it reads of the
 * settings and controls in memory: the id of the server's latest audit row.
 * Every change of a server's settings, role rules, blocks or filter writes
 * that row in the change's own transaction (here and in ControlsRepository,
 * always through their `audit` helper), so a different id means something
 * changed — whichever process sharing the database file changed it, which an
 * in-process flag could not tell. One indexed read instead of four reads and
 * their parsing per command.
 *
 * A version read is reused until the current synchronous run of code ends
 * (the next microtask): the checks of one command before its deferral read
 * it once, and see the server as of that moment, as their separate reads did
 * before. A write in this process forgets the reused value at once.
 */
export class SettingsVersion {
  private readonly stmt;
  private readonly reused = new Map<string, number>();
  private clearQueued = false;

  constructor(private readonly db: Db) {
    this.stmt = db
      .prepare<[string], number>('SELECT id FROM guild_settings_audit WHERE guild_id = ? ORDER BY id DESC LIMIT 1')
      .pluck();
  }

  /**
   * The server's current version (0: never changed); undefined inside a
   * transaction, whose reads may see changes not committed yet — nothing read
   * there is kept. Read the cached data after this, never before.
   */
  current(guildId: string): number | undefined {
    if (this.db.inTransaction) return undefined;
    const known = this.reused.get(guildId);
    if (known !== undefined) return known;
    const version = this.stmt.get(guildId) ?? 0;
    this.reused.set(guildId, version);
    if (!this.clearQueued) {
      this.clearQueued = true;
      queueMicrotask(() => {
        this.clearQueued = false;
        this.reused.clear();
      });
    }
    return version;
  }

  /** A change of this server is being written in this process. */
  changed(guildId: string): void {
    this.reused.delete(guildId);
  }
}

/** One version per database connection, shared by the repositories that cache through it. */
const versions = new WeakMap<Db, SettingsVersion>();
export function settingsVersion(db: Db): SettingsVersion {
  let version = versions.get(db);
  if (!version) versions.set(db, (version = new SettingsVersion(db)));
  return version;
}

/**
 * Per-server cached values, each stored with the settings version it was read
 * at (read the version first: a change landing between the two reads then
 * only makes the next look read again). Bounded: past `max` servers the
 * oldest entry goes.
 */
export class VersionedCache<T> {
  private readonly entries = new Map<string, { version: number; value: T }>();

  constructor(
    private readonly version: SettingsVersion,
    private readonly max = 10_000,
  ) {}

  get(guildId: string, read: () => T): T {
    const version = this.version.current(guildId);
    if (version === undefined) return read();
    const entry = this.entries.get(guildId);
    if (entry && entry.version === version) return entry.value;
    const value = read();
    if (!entry && this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(guildId, { version, value });
    return value;
  }
}

/** Cached values are shared by every caller: frozen, so a caller that changed one would throw, not spread it. */
export function frozen<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

export class SettingsRepository {
  private readonly version;
  private readonly cache;
  private readonly getStmt;
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly auditStmt;
  private readonly historyStmt;

  constructor(private readonly db: Db) {
    this.version = settingsVersion(db);
    this.cache = new VersionedCache<GuildSettingsRow | undefined>(this.version);
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

  /** The server's stored overrides, from memory while its settings version holds (frozen: shared). */
  get(guildId: string): GuildSettingsRow | undefined {
    return this.cache.get(guildId, () => {
      const r = this.getStmt.get(guildId);
      return r && frozen(toSettings(r));
    });
  }

  /** Every change writes its audit row through here: the row is the settings version (SettingsVersion). */
  private audit(guildId: string, userId: string, changes: object, now: number): void {
    this.version.changed(guildId);
    this.auditStmt.run(guildId, userId, JSON.stringify(changes), now);
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
      this.audit(guildId, userId, patch, now);
      return next;
    })();
  }

  /** Forgets a server's overrides (back to the bot's defaults), keeping the audit trail. */
  reset(guildId: string, userId: string, now: number): void {
    this.db.transaction(() => {
      this.deleteStmt.run(guildId);
      this.audit(guildId, userId, { reset: true }, now);
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
