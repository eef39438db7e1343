import type { ModLogEvent } from '../services/mod-log.js';
import { t, type MessageKey } from './i18n.js';
import { shorten } from './render.js';
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
        reason: t(locale, `modlog.reason.${e.reason}` as MessageKey),
      });
      break;
    case 'settings':
      line = t(locale, 'modlog.settings', { at, user: e.userId, changes: describeChange(locale, e.changes) });
      break;
  }
  return shorten(line, LOG_LINE_MAX);
}

export function renderModLogOverflow(locale: string, n: number): string {
  return t(locale, 'modlog.overflow', { n });
}
