import { RESTEvents, type APIRequest, type RateLimitData, type REST, type ResponseLike } from 'discord.js';
import type { Metrics } from './metrics.js';

/**
 * Counts Discord REST traffic from the events @discordjs/rest emits, so the
 * messenger needs no instrumentation of its own:
 * - `response` after every HTTP exchange, each retry included, with the
 *   rate-limit route (`/channels/:id/messages/:id`: ids and tokens already
 *   replaced, so the label stays small);
 * - `rateLimited` each time discord.js holds a request for a bucket or the
 *   global limit (a 429 received shows up as a `response` with status 429).
 * Returns a function that removes the listeners.
 */
export function observeDiscordRest(rest: REST, metrics: Pick<Metrics, 'discordResponse' | 'discordRateLimit'>) {
  const onResponse = (request: APIRequest, response: ResponseLike) => {
    metrics.discordResponse(request.method, request.route, response.status);
    // With a `response` listener, discord.js hands a fetch Response's clone: its body is a tee branch that would
    // hold the bytes until collected, so it is cancelled. An undici `request` answer has no clone; discord.js passes
    // a shallow copy whose body is the real one, which must be left alone.
    const body = response.body as { cancel?: () => Promise<void> } | null;
    if (body && typeof body.cancel === 'function') body.cancel().catch(() => undefined);
  };
  const onRateLimited = (info: RateLimitData) => metrics.discordRateLimit(info.route, info.global);
  rest.on(RESTEvents.Response, onResponse);
  rest.on(RESTEvents.RateLimited, onRateLimited);
  return () => {
    rest.off(RESTEvents.Response, onResponse);
    rest.off(RESTEvents.RateLimited, onRateLimited);
  };
}
