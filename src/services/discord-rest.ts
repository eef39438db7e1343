import fs from 'node:fs';
import { Readable } from 'node:stream';
import {
  DefaultRestOptions,
  GatewayIntentBits,
  Options,
  REST,
  type ClientOptions,
  RESTEvents,
  type InvalidRequestWarningData,
  type RateLimitData,
  type RESTOptions,
} from 'discord.js';
import type { Logger } from '../logger.js';

/**
 * How the bot talks to Discord's REST API: two REST instances with different
 * jobs, an upload that is judged by its progress, and a watch on the requests
 * Discord counts against a ban.
 *
 * - The client's own REST (discord.js: acknowledgements, replies, edits of
 *   the reply through the interaction token) is not throttled to the global
 *   50 requests/s: Discord does not count interaction endpoints against the
 *   global limit (developers/topics/rate-limits, "Global Rate Limit":
 *   "Interaction endpoints are not bound to the bot's Global Rate Limit"), and
 *   a global 429 on a shared instance would hold every acknowledgement too.
 * - The bot's REST carries everything authenticated as the bot (channel
 *   posts and edits, command registration, the moderator log): discord.js
 *   keeps it under the global limit, and it never waits on a rate limit for
 *   longer than RATE_LIMIT_WAIT_MS — a longer wait throws instead, so a job
 *   step that meets a 429 gives its worker slot back (progress edits are
 *   skipped, a post is scheduled for later through the job row).
 */

/**
 * Per-file upload limits of the bot's channel routes by boost tier: 10 MiB at
 * tiers 0–1 (the default since 2025-01-16, developers/change-log "Default File
 * Upload Limit Change"), 50 MiB at tier 2, 100 MiB at tier 3 (Discord's Server
 * Boosting FAQ). Through an interaction's webhook the limit is the
 * interaction's `attachment_size_limit` instead (developers/reference
 * "Uploading Files").
 */
const MiB = 1024 * 1024;
export const CHANNEL_UPLOAD_LIMITS = [10 * MiB, 10 * MiB, 50 * MiB, 100 * MiB] as const;

export function channelUploadLimit(premiumTier: number | undefined): number {
  return CHANNEL_UPLOAD_LIMITS[premiumTier ?? 0] ?? CHANNEL_UPLOAD_LIMITS[0];
}

/** Longest a request of the bot's REST waits on a rate limit inside a job step; longer throws RateLimitError. */
export const RATE_LIMIT_WAIT_MS = 2_000;

/** An upload that sent nothing for this long is stalled (a link that still moves is never cut). */
export const UPLOAD_IDLE_MS = 30_000;
/** After the last byte, how long Discord may take to answer. */
export const UPLOAD_ANSWER_MS = 60_000;

/**
 * A file-backed body part that reports its progress while fetch reads it: a
 * blob-like object (undici's FormData takes any object shaped like a File),
 * streamed from disk in chunks, never held whole in memory.
 */
export class ProgressFile {
  readonly [Symbol.toStringTag] = 'File';
  readonly size: number;
  sent = 0;
  private listener: (() => void) | undefined;

  constructor(
    readonly path: string,
    readonly name: string,
    readonly type: string,
  ) {
    this.size = fs.statSync(path).size;
  }

  /** Called on every chunk read (one listener: a retry of the request replaces the last one's). */
  onProgress(listener: () => void): void {
    this.listener = listener;
  }

  stream(): ReadableStream<Uint8Array> {
    this.sent = 0;
    const counted = new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, controller) => {
        this.sent += chunk.byteLength;
        this.listener?.();
        controller.enqueue(chunk);
      },
    });
    return (Readable.toWeb(fs.createReadStream(this.path)) as ReadableStream<Uint8Array>).pipeThrough(counted);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    throw new Error('ProgressFile is only streamed');
  }

  slice(): never {
    throw new Error('ProgressFile is only streamed');
  }
}

/** The upload a multipart body carries, so the request can be judged by its progress. */
const UPLOADS = new WeakMap<FormData, ProgressFile>();

/** A multipart body with `payload_json` and one file, its progress visible to the bot's REST. */
export function uploadForm(payload: object, file: ProgressFile): FormData {
  const form = new FormData();
  form.append('payload_json', JSON.stringify(payload));
  form.append('files[0]', file as unknown as Blob, file.name);
  UPLOADS.set(form, file);
  return form;
}

/**
 * The bot REST's transport. A JSON request (an edit, a post without a file)
 * goes by discord.js's own strategy, undici's `request` (what the client's
 * REST uses): about half the CPU of fetch per request, measured in bench
 * part 1c, where the places shown in line are edits. A multipart body goes by
 * global fetch (which streams a FormData from its parts): `window: null` with `redirect: 'error'` keeps fetch from cloning the
 * request, a clone that tees the body stream and buffers the whole upload
 * (measured: a 200 MiB post held 200 MiB); Discord's API does not redirect.
 *
 * discord.js's `timeout` covers the whole request, body included (15 s by
 * default): on a home uplink a 25 MiB video cannot go in 15 s. An upload is
 * therefore aborted only when it stalls — no byte for UPLOAD_IDLE_MS, or no
 * answer UPLOAD_ANSWER_MS after the last byte — and discord.js's own timer is
 * left out of it. Other requests keep discord.js's timeout.
 */
export function botRestTransport(url: string, init: RequestInit): Promise<unknown> {
  if (!(init.body instanceof FormData))
    return DefaultRestOptions.makeRequest(url, init as Parameters<typeof DefaultRestOptions.makeRequest>[1]);
  const file = UPLOADS.get(init.body);
  if (!file) return fetch(url, { ...init, window: null, redirect: 'error' });
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    const wait = file.sent >= file.size ? UPLOAD_ANSWER_MS : UPLOAD_IDLE_MS;
    timer = setTimeout(() => controller.abort(new Error(`upload stalled for ${wait} ms`)), wait);
  };
  file.onProgress(arm);
  arm();
  return fetch(url, { ...init, signal: controller.signal, window: null, redirect: 'error' }).finally(() =>
    clearTimeout(timer),
  );
}

/**
 * Watches the responses Discord holds against the bot (401, 403 and 429):
 * 10,000 in 10 minutes get its IP banned for a while
 * (developers/topics/rate-limits, "Invalid Request Limit"). discord.js
 * counts them itself, for every REST instance of the process together, and
 * reports the count every INVALID_REPORT_EVERY; past half the limit the bot
 * stops the requests that are only nice to have (progress edits) until
 * discord.js's 10-minute window ends.
 */
export const INVALID_REPORT_EVERY = 100;

export class InvalidRequestGuard {
  private count = 0;
  private resetAt = 0;

  constructor(
    private readonly log: Logger,
    private readonly limit = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Listens to a REST instance's invalid-request reports (it must be built with INVALID_REPORT_EVERY). */
  watch(rest: REST): void {
    rest.on(RESTEvents.InvalidRequestWarning, (info: InvalidRequestWarningData) =>
      this.report(info.count, info.remainingTime),
    );
  }

  report(count: number, remainingTimeMs: number): void {
    this.count = count;
    this.resetAt = this.now() + remainingTimeMs;
    if (count >= this.limit / 2)
      this.log.error(
        { invalid: count, resetInMs: remainingTimeMs },
        'half of Discord’s invalid-request limit reached; progress edits pause until its window ends',
      );
  }

  /** Whether requests that are only nice to have may go now. */
  optionalAllowed(): boolean {
    return this.count < this.limit / 2 || this.now() >= this.resetAt;
  }
}

/**
 * The interaction REST's transport: discord.js's own strategy (undici's
 * `request`), cheaper per call than fetch (bench part 1), for JSON bodies;
 * a multipart body (a reply with a file) goes through fetch, which encodes
 * the FormData discord.js builds — undici's `request` of another undici
 * copy does not.
 */
function interactionTransport(url: string, init: RequestInit): Promise<unknown> {
  if (init.body instanceof FormData) return fetch(url, { ...init, window: null, redirect: 'error' });
  return DefaultRestOptions.makeRequest(url, init as Parameters<typeof DefaultRestOptions.makeRequest>[1]);
}

/** discord.js options for the client's own REST (interactions): not held to the global limit, nor by the bot's 429s. */
function interactionRestOptions(api: string | undefined): Partial<RESTOptions> {
  return {
    ...(api ? { api } : {}),
    // Discord exempts interaction endpoints from the global limit; discord.js would otherwise throttle them to 50/s.
    globalRequestsPerSecond: 10_000,
    makeRequest: interactionTransport as unknown as NonNullable<RESTOptions['makeRequest']>,
    invalidRequestWarningInterval: INVALID_REPORT_EVERY,
  };
}

/**
 * The discord.js client's options, in one place: the bot builds its client
 * from them, and so does the acknowledgement bench's bare baseline
 * (scripts/bench/baseline-bot.ts), so the two compare on the same client.
 * Only the `Guilds` intent (no privileged intents); mentions off unless a
 * message asks for them.
 */
export function discordClientOptions(api: string | undefined): ClientOptions {
  return {
    intents: [GatewayIntentBits.Guilds],
    allowedMentions: { parse: [] },
    // No member or user is kept but the bot's own (guild.members.me, the log channel's check): an interaction
    // carries the member (its roles) and the user it needs, and discord.js would otherwise keep every member who
    // ever ran a command, for good (it sweeps neither by default). Bench part 1c, six steady runs of each: ours'
    // p99 a median 10.5 ms with these limits, 12 without; the baseline's 6.5 and 6.
    makeCache: Options.cacheWithLimits({
      ...Options.DefaultMakeCacheSettings,
      GuildMemberManager: { maxSize: 0, keepOverLimit: (member) => member.id === member.client.user.id },
      UserManager: { maxSize: 0, keepOverLimit: (user) => user.id === user.client.user.id },
    }),
    rest: interactionRestOptions(api),
  };
}

/** The bot's own REST: global limit kept, no wait on a 429 beyond RATE_LIMIT_WAIT_MS, uploads judged by progress. */
export function createBotRest(token: string, api: string | undefined): REST {
  return new REST({
    ...(api ? { api } : {}),
    makeRequest: botRestTransport as unknown as NonNullable<RESTOptions['makeRequest']>,
    rejectOnRateLimit: (data: RateLimitData) => Math.max(data.retryAfter, data.timeToReset) > RATE_LIMIT_WAIT_MS,
    invalidRequestWarningInterval: INVALID_REPORT_EVERY,
  }).setToken(token);
}
