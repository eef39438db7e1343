import type { RefusalReason } from '../db/controls-repository.js';
import type { ModLogEvent } from '../services/mod-log.js';
import { t, type MessageKey } from './i18n.js';
import { formatDuration, shorten } from './render.js';
import { describeChange } from './settings-view.js';

/** Longest excerpt of a public job's prompt in a log line. */
export const LOG_PROMPT_CHARS = 80;
/** No single line may take the whole message. */
export const LOG_LINE_MAX = 400;

const unix = (ms: number) => Math.floor(ms / 1000);

/** A prompt as one inert line: no line breaks, no markdown, no link previews. */
function quotePrompt(prompt: string): string {
  const flat = prompt.replace(/\s+/g, ' ').trim();
  return shorten(flat, LOG_PROMPT_CHARS).replace(/[\\`*_~|>[\]()<]/g, (c) => `\\${c}`);
}

function jobLink(guildId: string, channelId: string, messageId: string | null): string {
  return `https://discord.com/channels/${guildId}/${channelId}${messageId ? `/${messageId}` : ''}`;
}

/** Each refusal's label: a typed table, so a new reason without one fails the build. */
const REFUSAL_LABELS: Record<RefusalReason, MessageKey> = {
  blocked: 'modlog.reason.blocked',
  role: 'modlog.reason.role',
  filter: 'modlog.reason.filter',
  server_daily_limit: 'modlog.reason.server_daily_limit',
  server_daily_credits: 'modlog.reason.server_daily_credits',
};

/**
 * One compact line of the moderator log, in the server's language. A private
 * job's prompt never appears: the line says it is private instead.
 */
export function renderModLogLine(locale: string, guildId: string, e: ModLogEvent): string {
  const at = unix(e.at);
  let line: string;
  switch (e.kind) {
    case 'job_started':
      line = t(locale, 'modlog.started', {
        at,
        user: e.userId,
        id: e.jobId,
        link: jobLink(guildId, e.channelId, e.messageId),
        model: e.model,
        seconds: e.seconds,
        cost: e.cost,
        prompt: e.private ? t(locale, 'modlog.private_prompt') : `“${quotePrompt(e.prompt)}”`,
      });
      break;
    case 'job_failed':
      line = t(locale, 'modlog.failed', {
        at,
        user: e.userId,
        id: e.jobId,
        link: jobLink(guildId, e.channelId, e.messageId),
        model: e.model,
        seconds: e.seconds,
        reason: e.code ? `${e.status}: ${e.code}` : e.status,
      });
      break;
    case 'refused':
      line = t(locale, 'modlog.refused', {
        at,
        user: e.userId,
        channel: e.channelId,
        model: e.model,
        seconds: e.seconds,
        reason: t(locale, REFUSAL_LABELS[e.reason]),
      });
      break;
    case 'settings':
      line = t(locale, 'modlog.settings', { at, user: e.userId, changes: describeChange(locale, e.changes) });
      break;
    case 'service_paused':
      line = t(locale, e.reason === 'quota' ? 'modlog.paused_quota' : 'modlog.paused_auth', {
        at,
        waiting: e.waiting,
        message: quotePrompt(e.message),
      });
      break;
    case 'service_resumed':
      line = t(locale, 'modlog.resumed', { at, duration: formatDuration(locale, e.pausedForMs) });
      break;
  }
  return shorten(line, LOG_LINE_MAX);
}

export function renderModLogOverflow(locale: string, n: number): string {
  return t(locale, 'modlog.overflow', { n });
}
