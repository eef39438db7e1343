import {
  ButtonStyle,
  ComponentType,
  type APIEmbed,
  type APIEmbedField,
  type APIAllowedMentions,
  type APIActionRowComponent,
  type APIButtonComponent,
} from 'discord.js';
import { customIds } from '../commands/custom-ids.js';
import type { Job } from '../db/jobs-repository.js';
import { deliveryMarker } from '../jobs/delivery-marker.js';
import type { ModelProblems } from '../services/model-availability.js';
import { isIn, type JobStatus } from '../jobs/lifecycle.js';
import {
  resolveLocale,
  SUPPORTED_LOCALES,
  t,
  type MessageKey,
  type MessageParams,
  type SupportedLocale,
} from './i18n.js';

/**
 * Everything members see is built here, from a job row and a locale.
 * Handlers and services only decide *what* to show; this module decides how.
 */

/** A message body accepted by every Discord route we use (webhook and channel). */
export interface MessageBody {
  content: string;
  embeds: APIEmbed[];
  components: APIActionRowComponent<APIButtonComponent>[];
  allowed_mentions: APIAllowedMentions;
}

/** Never ping anyone, whatever a prompt or an upstream error says. */
export const NO_MENTIONS: APIAllowedMentions = { parse: [] };

const COLORS: Record<JobStatus, number> = {
  waiting: 0x99aab5,
  submitting: 0x5865f2,
  queued: 0x5865f2,
  in_progress: 0x5865f2,
  completed: 0x57f287,
  delivering: 0x57f287,
  delivered: 0x57f287,
  delivery_failed: 0xfee75c,
  failed: 0xed4245,
  timed_out: 0xed4245,
  submit_failed: 0xed4245,
  withdrawn: 0x99aab5,
  cancelled: 0x99aab5,
};

/** Each status's label: a typed table, so a new status without a label fails the build. */
export const STATUS_LABELS: Record<JobStatus, MessageKey> = {
  waiting: 'job.status.waiting',
  submitting: 'job.status.submitting',
  submit_failed: 'job.status.submit_failed',
  queued: 'job.status.queued',
  in_progress: 'job.status.in_progress',
  completed: 'job.status.completed',
  delivering: 'job.status.delivering',
  delivered: 'job.status.delivered',
  delivery_failed: 'job.status.delivery_failed',
  failed: 'job.status.failed',
  timed_out: 'job.status.timed_out',
  withdrawn: 'job.status.withdrawn',
  cancelled: 'job.status.cancelled',
};

/** The settings a server lock can force (Job.overrides), and their labels. */
const OVERRIDE_LABELS: Record<string, MessageKey> = {
  private: 'job.option.private',
  watermark: 'job.option.watermark',
};

const PROMPT_PREVIEW = 300;
const BAR_CELLS = 12;

export function shorten(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** Keeps member text from breaking out of the embed's formatting. */
function quoteBlock(text: string): string {
  return shorten(text, PROMPT_PREVIEW)
    .split('\n')
    .map((l) => `> ${l.replace(/[`*_~|]/g, (c) => `\\${c}`)}`)
    .join('\n');
}

export function progressBar(percent: number): string {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  const filled = Math.round((p / 100) * BAR_CELLS);
  return `${'█'.repeat(filled)}${'░'.repeat(BAR_CELLS - filled)} ${p}%`;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} B`;
}

export function formatDuration(locale: string, ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  return s < 90 ? t(locale, 'duration.seconds', { n: s }) : t(locale, 'duration.minutes', { n: Math.round(s / 60) });
}

const unix = (ms: number) => Math.floor(ms / 1000);

/** What is visible to a member, minus what Discord updates by itself (relative timestamps). */
export interface ProgressView {
  status: JobStatus;
  progress: number;
  /** Estimated milliseconds left, when progress (or the history of earlier jobs) allows an estimate. */
  etaMs?: number;
  /** The estimate comes from earlier jobs, not this job's progress: it is labelled so. */
  etaEstimated?: boolean;
  /** While waiting: the place in the line (1 = next), and whether the line is paused. */
  position?: number;
  paused?: boolean;
}

/**
 * Places shown exactly up to here; further back, to two significant figures
 * (at least to the ten: 87 → about 80th, 437 → about 430th, 1,234 → about
 * 1,200th), so a long line, which moves by one with every member who joins
 * ahead in fairness, does not edit hundreds of replies on every move (each
 * reply edits at most once per PROGRESS_EDIT_SECONDS anyway).
 */
export const EXACT_PLACES = 50;

function shownPlace(position: number): { exact: boolean; n: number } {
  if (position <= EXACT_PLACES) return { exact: true, n: position };
  const step = Math.max(10, 10 ** (Math.floor(Math.log10(position)) - 1));
  return { exact: false, n: Math.floor(position / step) * step };
}

const ORDINAL_KEYS: Record<Intl.LDMLPluralRule, MessageKey> = {
  zero: 'ordinal.other',
  one: 'ordinal.one',
  two: 'ordinal.two',
  few: 'ordinal.few',
  many: 'ordinal.other',
  other: 'ordinal.other',
};

/**
 * Per language, its ordinal rules and its number format (1,200 in English and Chinese), built once when
 * the module loads, at start-up: building one costs more than the rest of a progress render, and the
 * first one built takes ~20 ms (ICU loads its data), which in a refresh of the line held back the
 * acknowledgements arriving meanwhile (bench part 1e).
 */
const FORMATS = Object.fromEntries(
  SUPPORTED_LOCALES.map((lang) => [
    lang,
    { ordinal: new Intl.PluralRules(lang, { type: 'ordinal' }), number: new Intl.NumberFormat(lang) },
  ]),
) as Record<SupportedLocale, { ordinal: Intl.PluralRules; number: Intl.NumberFormat }>;

/** `3rd` in English, `3` where the language puts the ordinal in the sentence (Chinese: 第 3 位). */
export function ordinal(locale: string, n: number): string {
  const formats = FORMATS[resolveLocale(locale)];
  return t(locale, ORDINAL_KEYS[formats.ordinal.select(n)], { n: formats.number.format(n) });
}

/**
 * The key that changes exactly when the visible progress display changes:
 * status, percentage, and the rounded estimate. Elapsed time is a Discord
 * relative timestamp (`<t:…:R>`) that members' clients update on their own,
 * so it costs no edits.
 */
export function progressKey(locale: string, view: ProgressView): string {
  const eta = view.etaMs === undefined ? '' : formatDuration(locale, view.etaMs);
  const place = view.position === undefined ? '' : JSON.stringify(shownPlace(view.position));
  return `${view.status}|${Math.round(view.progress)}|${eta}${view.etaEstimated ? '~' : ''}|${place}|${view.paused ? 'paused' : ''}`;
}

function parameterFields(job: Job, locale: string): APIEmbedField[] {
  const options: string[] = [];
  if (job.private) options.push(t(locale, 'job.option.private'));
  if (job.watermark) options.push(t(locale, 'job.option.watermark'));
  if (job.imagePath || job.imageUrl) options.push(t(locale, 'job.option.image'));
  if (job.characterUrl || job.characterFromTask) options.push(t(locale, 'job.option.character'));
  const fields: APIEmbedField[] = [
    { name: t(locale, 'job.field.model'), value: job.model, inline: true },
    {
      name: t(locale, 'job.field.duration'),
      value: t(locale, 'job.value.seconds', { seconds: job.seconds }),
      inline: true,
    },
    { name: t(locale, 'job.field.size'), value: job.size, inline: true },
  ];
  if (job.overrides.length > 0) {
    const settings = job.overrides
      .map((name) => (OVERRIDE_LABELS[name] ? t(locale, OVERRIDE_LABELS[name]) : name))
      .join(', ');
    options.push(t(locale, 'job.locked_note', { settings }));
  }
  if (options.length > 0)
    fields.push({ name: t(locale, 'job.field.options'), value: options.join(', '), inline: false });
  return fields;
}

function statusLine(locale: string, view: ProgressView): string {
  const label = t(locale, STATUS_LABELS[view.status]);
  if (isIn(view.status, 'polled')) return `${label}\n\`${progressBar(view.progress)}\``;
  if (!isIn(view.status, 'inLine')) return label;
  if (view.paused) return `${label}\n${t(locale, 'job.value.paused')}`;
  if (view.position === undefined) return label;
  const place = shownPlace(view.position);
  const where = t(locale, place.exact ? 'job.value.position' : 'job.value.position_far', {
    ordinal: ordinal(locale, place.n),
  });
  return `${label} — ${where}`;
}

/** The public reply while the job runs, and after it ends (with the reason, when it ended without a video). */
export function renderJob(job: Job, view: ProgressView = { status: job.status, progress: job.progress }): MessageBody {
  const locale = job.locale;
  const fields: APIEmbedField[] = [
    { name: t(locale, 'job.field.status'), value: statusLine(locale, view), inline: false },
  ];
  if (view.etaMs !== undefined && isIn(view.status, 'polled')) {
    fields.push({
      name: t(locale, 'job.field.eta'),
      value: t(locale, view.etaEstimated ? 'job.value.eta_estimated' : 'job.value.eta', {
        eta: formatDuration(locale, view.etaMs),
      }),
      inline: true,
    });
  }
  fields.push({ name: t(locale, 'job.field.started'), value: `<t:${unix(job.createdAt)}:R>`, inline: true });
  fields.push(...parameterFields(job, locale));
  if (view.status === 'delivered' && job.deliveredMessageId && job.guildId) {
    const link = `https://discord.com/channels/${job.guildId}/${job.channelId}/${job.deliveredMessageId}`;
    fields.push({
      name: t(locale, 'jobs.field.message'),
      value: t(locale, 'job.delivered_here', { link }),
      inline: false,
    });
  }
  if (isIn(view.status, 'failure')) fields.push(reasonField(locale, job));
  const embed: APIEmbed = {
    title: t(locale, 'job.title'),
    description: quoteBlock(job.prompt),
    color: COLORS[view.status],
    fields,
    timestamp: new Date(job.createdAt).toISOString(),
  };
  if (job.upstreamId) embed.footer = { text: `${t(locale, 'job.field.task')}: ${job.upstreamId}` };
  const components = isIn(view.status, 'cancellable') ? [cancelRow(job)] : [];
  return { content: '', embeds: [embed], components, allowed_mentions: NO_MENTIONS };
}

/** The "Reason" field of a job that ended without a video. */
export function reasonField(locale: string, job: Job): APIEmbedField {
  const reason = failureReason(job);
  return {
    name: t(locale, 'job.field.reason'),
    value: shorten(t(locale, reason.key, reason.params), 1024),
    inline: false,
  };
}

/** A link to a message (a server's channel, or a DM when there is no server). */
export function messageLink(guildId: string | null, channelId: string, messageId: string): string {
  return `https://discord.com/channels/${guildId ?? '@me'}/${channelId}/${messageId}`;
}

/** What an old reply says once the job's progress moved to a fresh message. */
export function renderMovedReply(job: Job, link: string): MessageBody {
  const body = renderJob(job);
  const embed = {
    ...body.embeds[0]!,
    fields: [{ name: t(job.locale, 'job.field.status'), value: t(job.locale, 'job.moved', { link }), inline: false }],
  };
  return { ...body, embeds: [embed], components: [] };
}

/** Why a finished job has no video, as a catalogue entry. */
export function failureReason(job: Job): { key: MessageKey; params?: MessageParams } {
  if (job.status === 'timed_out') {
    // The job carries its own limit: the deadline it was given at submission.
    const waited = (job.deadlineAt ?? job.finishedAt ?? job.createdAt) - (job.submittedAt ?? job.createdAt);
    return { key: 'job.timed_out_reason', params: { minutes: Math.max(1, Math.round(waited / 60_000)) } };
  }
  const by = job.cancelledBy ? `<@${job.cancelledBy}>` : '—';
  if (job.status === 'withdrawn') return { key: 'job.withdrawn_reason', params: { user: by } };
  if (job.status === 'cancelled')
    return {
      key: job.errorCode === 'cancel_stopped' ? 'job.cancelled_stopped' : 'job.cancelled_not_stopped',
      params: { user: by },
    };
  if (job.status === 'submit_failed') {
    if (job.errorCode === 'interrupted') return { key: 'job.submit_interrupted' };
    if (job.errorCode === 'not_prepared') return { key: 'job.submit_not_prepared' };
    if (job.errorCode === 'unavailable')
      return { key: 'job.submit_unavailable', params: { message: shorten(job.errorMessage ?? '', 500) } };
    if (job.errorCode === 'unknown')
      return { key: 'job.submit_unknown', params: { message: shorten(job.errorMessage ?? '', 500) } };
    if (job.errorCode === 'image_unreadable') return { key: 'sora.image_unreadable' };
    if (job.errorCode === 'model_unavailable')
      return { key: 'job.submit_model_unavailable', params: { model: job.model } };
    return { key: 'job.submit_rejected', params: { message: shorten(job.errorMessage ?? '', 500) } };
  }
  if (job.status === 'delivery_failed')
    // A link known to have expired is never offered.
    return job.errorCode === 'link_expired'
      ? { key: 'final.link_expired' }
      : job.videoUrl
        ? { key: 'job.delivery_failed_reason', params: { url: job.videoUrl } }
        : { key: 'job.delivery_failed_nolink' };
  // The provider forgot the task (404, new-api's 400 task_not_exist) or deleted its result (410).
  if (job.errorCode === 'not_found' || job.errorCode === 'task_not_exist') return { key: 'job.task_gone' };
  if (job.errorCode === 'result_deleted') return { key: 'job.result_deleted' };
  if (!job.errorMessage) {
    // A bare status with no reason (`cancelled`, `expired`): say what the status means.
    if (job.errorCode === 'cancelled') return { key: 'job.failed_cancelled' };
    if (job.errorCode === 'expired') return { key: 'job.failed_expired' };
    return { key: 'job.failed_unknown' };
  }
  const message = job.errorCode ? `${job.errorMessage} (\`${job.errorCode}\`)` : job.errorMessage;
  return { key: 'job.failed_reason', params: { message: shorten(message, 900) } };
}

/** A video link as the delivery message shows it; `expiresAt` when the provider said when it stops working. */
export interface VideoLink {
  url: string;
  expiresAt?: number;
}

/** The attached file is a smaller re-encode of the original, which is linked when a link exists. */
export interface ReencodedNote {
  originalSize: number;
  size: number;
  /** The upload limit it was made to fit. */
  limit: number;
  original?: VideoLink;
}

/**
 * The new message that carries the video (or its link) and pings only the
 * member. `link`: the video goes as a link, because it is over the channel's
 * upload limit (`tooLarge`, with its size when known) or could not be fetched
 * here; a link known to expire says until when. `reencoded`: the attachment
 * is a re-encode that fits the limit.
 */
export function renderDelivery(
  job: Job,
  link: (VideoLink & { tooLarge: boolean; size?: number; limit?: number }) | null,
  reencoded?: ReencodedNote,
): MessageBody {
  const locale = job.locale;
  const mention = `<@${job.userId}>`;
  // The limit of the route that would have carried the file (the server's tier, or the member's interaction).
  const limit = formatBytes(link?.limit ?? job.attachmentSizeLimit);
  const lines = [t(locale, 'final.content', { mention })];
  const until = (ms: number) => `<t:${unix(ms)}:f> (<t:${unix(ms)}:R>)`;
  if (link) {
    if (!link.tooLarge) lines.push(t(locale, 'final.link_only', { url: link.url }));
    else if (link.size !== undefined)
      lines.push(t(locale, 'final.link_note', { size: formatBytes(link.size), limit, url: link.url }));
    else lines.push(t(locale, 'final.link_too_big', { limit, url: link.url }));
    if (link.expiresAt !== undefined) lines.push(t(locale, 'final.link_expires', { expires: until(link.expiresAt) }));
  }
  if (reencoded) {
    lines.push(
      t(locale, 'final.reencoded', {
        size: formatBytes(reencoded.originalSize),
        limit: formatBytes(reencoded.limit),
        reencoded: formatBytes(reencoded.size),
      }),
    );
    const original = reencoded.original;
    if (original?.expiresAt !== undefined)
      lines.push(
        t(locale, 'final.reencoded_original_expires', { url: original.url, expires: until(original.expiresAt) }),
      );
    else if (original) lines.push(t(locale, 'final.reencoded_original', { url: original.url }));
  }
  const embed: APIEmbed = {
    title: t(locale, 'job.title'),
    description: quoteBlock(job.prompt),
    color: COLORS.delivered,
    fields: parameterFields(job, locale),
    footer: { text: `${t(locale, 'job.field.task')}: ${job.upstreamId ?? '?'}` },
  };
  return {
    content: shorten(lines.join('\n'), 2000),
    embeds: [embed],
    components: [jobButtons(job)],
    allowed_mentions: { parse: [], users: [job.userId] },
  };
}

/** Under a job that waits or runs: its member (or a moderator) may cancel it. */
function cancelRow(job: Job): APIActionRowComponent<APIButtonComponent> {
  return {
    type: ComponentType.ActionRow,
    components: [
      {
        type: ComponentType.Button,
        style: ButtonStyle.Secondary,
        label: t(job.locale, 'button.cancel'),
        emoji: { name: '✖️' },
        custom_id: customIds.cancel(job.id),
      },
    ],
  };
}

/** Follow-ups under a finished video: they keep working after restarts and on old messages. */
export function jobButtons(job: Job): APIActionRowComponent<APIButtonComponent> {
  const locale = job.locale;
  return {
    type: ComponentType.ActionRow,
    components: [
      {
        type: ComponentType.Button,
        style: ButtonStyle.Primary,
        label: t(locale, 'button.reroll'),
        emoji: { name: '🎲' },
        custom_id: customIds.reroll(job.id),
      },
      {
        type: ComponentType.Button,
        style: ButtonStyle.Secondary,
        label: t(locale, 'button.character'),
        emoji: { name: '🧸' },
        custom_id: customIds.character(job.id),
      },
      {
        type: ComponentType.Button,
        style: ButtonStyle.Secondary,
        label: t(locale, 'button.details'),
        emoji: { name: 'ℹ️' },
        // Also what marks this message as the job's video post (delivery-marker.ts).
        custom_id: deliveryMarker(job.id),
      },
    ],
  };
}

/** The new message that tells a member their job failed, when the reply itself is gone. */
export function renderFailureNotice(job: Job): MessageBody {
  const body = renderJob(job);
  return {
    ...body,
    content: t(job.locale, 'final.failed_content', { mention: `<@${job.userId}>` }),
    allowed_mentions: { parse: [], users: [job.userId] },
  };
}

/**
 * For `/sora-config show`: catalogue models the provider refused as
 * unavailable, or does not list, with what to change (none: no field).
 */
export function modelWarnings(locale: string, models: ModelProblems | undefined): APIEmbedField[] {
  if (!models) return [];
  const ids = (list: readonly string[]) => list.map((m) => `\`${m}\``).join(', ');
  const lines = models.refused.map((r) =>
    t(locale, 'config.models_refused', { model: `\`${r.model}\``, at: `<t:${unix(r.at)}:R>` }),
  );
  const refused = new Set(models.refused.map((r) => r.model));
  const unlisted = models.unlisted.filter((m) => !refused.has(m));
  if (unlisted.length > 0) lines.push(t(locale, 'config.models_unlisted', { models: ids(unlisted) }));
  if (lines.length === 0) return [];
  return [{ name: t(locale, 'config.models_provider'), value: shorten(lines.join('\n'), 1024) }];
}
