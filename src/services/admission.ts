import type { Clock } from '../clock.js';
import type { ControlsRepository, RefusalReason, RoleRule } from '../db/controls-repository.js';
import { UserFacingError } from '../errors.js';
import type { ModLog } from './mod-log.js';
import { findBlockedTerm, termFromKey } from './prompt-filter.js';
import type { EffectiveSettings, SettingsService } from './settings.js';
import type { ValidatedSoraRequest } from './sora-request.js';

/** The limits a member gets once their roles apply. */
export interface MemberAccess {
  allowed: boolean;
  /** Why not: a role of theirs is denied, or the server allows only some roles and they hold none. */
  refusal?: 'denied' | 'not_allowed';
  /** Roles that would let them in (for the "not allowed" message). */
  allowedRoles: string[];
  dailyLimit: number;
  maxActive: number;
  allowedModels: string[];
}

/** 0 means unlimited, the most generous value of all. */
const mostGenerous = (values: number[]) => (values.includes(0) ? 0 : Math.max(...values));

/**
 * Applies the server's role rules to a member holding `memberRoleIds`.
 *
 * - Access: a denied role refuses, whatever else the member holds (a
 *   moderation tool must not be undone by a cosmetic role); otherwise, once
 *   any role is allowed, the member needs one of the allowed roles.
 * - Overrides: where any of the member's roles sets a limit or a model list,
 *   it replaces the server's (so a role may also restrict, e.g. newcomers),
 *   and among several roles the most generous wins: the highest limit, 0
 *   (unlimited) above all, and the union of model lists.
 * - A rule for a role the server deleted matches nobody: Discord removes a
 *   deleted role from every member, so it never appears in their role ids.
 */
export function resolveMemberAccess(
  server: Pick<EffectiveSettings, 'dailyLimit' | 'maxActive' | 'allowedModels'>,
  rules: readonly RoleRule[],
  memberRoleIds: readonly string[],
): MemberAccess {
  const held = new Set(memberRoleIds);
  const mine = rules.filter((r) => held.has(r.roleId));
  const allowedRoles = rules.filter((r) => r.access === 'allow').map((r) => r.roleId);
  let refusal: MemberAccess['refusal'];
  if (mine.some((r) => r.access === 'deny')) refusal = 'denied';
  else if (allowedRoles.length > 0 && !mine.some((r) => r.access === 'allow')) refusal = 'not_allowed';

  const pick = (field: 'dailyLimit' | 'maxActive') => {
    const values = mine.map((r) => r[field]).filter((v): v is number => v !== null);
    return values.length > 0 ? mostGenerous(values) : server[field];
  };
  const modelLists = mine.map((r) => r.allowedModels).filter((m): m is string[] => m !== null);
  const allowedModels = modelLists.length > 0 ? [...new Set(modelLists.flat())] : [...server.allowedModels];
  return {
    allowed: refusal === undefined,
    ...(refusal ? { refusal } : {}),
    allowedRoles,
    dailyLimit: pick('dailyLimit'),
    maxActive: pick('maxActive'),
    allowedModels,
  };
}

/** Who asks, as admission needs it. */
export interface AdmissionContext {
  guildId: string | null;
  userId: string;
  channelId: string;
  /** The member's role ids from the interaction (the server's id stands for @everyone). */
  memberRoleIds: readonly string[];
}

export interface Admitted {
  /** The server's settings with the member's role overrides applied. */
  settings: EffectiveSettings;
  /** What the video costs in credits on this server. */
  cost: number;
}

/** The text options a member types, which the prompt filter reads as well as the prompt. */
function filteredTexts(request: ValidatedSoraRequest): (string | null)[] {
  return [
    request.prompt,
    request.imageUrl,
    request.characterUrl,
    request.characterTimestamps,
    request.characterFromTask,
  ];
}

/**
 * The server's controls that decide whether a member's `/sora` may go ahead
 * at all, before the row and before anything is sent upstream: blocks, role
 * rules and the prompt filter. The budget itself is counted in the insert's
 * transaction (JobsRepository.insertWithinQuota); its refusals are recorded
 * here. Every refusal is private, and counted for `/sora-config show`.
 */
export class AdmissionService {
  constructor(
    private readonly controls: ControlsRepository,
    private readonly settings: SettingsService,
    private readonly modLog: Pick<ModLog, 'record'> | undefined,
    private readonly clock: Clock,
  ) {}

  /** Throws UserFacingError (shown privately) when the member may not run this request. */
  admit(ctx: AdmissionContext, request: ValidatedSoraRequest, effective: EffectiveSettings): Admitted {
    const cost = this.settings.costLookup(effective)(request.model, request.seconds);
    const guildId = ctx.guildId;
    if (!guildId) return { settings: effective, cost };

    const block = this.controls.block(guildId, ctx.userId);
    if (block) {
      this.refused(ctx, request, 'blocked', null);
      throw block.reason
        ? new UserFacingError('sora.blocked_reason', { reason: block.reason })
        : new UserFacingError('sora.blocked');
    }

    const access = resolveMemberAccess(effective, this.controls.roleRules(guildId), ctx.memberRoleIds);
    if (!access.allowed) {
      this.refused(ctx, request, 'role', { refusal: access.refusal });
      if (access.refusal === 'denied') throw new UserFacingError('sora.role_denied');
      throw new UserFacingError('sora.role_required', {
        roles: access.allowedRoles.map((r) => `<@&${r}>`).join(', '),
      });
    }

    const terms = this.controls.filterTerms(guildId).map((t) => termFromKey(t.key, t.term));
    const hit = findBlockedTerm(filteredTexts(request), terms);
    if (hit) {
      // The audit keeps which term matched; the member and the log are never told.
      this.refused(ctx, request, 'filter', { term: hit.term });
      throw new UserFacingError('sora.filtered');
    }

    return {
      settings: {
        ...effective,
        dailyLimit: access.dailyLimit,
        maxActive: access.maxActive,
        allowedModels: access.allowedModels,
      },
      cost,
    };
  }

  /** The server budget refused the insert: counted and logged like the other refusals. */
  budgetRefused(
    ctx: AdmissionContext,
    request: Pick<ValidatedSoraRequest, 'model' | 'seconds'>,
    reason: 'server_daily_limit' | 'server_daily_credits',
    detail: Record<string, unknown>,
  ): void {
    this.refused(ctx, request, reason, detail);
  }

  private refused(
    ctx: AdmissionContext,
    request: Pick<ValidatedSoraRequest, 'model' | 'seconds'>,
    reason: RefusalReason,
    detail: Record<string, unknown> | null,
  ): void {
    if (!ctx.guildId) return;
    const now = this.clock.now();
    this.controls.recordRefusal(ctx.guildId, ctx.userId, reason, detail, now);
    // Blocks and role refusals are the moderators' own decisions, already known to them: not logged.
    if (reason === 'filter' || reason === 'server_daily_limit' || reason === 'server_daily_credits')
      this.modLog?.record(ctx.guildId, {
        kind: 'refused',
        at: now,
        userId: ctx.userId,
        reason,
        model: request.model,
        seconds: request.seconds,
        channelId: ctx.channelId,
      });
  }
}
