import {
  DiscordAPIError,
  HTTPError,
  RateLimitError,
  RESTJSONErrorCodes,
  Routes,
  type REST,
  type APIMessage,
} from 'discord.js';
import type { Clock } from '../clock.js';
import type { Job } from '../db/jobs-repository.js';
import { isDeliveryOf } from '../jobs/delivery-marker.js';
import type { MessageBody } from '../ui/render.js';
import { channelUploadLimit, ProgressFile, uploadForm } from './discord-rest.js';

/**
 * Stop using an interaction token this long before Discord's 15 minutes run
 * out: a late call fails with 50027 and counts against the invalid-request
 * limit, and the channel route does the same job without the token.
 */
export const TOKEN_SAFETY_MS = 60_000;

/** How far back before a recorded post attempt the finder looks (clock skew between us and Discord). */
const FIND_MARGIN_MS = 60_000;
/** Pages of 100 messages the finder reads at most: a busy channel, hours after the attempt. */
const FIND_MAX_PAGES = 10;

const GONE = new Set<number>([
  RESTJSONErrorCodes.UnknownChannel,
  RESTJSONErrorCodes.UnknownMessage,
  RESTJSONErrorCodes.UnknownWebhook,
]);

export type SendOutcome =
  | { ok: true; messageId: string; channelId: string }
  /** The message or channel is gone (deleted, or unreachable ephemeral). */
  | { ok: false; reason: 'gone' }
  /** The webhook token no longer works; use the channel route. */
  | { ok: false; reason: 'token_expired' }
  /** The upload is over the limit (413 / 40005). */
  | { ok: false; reason: 'too_large' }
  /** The bot may not see or post in the channel. */
  | { ok: false; reason: 'forbidden' }
  /** A rate limit (30046 on an old message among them) longer than a job step may wait; try later, or elsewhere. */
  | { ok: false; reason: 'rate_limited'; retryAfterMs: number }
  /** The message is in an archived thread: it cannot be edited, but a new message there unarchives it (50083). */
  | { ok: false; reason: 'archived' }
  /** Discord refused it for good; nothing to retry. */
  | { ok: false; reason: 'refused'; code: number | string }
  /** Network trouble, 5xx or rate limits that outlasted discord.js's own retries. */
  | { ok: false; reason: 'transient'; detail: string };

/**
 * One request the messenger made to Discord and how long its caller waited
 * for it — discord.js's queueing and rate-limit waits included — for an
 * observer (benchmarks: the time job steps spend on Discord).
 */
export interface DiscordCall {
  kind: 'edit' | 'post' | 'follow_up' | 'find';
  /** Real time, not the injected clock: discord.js waits on real timers, so that is how long a caller is held. */
  ms: number;
  outcome: 'ok' | Exclude<SendOutcome, { ok: true }>['reason'];
}

export interface FileToSend {
  path: string;
  name: string;
  contentType: string;
}

/** Classifies what discord.js threw into what our callers act on. */
export function classifyDiscordError(err: unknown): Exclude<SendOutcome, { ok: true }> {
  // The bot's REST throws this instead of waiting longer than a job step may (discord-rest.ts).
  if (err instanceof RateLimitError)
    return { ok: false, reason: 'rate_limited', retryAfterMs: Math.max(err.retryAfter, err.timeToReset) };
  if (err instanceof DiscordAPIError) {
    const code = Number(err.code);
    if (GONE.has(code)) return { ok: false, reason: 'gone' };
    if (code === RESTJSONErrorCodes.InvalidActionOnArchivedThread && err.status === 400)
      return { ok: false, reason: 'archived' };
    if (err.status === 429) return { ok: false, reason: 'rate_limited', retryAfterMs: 60_000 };
    if (code === RESTJSONErrorCodes.InvalidWebhookToken) return { ok: false, reason: 'token_expired' };
    if (code === RESTJSONErrorCodes.RequestEntityTooLarge || err.status === 413)
      return { ok: false, reason: 'too_large' };
    if (
      code === RESTJSONErrorCodes.MissingAccess ||
      code === RESTJSONErrorCodes.MissingPermissions ||
      code === RESTJSONErrorCodes.InvalidActionOnArchivedThread // 403: a locked thread refuses a bot without Manage Threads
    )
      return { ok: false, reason: 'forbidden' };
    if (err.status >= 500) return { ok: false, reason: 'transient', detail: `${err.status} ${code}` };
    return { ok: false, reason: 'refused', code };
  }
  if (err instanceof HTTPError) {
    if (err.status === 413) return { ok: false, reason: 'too_large' };
    return { ok: false, reason: 'transient', detail: `HTTP ${err.status}` };
  }
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { ok: false, reason: 'transient', detail };
}

/** The largest file one post of a job's video may carry now, and the route that allows it. */
export interface UploadLimit {
  bytes: number;
  /** `channel`: the bot's channel route (the server's boost tier decides); `interaction`: the interaction's webhook. */
  route: 'channel' | 'interaction';
}

/**
 * Sends what the bot shows for a job, by whichever route still works: the
 * interaction webhook while its token is fresh, the bot's channel routes
 * after. It holds no state; everything it needs is in the job row (and the
 * server's boost tier, from the gateway), so it works the same after a
 * restart.
 */
export class DiscordMessenger {
  constructor(
    private readonly rest: REST,
    private readonly clock: Clock,
    private readonly botUserId: () => string | undefined,
    /** The server's boost tier as the gateway reported it (undefined: not known, taken as tier 0). */
    private readonly premiumTier: (guildId: string | null) => number | undefined = () => undefined,
    /** Sees every request and how long it held its caller (benchmarks); nothing is measured without it. */
    private readonly observe?: (call: DiscordCall) => void,
  ) {}

  /**
   * Which route takes the biggest file now: the channel route (the boost
   * tier's limit), or the interaction's webhook while its token lives (the
   * interaction's `attachment_size_limit`: a Nitro member's may be 500 MiB in
   * a tier-0 server). An upload over both is never started.
   */
  uploadLimit(job: Job): UploadLimit {
    const channel = channelUploadLimit(this.premiumTier(job.guildId));
    if (this.tokenUsable(job) && job.attachmentSizeLimit > channel)
      return { bytes: job.attachmentSizeLimit, route: 'interaction' };
    return { bytes: channel, route: 'channel' };
  }

  /** When the job's reply was created (from its snowflake), or undefined without one. */
  replyCreatedAt(job: Job): number | undefined {
    return job.messageId ? snowflakeTime(job.messageId) : undefined;
  }

  tokenUsable(job: Job): boolean {
    return job.interactionToken !== null && this.clock.now() < job.tokenExpiresAt - TOKEN_SAFETY_MS;
  }

  /** Edits the job's public reply. */
  async editReply(job: Job, body: MessageBody): Promise<SendOutcome> {
    if (job.messageGone) return { ok: false, reason: 'gone' };
    if (this.tokenUsable(job)) {
      const result = await this.call('edit', () =>
        this.rest.patch(Routes.webhookMessage(job.applicationId, job.interactionToken!, '@original'), {
          body,
          auth: false,
        }),
      );
      if (result.ok || result.reason !== 'token_expired' || !job.messageId) return result;
    }
    if (!job.messageId) return { ok: false, reason: 'gone' };
    return this.call('edit', () => this.rest.patch(Routes.channelMessage(job.channelId, job.messageId!), { body }));
  }

  /**
   * Posts a new message in the job's channel. The nonce makes Discord return
   * the first message instead of creating a second one if the same post is
   * retried soon after (a crash between upload and bookkeeping). A file goes
   * by the route whose limit takes it (uploadLimit); one over every limit is
   * refused here, before a byte is sent.
   */
  async post(job: Job, body: MessageBody, file?: FileToSend, nonce?: string): Promise<SendOutcome> {
    const upload = file ? new ProgressFile(file.path, file.name, file.contentType) : undefined;
    if (upload) {
      const limit = this.uploadLimit(job);
      if (upload.size > limit.bytes) return { ok: false, reason: 'too_large' };
      if (upload.size > channelUploadLimit(this.premiumTier(job.guildId))) return this.followUp(job, body, upload);
    }
    const payload = { ...body, ...(nonce ? { nonce, enforce_nonce: true } : {}) };
    const channelResult = await this.call('post', () =>
      this.rest.post(Routes.channelMessages(job.channelId), requestData(payload, upload)),
    );
    if (channelResult.ok || channelResult.reason !== 'forbidden' || !this.tokenUsable(job)) return channelResult;
    // No access to the channel (e.g. a user-installed app): a follow-up needs no permissions.
    return this.followUp(job, body, upload);
  }

  /** A follow-up message through the interaction's webhook (its own upload limit, no channel permissions). */
  private followUp(job: Job, body: MessageBody, upload: ProgressFile | undefined): Promise<SendOutcome> {
    return this.call('follow_up', () =>
      this.rest.post(Routes.webhook(job.applicationId, job.interactionToken!), {
        ...requestData(body, upload),
        auth: false,
        query: new URLSearchParams({ wait: 'true' }),
      }),
    );
  }

  /**
   * Looks for the job's video post (delivery-marker.ts) among the channel's
   * messages since `since`: a post that may have landed (a lost answer, a
   * crash) is found rather than posted again. An error is reported as such,
   * never as "not found".
   */
  async findPosted(job: Job, since: number): Promise<{ found: APIMessage | null } | { error: string }> {
    const botId = this.botUserId();
    let after = snowflakeAt(since - FIND_MARGIN_MS);
    try {
      for (let page = 0; page < FIND_MAX_PAGES; page++) {
        const messages = (await this.timed('find', () =>
          this.rest.get(Routes.channelMessages(job.channelId), { query: new URLSearchParams({ after, limit: '100' }) }),
        )) as APIMessage[];
        const hit = messages.find((m) => isDeliveryOf(m, job.id, botId));
        if (hit) return { found: hit };
        if (messages.length < 100) return { found: null };
        // Discord returns the newest first within a page; the next page starts after the newest seen.
        after = messages.reduce((max, m) => (BigInt(m.id) > BigInt(max) ? m.id : max), after);
      }
      return { error: `more than ${FIND_MAX_PAGES * 100} messages since the attempt` };
    } catch (err) {
      return { error: classifyDiscordError(err).reason };
    }
  }

  private async call(kind: DiscordCall['kind'], fn: () => Promise<unknown>): Promise<SendOutcome> {
    try {
      const message = (await this.timed(kind, fn)) as APIMessage;
      return { ok: true, messageId: message.id, channelId: message.channel_id };
    } catch (err) {
      return classifyDiscordError(err);
    }
  }

  /** Runs one request, telling the observer (if any) how long it held the caller and how it ended. */
  private async timed<T>(kind: DiscordCall['kind'], request: () => Promise<T>): Promise<T> {
    if (!this.observe) return request();
    const started = performance.now();
    try {
      const result = await request();
      this.observe({ kind, ms: performance.now() - started, outcome: 'ok' });
      return result;
    } catch (err) {
      this.observe({ kind, ms: performance.now() - started, outcome: classifyDiscordError(err).reason });
      throw err;
    }
  }
}

/**
 * A request body: JSON, or multipart with the video streamed from disk as the
 * request goes out (a 50 MiB upload never sits in memory), its progress seen
 * by the bot REST's transport (discord-rest.ts botRestTransport).
 */
function requestData(body: object, upload: ProgressFile | undefined) {
  if (!upload) return { body };
  const withAttachment = { ...body, attachments: [{ id: 0, filename: upload.name }] };
  return { body: uploadForm(withAttachment, upload), passThroughBody: true };
}

const DISCORD_EPOCH = 1420070400000n;

/** When a snowflake was made (ms). */
export function snowflakeTime(id: string): number {
  return Number((BigInt(id) >> 22n) + DISCORD_EPOCH);
}

/** The smallest snowflake at a time, for `after=` queries. */
export function snowflakeAt(ms: number): string {
  return ((BigInt(Math.max(0, Math.floor(ms))) - DISCORD_EPOCH) << 22n).toString();
}
