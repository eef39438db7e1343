import type { APIEmbed } from 'discord.js';
import type { MemberBlock, RefusalReason, RoleRule, StoredFilterTerm } from '../db/controls-repository.js';
import type { AuditEntry } from '../db/settings-repository.js';
import type { ModelProblems } from '../services/model-availability.js';
import type { EffectiveSettings } from '../services/settings.js';
import { t } from './i18n.js';
import { modelWarnings, shorten } from './render.js';

const onOff = (locale: string, v: boolean) => t(locale, v ? 'config.yes' : 'config.no');
const limit = (locale: string, n: number) => (n === 0 ? t(locale, 'config.unlimited') : String(n));

/** How a changed value reads: ids as mentions, so a moderator sees names. */
const MENTION: Record<string, (id: string) => string> = {
  allowedChannels: (id) => `<#${id}>`,
  logChannel: (id) => `<#${id}>`,
  role: (id) => `<@&${id}>`,
  block: (id) => `<@${id}>`,
  unblock: (id) => `<@${id}>`,
};

export function describeChange(locale: string, changes: Record<string, unknown>): string {
  const parts = Object.entries(changes).map(([k, v]) => {
    const mention = MENTION[k];
    if (typeof v === 'boolean') return `${k}=${onOff(locale, v)}`;
    if (v === null) return `${k}=—`;
    if (Array.isArray(v)) return `${k}=${v.map((x) => (mention ? mention(String(x)) : String(x))).join(',')}`;
    if (typeof v === 'object')
      return `${k}=${Object.entries(v as Record<string, unknown>)
        .map(([a, b]) => `${a}:${String(b)}`)
        .join(',')}`;
    return `${k}=${mention ? mention(String(v as string)) : String(v as string | number)}`;
  });
  return shorten(parts.join(', '), 200);
}

/** What `/sora-config show` adds about the server's controls (issue #17). */
export interface ControlsSummary {
  /** Credits spent today. */
  credits: number;
  /** When today's budget resets (ms). */
  resetAt: number;
  /** Every model × length with its cost, and whether this server changed it. */
  costs: { model: string; seconds: number; credits: number; changed: boolean }[];
  roleRules: number;
  blocks: number;
  filterTerms: number;
  refusals: Partial<Record<RefusalReason, number>>;
}

/** What moderators should know about the bot's video service as a whole. */
export interface ServiceSummary {
  /** Set while the line is paused because the provider refuses every job. */
  paused?: { reason: 'quota' | 'auth'; message: string; since: number };
}

/** The `/sora-config show` view: effective settings, today's usage, recent changes. */
export function renderSettings(
  locale: string,
  s: EffectiveSettings,
  usage: { started: number; active: number },
  history: AuditEntry[],
  controls?: ControlsSummary,
  service?: ServiceSummary,
  models?: ModelProblems,
): APIEmbed {
  const lock = (locked: boolean) => (locked ? t(locale, 'config.locked') : '');
  const historyText =
    history.length === 0
      ? t(locale, 'config.history_none')
      : history
          .map((h) =>
            t(locale, 'config.history_entry', {
              at: Math.floor(h.createdAt / 1000),
              user: h.userId,
              changes: describeChange(locale, h.changes),
            }),
          )
          .join('\n');
  const fields: APIEmbed['fields'] = [
    {
      name: t(locale, 'config.defaults'),
      value: [
        t(locale, 'config.private', { value: onOff(locale, s.private), lock: lock(s.lockPrivate) }),
        t(locale, 'config.watermark', { value: onOff(locale, s.watermark), lock: lock(s.lockWatermark) }),
      ].join('\n'),
    },
    {
      name: t(locale, 'config.limits'),
      value: [
        t(locale, 'config.daily_limit', { value: limit(locale, s.dailyLimit) }),
        t(locale, 'config.max_active', { value: limit(locale, s.maxActive) }),
      ].join('\n'),
    },
    { name: t(locale, 'config.models'), value: s.allowedModels.map((m) => `\`${m}\``).join(', '), inline: true },
    ...modelWarnings(locale, models),
    {
      name: t(locale, 'config.channels'),
      value:
        s.allowedChannels.length === 0
          ? t(locale, 'config.channels_all')
          : s.allowedChannels.map((c) => `<#${c}>`).join(', '),
      inline: true,
    },
    { name: t(locale, 'config.usage'), value: t(locale, 'config.usage_value', usage) },
  ];
  if (controls) {
    const r = controls.refusals;
    fields.push(
      {
        name: t(locale, 'config.budget'),
        value: [
          t(locale, 'config.budget_videos', { used: usage.started, max: limit(locale, s.serverDailyLimit) }),
          t(locale, 'config.budget_credits', { used: controls.credits, max: limit(locale, s.serverDailyCredits) }),
          t(locale, 'config.budget_reset', { reset: `<t:${Math.floor(controls.resetAt / 1000)}:R>` }),
        ].join('\n'),
        inline: true,
      },
      {
        name: t(locale, 'config.costs'),
        value: shorten(
          [
            ...controls.costs.map((c) => `\`${c.model}\` ${c.seconds} s: **${c.credits}**${c.changed ? '*' : ''}`),
            ...(controls.costs.some((c) => c.changed) ? [t(locale, 'config.costs_changed')] : []),
          ].join('\n'),
          1024,
        ),
        inline: true,
      },
      {
        name: t(locale, 'config.log'),
        value: s.logChannel ? `<#${s.logChannel}>` : t(locale, 'config.log_off'),
        inline: true,
      },
      {
        name: t(locale, 'config.controls'),
        value: t(locale, 'config.controls_value', {
          roles: controls.roleRules,
          blocks: controls.blocks,
          terms: controls.filterTerms,
        }),
      },
      {
        name: t(locale, 'config.refusals'),
        value: t(locale, 'config.refusals_value', {
          blocked: r.blocked ?? 0,
          role: r.role ?? 0,
          filter: r.filter ?? 0,
          budget: (r.server_daily_limit ?? 0) + (r.server_daily_credits ?? 0),
        }),
      },
    );
  }
  fields.push({ name: t(locale, 'config.history'), value: shorten(historyText, 1024) });
  if (service?.paused) {
    const p = service.paused;
    fields.unshift({
      name: t(locale, 'config.service_paused'),
      value: shorten(
        t(locale, p.reason === 'quota' ? 'config.service_paused_quota' : 'config.service_paused_auth', {
          since: `<t:${Math.floor(p.since / 1000)}:R>`,
          message: p.message,
        }),
        1024,
      ),
    });
  }
  return { title: t(locale, 'config.title'), color: service?.paused ? 0xfee75c : 0x5865f2, fields };
}

/** One role's rules in a line. */
function describeRule(locale: string, rule: RoleRule): string {
  const parts: string[] = [];
  if (rule.access === 'allow') parts.push(t(locale, 'config.role_allow'));
  if (rule.access === 'deny') parts.push(t(locale, 'config.role_deny'));
  if (rule.dailyLimit !== null) parts.push(t(locale, 'config.role_daily', { value: limit(locale, rule.dailyLimit) }));
  if (rule.maxActive !== null) parts.push(t(locale, 'config.role_active', { value: limit(locale, rule.maxActive) }));
  if (rule.allowedModels !== null)
    parts.push(t(locale, 'config.role_models', { models: rule.allowedModels.map((m) => `\`${m}\``).join(', ') }));
  return parts.join(' · ');
}

/**
 * `/sora-config role list`. `roleExists` tells which role ids the server
 * still has (from the gateway's cache); a deleted one is shown as such, not
 * as an error, so a moderator can clear it.
 */
export function renderRoleRules(
  locale: string,
  rules: readonly RoleRule[],
  roleExists: (id: string) => boolean | undefined,
): APIEmbed {
  if (rules.length === 0)
    return { title: t(locale, 'config.roles_title'), color: 0x5865f2, description: t(locale, 'config.roles_empty') };
  const lines = rules.map((r) => {
    const gone = roleExists(r.roleId) === false ? ` ${t(locale, 'config.role_deleted')}` : '';
    return `<@&${r.roleId}>${gone}: ${describeRule(locale, r)}`;
  });
  const notes = [t(locale, 'config.roles_help')];
  if (rules.some((r) => r.access === 'allow')) notes.unshift(t(locale, 'config.roles_allow_note'));
  return {
    title: t(locale, 'config.roles_title'),
    color: 0x5865f2,
    description: shorten([...lines, '', ...notes].join('\n'), 4096),
  };
}

export function renderBlocks(locale: string, blocks: readonly MemberBlock[]): APIEmbed {
  const description =
    blocks.length === 0
      ? t(locale, 'config.blocks_empty')
      : blocks
          .map((b) =>
            t(locale, 'config.block_line', {
              user: b.userId,
              at: Math.floor(b.createdAt / 1000),
              by: b.createdBy,
              reason: b.reason ? ` · ${shorten(b.reason.replace(/\s+/g, ' '), 100)}` : '',
            }),
          )
          .join('\n');
  return { title: t(locale, 'config.blocks_title'), color: 0x5865f2, description: shorten(description, 4096) };
}

/** Terms as code spans: a moderator sees exactly what is stored, and nothing renders as markdown. */
export const showTerm = (term: string) => `\`${term.replace(/`/g, 'ˋ')}\``;

export function renderFilter(locale: string, terms: readonly StoredFilterTerm[]): APIEmbed {
  const help = t(locale, 'config.filter_help');
  if (terms.length === 0)
    return {
      title: t(locale, 'config.filter_title'),
      color: 0x5865f2,
      description: `${t(locale, 'config.filter_list_empty')}\n\n${help}`,
    };
  // Embed descriptions hold 4,096 characters; the export has the whole list.
  const room = 4096 - help.length - 80;
  const shown: string[] = [];
  let length = 0;
  for (const term of terms) {
    const item = showTerm(term.term);
    if (length + item.length + 3 > room) break;
    shown.push(item);
    length += item.length + 3;
  }
  const more = terms.length - shown.length;
  return {
    title: `${t(locale, 'config.filter_title')} (${terms.length})`,
    color: 0x5865f2,
    description: [
      shown.join(' · '),
      ...(more > 0 ? [t(locale, 'config.filter_more', { n: more })] : []),
      '',
      help,
    ].join('\n'),
  };
}
