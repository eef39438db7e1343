import type { APIEmbed } from 'discord.js';
import type { AuditEntry } from '../db/settings-repository.js';
import type { ModelProblems } from '../services/model-availability.js';
import type { EffectiveSettings } from '../services/settings.js';
import { t } from './i18n.js';
import { modelWarnings, shorten } from './render.js';

const onOff = (locale: string, v: boolean) => t(locale, v ? 'config.yes' : 'config.no');
const limit = (locale: string, n: number) => (n === 0 ? t(locale, 'config.unlimited') : String(n));

function describeChange(locale: string, changes: Record<string, unknown>): string {
  const parts = Object.entries(changes).map(([k, v]) => {
    if (typeof v === 'boolean') return `${k}=${onOff(locale, v)}`;
    if (v === null) return `${k}=—`;
    if (Array.isArray(v))
      return `${k}=${v.map((x) => (k === 'allowedChannels' ? `<#${String(x)}>` : String(x))).join(',')}`;
    return `${k}=${String(v)}`;
  });
  return shorten(parts.join(', '), 200);
}

/** The `/sora-config show` view: effective settings, today's usage, recent changes. */
export function renderSettings(
  locale: string,
  s: EffectiveSettings,
  usage: { started: number; active: number },
  history: AuditEntry[],
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
  return {
    title: t(locale, 'config.title'),
    color: 0x5865f2,
    fields: [
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
      { name: t(locale, 'config.history'), value: shorten(historyText, 1024) },
    ],
  };
}
