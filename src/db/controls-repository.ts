import type { Db } from './database.js';
import { frozen, settingsVersion, VersionedCache, type SettingsVersion } from './settings-repository.js';

/** What a role changes for its members; null fields leave the server's setting in place. */
export interface RoleRule {
  roleId: string;
  /** allow: may use /sora (once any role is allowed, only they may); deny: may not; null: overrides only. */
  access: 'allow' | 'deny' | null;
  dailyLimit: number | null;
  maxActive: number | null;
  allowedModels: string[] | null;
  updatedAt: number;
  updatedBy: string;
}

export type RoleRulePatch = Partial<Pick<RoleRule, 'access' | 'dailyLimit' | 'maxActive' | 'allowedModels'>>;

export interface MemberBlock {
  userId: string;
  reason: string | null;
  createdAt: number;
  createdBy: string;
}

export interface StoredFilterTerm {
  key: string;
  term: string;
  createdAt: number;
  createdBy: string;
}

/** Why a request was refused before anything went upstream. */
export type RefusalReason = 'blocked' | 'role' | 'filter' | 'server_daily_limit' | 'server_daily_credits';

export interface Refusal {
  userId: string;
  reason: RefusalReason;
  detail: Record<string, unknown> | null;
  createdAt: number;
}

interface RawRule {
  role_id: string;
  access: 'allow' | 'deny' | null;
  daily_limit: number | null;
  max_active: number | null;
  allowed_models: string | null;
  updated_at: number;
  updated_by: string;
}

const toRule = (r: RawRule): RoleRule => ({
  roleId: r.role_id,
  access: r.access,
  dailyLimit: r.daily_limit,
  maxActive: r.max_active,
  allowedModels: r.allowed_models === null ? null : r.allowed_models.split(',').filter(Boolean),
  updatedAt: r.updated_at,
  updatedBy: r.updated_by,
});

/**
 * Role rules, member blocks, the prompt filter and the refusal record. Every
 * change also writes the settings audit in the same transaction, so `show`
 * and the export tell who changed what, whichever list it was — and the
 * audit row is the server's settings version (SettingsVersion), which keeps
 * what every `/sora` reads (its block, the role rules, the filter) in memory
 * until something changes, here or in another process.
 */
export class ControlsRepository {
  private readonly version: SettingsVersion;
  private readonly blocksCache;
  private readonly rulesCache;
  private readonly termsCache;
  private readonly rulesStmt;
  private readonly ruleStmt;
  private readonly upsertRuleStmt;
  private readonly deleteRuleStmt;
  private readonly blocksStmt;
  private readonly upsertBlockStmt;
  private readonly deleteBlockStmt;
  private readonly termsStmt;
  private readonly countTermsStmt;
  private readonly insertTermStmt;
  private readonly deleteTermStmt;
  private readonly deleteTermsStmt;
  private readonly refusalStmt;
  private readonly refusalsSinceStmt;
  private readonly refusalsStmt;
  private readonly auditStmt;

  constructor(private readonly db: Db) {
    this.version = settingsVersion(db);
    this.blocksCache = new VersionedCache<ReadonlyMap<string, MemberBlock>>(this.version);
    this.rulesCache = new VersionedCache<readonly RoleRule[]>(this.version);
    this.termsCache = new VersionedCache<readonly StoredFilterTerm[]>(this.version);
    this.rulesStmt = db.prepare<[string], RawRule>('SELECT * FROM guild_role_rules WHERE guild_id = ? ORDER BY rowid');
    this.ruleStmt = db.prepare<[string, string], RawRule>(
      'SELECT * FROM guild_role_rules WHERE guild_id = ? AND role_id = ?',
    );
    this.upsertRuleStmt = db.prepare(`
      INSERT INTO guild_role_rules (guild_id, role_id, access, daily_limit, max_active, allowed_models, updated_at,
        updated_by)
      VALUES (@guildId, @roleId, @access, @dailyLimit, @maxActive, @allowedModels, @updatedAt, @updatedBy)
      ON CONFLICT (guild_id, role_id) DO UPDATE SET access = excluded.access, daily_limit = excluded.daily_limit,
        max_active = excluded.max_active, allowed_models = excluded.allowed_models,
        updated_at = excluded.updated_at, updated_by = excluded.updated_by`);
    this.deleteRuleStmt = db.prepare<[string, string]>(
      'DELETE FROM guild_role_rules WHERE guild_id = ? AND role_id = ?',
    );
    this.blocksStmt = db.prepare<
      [string],
      { user_id: string; reason: string | null; created_at: number; created_by: string }
    >('SELECT user_id, reason, created_at, created_by FROM guild_blocks WHERE guild_id = ? ORDER BY rowid');
    this.upsertBlockStmt = db.prepare(`
      INSERT INTO guild_blocks (guild_id, user_id, reason, created_at, created_by)
      VALUES (@guildId, @userId, @reason, @now, @by)
      ON CONFLICT (guild_id, user_id) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at,
        created_by = excluded.created_by`);
    this.deleteBlockStmt = db.prepare<[string, string]>('DELETE FROM guild_blocks WHERE guild_id = ? AND user_id = ?');
    this.termsStmt = db.prepare<[string], { term_key: string; term: string; created_at: number; created_by: string }>(
      'SELECT term_key, term, created_at, created_by FROM guild_filter_terms WHERE guild_id = ? ORDER BY rowid',
    );
    this.countTermsStmt = db.prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM guild_filter_terms WHERE guild_id = ?',
    );
    this.insertTermStmt = db.prepare<[string, string, string, number, string]>(
      `INSERT INTO guild_filter_terms (guild_id, term_key, term, created_at, created_by) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (guild_id, term_key) DO NOTHING`,
    );
    this.deleteTermStmt = db.prepare<[string, string]>(
      'DELETE FROM guild_filter_terms WHERE guild_id = ? AND term_key = ?',
    );
    this.deleteTermsStmt = db.prepare<[string]>('DELETE FROM guild_filter_terms WHERE guild_id = ?');
    this.refusalStmt = db.prepare<[string, string, string, string | null, number]>(
      'INSERT INTO guild_refusals (guild_id, user_id, reason, detail, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.refusalsSinceStmt = db.prepare<[string, number], { reason: RefusalReason; n: number }>(
      'SELECT reason, count(*) AS n FROM guild_refusals WHERE guild_id = ? AND created_at >= ? GROUP BY reason',
    );
    this.refusalsStmt = db.prepare<
      [string, number],
      { user_id: string; reason: RefusalReason; detail: string | null; created_at: number }
    >('SELECT user_id, reason, detail, created_at FROM guild_refusals WHERE guild_id = ? ORDER BY id DESC LIMIT ?');
    this.auditStmt = db.prepare<[string, string, string, number]>(
      'INSERT INTO guild_settings_audit (guild_id, user_id, changes, created_at) VALUES (?, ?, ?, ?)',
    );
  }

  // ---- role rules ------------------------------------------------------------

  /** The server's role rules, oldest first (from memory while its settings version holds; frozen: shared). */
  roleRules(guildId: string): readonly RoleRule[] {
    return this.rulesCache.get(guildId, () => frozen(this.rulesStmt.all(guildId).map(toRule)));
  }

  /** Every change writes its audit row through here: the row is the settings version. */
  private audit(guildId: string, userId: string, changes: object, now: number): void {
    this.version.changed(guildId);
    this.auditStmt.run(guildId, userId, JSON.stringify(changes), now);
  }

  /** Merges a change into the role's rule (creating it), and audits it. */
  updateRoleRule(guildId: string, roleId: string, patch: RoleRulePatch, userId: string, now: number): RoleRule {
    return this.db.transaction(() => {
      const current = this.ruleStmt.get(guildId, roleId);
      const next: RoleRule = {
        roleId,
        access: null,
        dailyLimit: null,
        maxActive: null,
        allowedModels: null,
        ...(current ? toRule(current) : {}),
        ...patch,
        updatedAt: now,
        updatedBy: userId,
      };
      this.upsertRuleStmt.run({
        guildId,
        roleId,
        access: next.access,
        dailyLimit: next.dailyLimit,
        maxActive: next.maxActive,
        allowedModels: next.allowedModels?.join(',') ?? null,
        updatedAt: now,
        updatedBy: userId,
      });
      this.audit(guildId, userId, { role: roleId, ...patch }, now);
      return next;
    })();
  }

  /** Forgets every rule of a role. Returns false when it had none. */
  clearRoleRule(guildId: string, roleId: string, userId: string, now: number): boolean {
    return this.db.transaction(() => {
      const removed = this.deleteRuleStmt.run(guildId, roleId).changes > 0;
      if (removed) this.audit(guildId, userId, { role: roleId, cleared: true }, now);
      return removed;
    })();
  }

  // ---- blocks ----------------------------------------------------------------

  /** The member's block, if any: the server's blocks are kept in memory while its settings version holds. */
  block(guildId: string, memberId: string): MemberBlock | undefined {
    const blocks = this.blocksCache.get(
      guildId,
      () => new Map(this.readBlocks(guildId).map((b) => [b.userId, frozen(b)])),
    );
    return blocks.get(memberId);
  }

  blocks(guildId: string): MemberBlock[] {
    return this.readBlocks(guildId);
  }

  private readBlocks(guildId: string): MemberBlock[] {
    return this.blocksStmt
      .all(guildId)
      .map((r) => ({ userId: r.user_id, reason: r.reason, createdAt: r.created_at, createdBy: r.created_by }));
  }

  addBlock(guildId: string, memberId: string, reason: string | null, userId: string, now: number): void {
    this.db.transaction(() => {
      this.upsertBlockStmt.run({ guildId, userId: memberId, reason, now, by: userId });
      this.audit(guildId, userId, { block: memberId, reason }, now);
    })();
  }

  /** Returns false when the member was not blocked. */
  removeBlock(guildId: string, memberId: string, userId: string, now: number): boolean {
    return this.db.transaction(() => {
      const removed = this.deleteBlockStmt.run(guildId, memberId).changes > 0;
      if (removed) this.audit(guildId, userId, { unblock: memberId }, now);
      return removed;
    })();
  }

  // ---- prompt filter ---------------------------------------------------------

  /** The server's filter terms, oldest first (from memory while its settings version holds; frozen: shared). */
  filterTerms(guildId: string): readonly StoredFilterTerm[] {
    return this.termsCache.get(guildId, () =>
      frozen(
        this.termsStmt
          .all(guildId)
          .map((r) => ({ key: r.term_key, term: r.term, createdAt: r.created_at, createdBy: r.created_by })),
      ),
    );
  }

  countFilterTerms(guildId: string): number {
    return this.countTermsStmt.get(guildId)?.n ?? 0;
  }

  /**
   * Adds a term unless the same normalised term is there, or the list is
   * full. The count and the insert share a transaction, so two moderators
   * adding at once cannot pass the cap together.
   */
  addFilterTerm(
    guildId: string,
    key: string,
    term: string,
    max: number,
    userId: string,
    now: number,
  ): 'added' | 'exists' | 'full' {
    return this.db
      .transaction((): 'added' | 'exists' | 'full' => {
        const n = this.countTermsStmt.get(guildId)?.n ?? 0;
        if (n >= max) return 'full';
        if (this.insertTermStmt.run(guildId, key, term, now, userId).changes === 0) return 'exists';
        this.audit(guildId, userId, { filterAdd: term }, now);
        return 'added';
      })
      .immediate();
  }

  removeFilterTerm(guildId: string, key: string, userId: string, now: number): boolean {
    return this.db.transaction(() => {
      const removed = this.deleteTermStmt.run(guildId, key).changes > 0;
      if (removed) this.audit(guildId, userId, { filterRemove: key }, now);
      return removed;
    })();
  }

  /** Empties the filter; returns how many terms it had. */
  clearFilter(guildId: string, userId: string, now: number): number {
    return this.db.transaction(() => {
      const removed = this.deleteTermsStmt.run(guildId).changes;
      if (removed > 0) this.audit(guildId, userId, { filterCleared: removed }, now);
      return removed;
    })();
  }

  // ---- refusals ------------------------------------------------

  recordRefusal(
    guildId: string,
    userId: string,
    reason: RefusalReason,
    detail: Record<string, unknown> | null,
    now: number,
  ): void {
    this.refusalStmt.run(guildId, userId, reason, detail ? JSON.stringify(detail) : null, now);
  }

  /** Refusals since `since`, counted by reason. */
  refusalCounts(guildId: string, since: number): Partial<Record<RefusalReason, number>> {
    const out: Partial<Record<RefusalReason, number>> = {};
    for (const r of this.refusalsSinceStmt.all(guildId, since)) out[r.reason] = r.n;
    return out;
  }

  /** The latest refusals, newest first. */
  refusals(guildId: string, limit: number): Refusal[] {
    return this.refusalsStmt.all(guildId, limit).map((r) => ({
      userId: r.user_id,
      reason: r.reason,
      detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
      createdAt: r.created_at,
    }));
  }
}
