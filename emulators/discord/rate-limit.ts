/**
 * Injected faults and real per-route buckets. Both answer 429 the way
 * Discord does — `{message, retry_after, global}` plus `Retry-After` and
 * `X-RateLimit-*` headers — so discord.js's own queueing and retry logic is
 * what gets exercised, not a shortcut.
 */
import { createHash } from 'node:crypto';
import { systemClock, type Clock } from '../../src/clock.js';

/** The REST routes the emulator serves, by name (for faults, buckets and the request log). */
export type RouteKey =
  | 'gateway'
  | 'gateway_bot'
  | 'users_me'
  | 'application_me'
  | 'commands_get'
  | 'commands_put'
  | 'commands_post'
  | 'commands_delete'
  | 'callback'
  | 'webhook_create'
  | 'webhook_fetch'
  | 'webhook_edit'
  | 'webhook_delete'
  | 'channel_info'
  | 'channel_modify'
  | 'channel_list'
  | 'channel_fetch'
  | 'channel_create'
  | 'channel_edit'
  | 'channel_delete'
  | 'cdn';

/** What a request is about, for targeting faults and keying buckets. */
export interface RequestTarget {
  channelId?: string;
  messageId?: string;
  interactionId?: string;
}

export interface FaultSpec {
  /** Route(s) hit; `'*'` for every REST route (not the CDN). */
  route: RouteKey | readonly RouteKey[] | '*';
  /** HTTP status to answer: 429, 5xx, or any 4xx with `code`. */
  status: number;
  /** Discord JSON error code (ignored for 429); default 0. */
  code?: number;
  /** Error message; defaults to Discord's wording for the status. */
  message?: string;
  /** For 429: how long Discord asks to wait; default 100 ms. */
  retryAfterMs?: number;
  /** For 429: a global rate limit (`X-RateLimit-Global: true`, `global: true`). */
  global?: boolean;
  /** For 429: `X-RateLimit-Scope`; `shared` 429s do not count as invalid requests. Default `user` (or `global`). */
  scope?: 'user' | 'shared' | 'global';
  /** How many matching requests it hits; 1 by default, `Infinity` for "until cleared". */
  times?: number;
  /**
   * `before` (default): the request is refused before it has any effect.
   * `after`: it takes effect (the message is created or edited) and the
   * answer is still the error — a response lost on the way back, which is
   * what makes a retry post twice unless the client used a nonce.
   */
  when?: 'before' | 'after';
  /** Only requests about this channel / message / interaction. */
  match?: RequestTarget;
}

interface ArmedFault {
  spec: FaultSpec;
  remaining: number;
}

export class FaultBook {
  private faults: ArmedFault[] = [];

  inject(spec: FaultSpec): void {
    if (!Number.isInteger(spec.status) || spec.status < 400 || spec.status > 599) {
      throw new Error(`fault status must be a 4xx or 5xx code, got ${spec.status}`);
    }
    this.faults.push({ spec, remaining: spec.times ?? 1 });
  }

  clear(): void {
    this.faults = [];
  }

  get pending(): number {
    return this.faults.length;
  }

  /** Takes (and uses up one shot of) the first fault matching this request. */
  take(route: RouteKey, target: RequestTarget, when: 'before' | 'after'): FaultSpec | undefined {
    const hit = this.faults.find((f) => matches(f.spec, route, target) && (f.spec.when ?? 'before') === when);
    if (!hit) return undefined;
    hit.remaining -= 1;
    if (hit.remaining <= 0) this.faults = this.faults.filter((f) => f !== hit);
    return hit.spec;
  }
}

function matches(spec: FaultSpec, route: RouteKey, target: RequestTarget): boolean {
  const routes = spec.route;
  const routeOk =
    routes === '*' ? route !== 'cdn' : typeof routes === 'string' ? routes === route : routes.includes(route);
  if (!routeOk) return false;
  const m = spec.match;
  if (!m) return true;
  return (
    (m.channelId === undefined || m.channelId === target.channelId) &&
    (m.messageId === undefined || m.messageId === target.messageId) &&
    (m.interactionId === undefined || m.interactionId === target.interactionId)
  );
}

export interface BucketSpec {
  routes: readonly RouteKey[];
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
  /** One bucket per message (edits) or per channel / interaction webhook (creates). */
  per: 'message' | 'channel';
}

export interface RateLimitOptions {
  /** Defaults: 5 edits / 5 s per message on each edit route, 5 creates / 5 s per channel on each create route. */
  buckets?: BucketSpec[];
  /**
   * Time source for bucket windows. Defaults to the system clock, not the
   * emulator's clock: discord.js sleeps `Retry-After` on real timers, so a
   * bucket on a frozen ManualClock would never refill and the client would
   * retry forever.
   */
  clock?: Clock;
  /**
   * Discord sends `Retry-After` in whole seconds (the body's `retry_after`
   * is exact). `exact` (default) sends fractional seconds so tests can use
   * short waits; `whole-seconds` rounds up like production.
   */
  retryAfterHeader?: 'exact' | 'whole-seconds';
}

export const DEFAULT_BUCKETS: BucketSpec[] = [
  { routes: ['webhook_edit', 'channel_edit'], limit: 5, windowMs: 5_000, per: 'message' },
  { routes: ['webhook_create', 'channel_create'], limit: 5, windowMs: 5_000, per: 'channel' },
];

interface BucketState {
  remaining: number;
  resetAt: number;
}

export interface RateLimitAnswer {
  headers: Record<string, string>;
  /** Set when the request must be refused with 429. */
  retryAfterMs?: number;
  bucket?: string;
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

export function retryAfterHeader(ms: number, mode: 'exact' | 'whole-seconds'): string {
  if (mode === 'whole-seconds') return String(Math.max(1, Math.ceil(ms / 1000)));
  return String(Number((Math.max(0, ms) / 1000).toFixed(3)));
}

export class RateLimiter {
  private readonly buckets: BucketSpec[];
  private readonly clock: Clock;
  readonly retryAfterMode: 'exact' | 'whole-seconds';
  private readonly state = new Map<string, BucketState>();

  constructor(opts: RateLimitOptions | undefined) {
    this.buckets = opts ? (opts.buckets ?? DEFAULT_BUCKETS) : [];
    this.clock = opts?.clock ?? systemClock;
    this.retryAfterMode = opts?.retryAfterHeader ?? 'exact';
  }

  /** Counts the request against its bucket, if any; says whether to refuse it. */
  check(route: RouteKey, target: RequestTarget): RateLimitAnswer {
    const index = this.buckets.findIndex((b) => b.routes.includes(route));
    const spec = this.buckets[index];
    if (!spec) return { headers: {} };
    const resource =
      spec.per === 'message'
        ? (target.messageId ?? target.channelId ?? '-')
        : (target.channelId ?? target.interactionId ?? '-');
    const hash = createHash('sha1').update(`${index}:${route}`).digest('hex').slice(0, 32);
    const key = `${hash}:${resource}`;
    const now = this.clock.now();
    let s = this.state.get(key);
    if (!s || now >= s.resetAt) {
      s = { remaining: spec.limit, resetAt: now + spec.windowMs };
      this.state.set(key, s);
    }
    const base = {
      'x-ratelimit-limit': String(spec.limit),
      // Epoch seconds on the bucket's clock, as Discord sends it.
      'x-ratelimit-reset': seconds(s.resetAt),
      'x-ratelimit-reset-after': seconds(s.resetAt - now),
      'x-ratelimit-bucket': hash,
    };
    if (s.remaining <= 0) {
      const retryAfterMs = s.resetAt - now;
      return {
        headers: {
          ...base,
          'x-ratelimit-remaining': '0',
          'x-ratelimit-scope': 'user',
          'retry-after': retryAfterHeader(retryAfterMs, this.retryAfterMode),
        },
        retryAfterMs,
        bucket: hash,
      };
    }
    s.remaining -= 1;
    return { headers: { ...base, 'x-ratelimit-remaining': String(s.remaining) } };
  }

  reset(): void {
    this.state.clear();
  }
}
