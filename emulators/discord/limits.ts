/**
 * The limits Discord applies across routes: the global request rate per bot,
 * the cap on edits of messages older than an hour, and the invalid-request
 * counter behind Cloudflare's temporary bans. Each answers in Discord's own
 * shapes so discord.js's reactions to them are what gets tested.
 */
import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../../src/clock.js';
import { DiscordError } from './errors.js';
import { retryAfterHeader } from './rate-limit.js';

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

// ---- global rate limit --------------------------------------------------------

export interface GlobalRateLimitOptions {
  /**
   * Requests per window per bot token (per IP without a token); Discord: 50
   * per second ("All bots can make up to 50 requests per second to our
   * API", developers/topics/rate-limits#global-rate-limit).
   */
  requests?: number;
  /** Default 1,000 ms. */
  windowMs?: number;
  /**
   * A window opens at the first request after the previous one closed —
   * the way discord.js counts its own 50/s — and lasts `windowMs` minus this
   * slack, so a client that paces itself the discord.js way is not refused
   * because its requests arrive a few ms earlier or later than its own clock
   * said. Default 25 ms.
   */
  toleranceMs?: number;
  /**
   * Time source for the windows. Defaults to the system clock: discord.js
   * waits out a global 429 on real timers, so a window on a frozen
   * ManualClock would refuse it forever.
   */
  clock?: Clock;
  /** `Retry-After` in fractional (default) or whole seconds like production. */
  retryAfterHeader?: 'exact' | 'whole-seconds';
}

interface GlobalWindow {
  startedAt: number;
  count: number;
}

/** An HTTP answer built outside a route handler. */
export interface LimitAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/**
 * A global 429 as Discord sends it: no `code`, `global: true`, and
 * `X-RateLimit-Global` / `X-RateLimit-Scope: global` (developers/topics/rate-limits,
 * "Example Exceeded Global Rate Limit Response"). discord.js then holds every
 * request of that REST instance until `Retry-After` has passed.
 */
export function globalRateLimited(retryAfterMs: number, mode: 'exact' | 'whole-seconds'): LimitAnswer {
  return {
    status: 429,
    body: {
      message: 'You are being rate limited.',
      retry_after: Number((retryAfterMs / 1000).toFixed(3)),
      global: true,
    },
    headers: {
      'retry-after': retryAfterHeader(retryAfterMs, mode),
      'x-ratelimit-global': 'true',
      'x-ratelimit-scope': 'global',
    },
  };
}

export class GlobalRateLimiter {
  readonly requests: number;
  readonly windowMs: number;
  readonly toleranceMs: number;
  readonly clock: Clock;
  readonly retryAfterMode: 'exact' | 'whole-seconds';
  private readonly windows = new Map<string, GlobalWindow>();
  private forcedUntil = 0;

  constructor(opts: GlobalRateLimitOptions = {}) {
    this.requests = opts.requests ?? 50;
    this.windowMs = opts.windowMs ?? 1_000;
    this.toleranceMs = opts.toleranceMs ?? 25;
    this.clock = opts.clock ?? systemClock;
    this.retryAfterMode = opts.retryAfterHeader ?? 'exact';
    if (!(this.requests >= 0) || !(this.windowMs > 0))
      throw new Error('globalRateLimit needs requests >= 0 and windowMs > 0');
  }

  /** For the next `ms` (on this limiter's clock) every bot-authenticated request gets a global 429. */
  force(ms: number): void {
    this.forcedUntil = Math.max(this.forcedUntil, this.clock.now() + ms);
  }

  /** Counts a request of `client`; returns the wait when it must be refused. */
  check(client: string, botAuthenticated: boolean): number | undefined {
    const now = this.clock.now();
    if (botAuthenticated && now < this.forcedUntil) return this.forcedUntil - now;
    const length = Math.max(1, this.windowMs - this.toleranceMs);
    let w = this.windows.get(client);
    if (!w || now >= w.startedAt + length) {
      w = { startedAt: now, count: 0 };
      this.windows.set(client, w);
    }
    if (w.count >= this.requests) return w.startedAt + length - now;
    w.count += 1;
    return undefined;
  }
}

// ---- edits of old messages ----------------------------------------------------------

export interface OldMessageEditOptions {
  /** A message older than this (emulator clock, from its creation) is "old"; Discord: 1 hour. */
  ageMs?: number;
  /**
   * Edits of old messages allowed per window. Discord does not publish the
   * rate; the community's reverse-engineered docs give "Messages older than
   * 1 hour may only be edited 3 times per 6-second window per channel"
   * (discord-userdoccers, pages/resources/message.mdx, Edit Message). 0
   * refuses every edit of an old message.
   */
  limit?: number;
  /** Default 6,000 ms. */
  windowMs?: number;
  /** What a window counts: edits of old messages in one channel (default, as reported) or of one message. */
  per?: 'channel' | 'message';
  /** Time source for the windows (not for the age); the system clock by default, as for per-route buckets. */
  clock?: Clock;
  retryAfterHeader?: 'exact' | 'whole-seconds';
}

/**
 * Discord's cap on edits of messages older than an hour: HTTP 429 with code
 * 30046 "Maximum number of edits to messages older than 1 hour reached. Try
 * again later." (developers/topics/opcodes-and-status-codes; a 429 body may
 * carry a `code`, developers/topics/rate-limits "Rate Limit Response
 * Structure"). discord.js treats it like any 429 and retries after
 * `retry_after`.
 */
export class OldMessageEditCap {
  readonly ageMs: number;
  readonly limit: number;
  readonly windowMs: number;
  readonly per: 'channel' | 'message';
  private readonly clock: Clock;
  private readonly retryAfterMode: 'exact' | 'whole-seconds';
  private readonly windows = new Map<string, { startedAt: number; count: number }>();
  refused = 0;

  constructor(opts: OldMessageEditOptions = {}) {
    this.ageMs = opts.ageMs ?? 3_600_000;
    this.limit = opts.limit ?? 3;
    this.windowMs = opts.windowMs ?? 6_000;
    this.per = opts.per ?? 'channel';
    this.clock = opts.clock ?? systemClock;
    this.retryAfterMode = opts.retryAfterHeader ?? 'exact';
  }

  /** Counts an edit of a message created at `createdAt`; throws the 30046 answer when over the cap. */
  check(message: { id: string; channelId: string; createdAt: number }, now: number): void {
    if (now - message.createdAt <= this.ageMs) return;
    const key = this.per === 'channel' ? message.channelId : message.id;
    const t = this.clock.now();
    let w = this.windows.get(key);
    if (!w || t >= w.startedAt + this.windowMs) {
      w = { startedAt: t, count: 0 };
      this.windows.set(key, w);
    }
    if (w.count < this.limit) {
      w.count += 1;
      return;
    }
    this.refused += 1;
    const retryAfterMs = w.startedAt + this.windowMs - t;
    const bucket = createHash('sha1').update(`old-message-edits:${this.per}`).digest('hex').slice(0, 32);
    throw new DiscordError(
      429,
      30046,
      'Maximum number of edits to messages older than 1 hour reached. Try again later.',
      undefined,
      {
        'retry-after': retryAfterHeader(retryAfterMs, this.retryAfterMode),
        'x-ratelimit-limit': String(this.limit),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': seconds(t + retryAfterMs),
        'x-ratelimit-reset-after': seconds(retryAfterMs),
        'x-ratelimit-bucket': bucket,
        'x-ratelimit-scope': 'user',
      },
      { retry_after: Number((retryAfterMs / 1000).toFixed(3)), global: false },
    );
  }
}

// ---- invalid requests and Cloudflare bans ---------------------------------------------

export interface InvalidRequestOptions {
  /**
   * Invalid requests (401, 403, 429 except `X-RateLimit-Scope: shared`) an IP
   * may make per window; Discord: 10,000 per 10 minutes
   * (developers/topics/rate-limits#invalid-request-limit-aka-cloudflare-bans).
   * Beyond it the IP is banned.
   */
  limit?: number;
  /** Default 600,000 ms, on the emulator clock (no client waits on it: the ban has no Retry-After). */
  windowMs?: number;
  /**
   * How long a ban lasts (emulator clock). Discord does not say; reports of
   * such bans speak of about an hour (discord/discord-api-docs#5385). Default 1 hour.
   */
  banMs?: number;
}

/**
 * What a banned IP gets: a static 429 served by Cloudflare, with no
 * `Retry-After` and no `X-RateLimit-*` headers ("there's no retry after info
 * because the response is static, stored in cloudflare",
 * discord/discord-api-docs#5810). discord.js finds no wait in it and retries
 * at once.
 */
export function cloudflareBan(): DiscordError {
  return new DiscordError(
    429,
    0,
    'You are being blocked from accessing our API temporarily due to exceeding our rate limits frequently. Please read our docs at https://discord.com/developers/docs/topics/rate-limits to prevent this moving forward.',
  );
}

export interface InvalidRequestState {
  /** Invalid requests in the current sliding window. */
  count: number;
  /** Emulator clock time the ban ends, or null when not banned. */
  bannedUntil: number | null;
  /** Invalid requests ever counted for this client. */
  total: number;
}

export class InvalidRequestCounter {
  readonly limit: number;
  readonly windowMs: number;
  readonly banMs: number;
  private readonly clients = new Map<string, { times: number[]; head: number; total: number; bannedUntil: number }>();

  constructor(
    private readonly clock: Clock,
    opts: InvalidRequestOptions = {},
  ) {
    this.limit = opts.limit ?? 10_000;
    this.windowMs = opts.windowMs ?? 600_000;
    this.banMs = opts.banMs ?? 3_600_000;
  }

  private client(key: string) {
    let c = this.clients.get(key);
    if (!c) {
      c = { times: [], head: 0, total: 0, bannedUntil: 0 };
      this.clients.set(key, c);
    }
    return c;
  }

  private prune(c: { times: number[]; head: number }, now: number): void {
    while (c.head < c.times.length && c.times[c.head]! <= now - this.windowMs) c.head++;
    if (c.head > 1024 && c.head * 2 > c.times.length) {
      c.times = c.times.slice(c.head);
      c.head = 0;
    }
  }

  banned(key: string): boolean {
    const c = this.clients.get(key);
    return c !== undefined && this.clock.now() < c.bannedUntil;
  }

  /** Counts one invalid request; bans the client once the window holds more than `limit`. */
  count(key: string): void {
    const now = this.clock.now();
    const c = this.client(key);
    this.prune(c, now);
    c.times.push(now);
    c.total += 1;
    if (c.times.length - c.head > this.limit) c.bannedUntil = now + this.banMs;
  }

  state(key: string): InvalidRequestState {
    const now = this.clock.now();
    const c = this.client(key);
    this.prune(c, now);
    return { count: c.times.length - c.head, bannedUntil: now < c.bannedUntil ? c.bannedUntil : null, total: c.total };
  }

  /** Lifts a ban and forgets the window (the counter of totals stays). */
  reset(key: string): void {
    const c = this.client(key);
    c.times = [];
    c.head = 0;
    c.bannedUntil = 0;
  }
}
