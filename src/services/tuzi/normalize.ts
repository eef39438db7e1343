import type { KnownVideoStatus, ProviderModelInfo, VideoTask, VideoTaskError } from './types.js';

/**
 * Above this a timestamp is milliseconds: 1e12 ms is 2001-09-09, while 1e12
 * seconds is 33 658 AD, so the two ranges never overlap for real dates.
 */
const MS_THRESHOLD = 1e12;

/** The seed sends `created_at` in milliseconds, OpenAI in seconds; both become milliseconds. */
export function normaliseTimestamp(value: unknown): number | undefined {
  const n = toFiniteNumber(value);
  if (n === undefined || n <= 0) return undefined;
  return n > MS_THRESHOLD ? Math.round(n) : Math.round(n * 1000);
}

export function clampProgress(value: unknown): number | undefined {
  const n = toFiniteNumber(value);
  if (n === undefined) return undefined;
  return Math.min(100, Math.max(0, n));
}

function toFiniteNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every status spelling relays are known to send, by what it means. The seed
 * and OpenAI send `queued`, `in_progress`, `completed`, `failed`. new-api
 * (QuantumNous/new-api, relay/channel/task/sora/adaptor.go, ParseTaskResult)
 * reads upstream statuses case-insensitively because "a MiniMax→OpenAI relay
 * upstream may send Success/succeeded/Processing", and groups them as below;
 * a public Tuzi client also handles `expired` (facts/tuzi.md). Matched
 * without regard to case or surrounding spaces.
 */
const STATUS_SYNONYMS = new Map<string, KnownVideoStatus>(
  Object.entries({
    // Accepted, not started: waiting in the provider's queue.
    queued: 'queued',
    pending: 'queued',
    submitted: 'queued',
    not_start: 'queued',
    preparing: 'queued',
    // Being made.
    in_progress: 'in_progress',
    processing: 'in_progress',
    running: 'in_progress',
    generating: 'in_progress',
    // Done.
    completed: 'completed',
    complete: 'completed',
    succeeded: 'completed',
    success: 'completed',
    finished: 'completed',
    // Ended without a video.
    failed: 'failed',
    failure: 'failed',
    fail: 'failed',
    error: 'failed',
    cancelled: 'failed',
    canceled: 'failed',
    expired: 'failed',
  } satisfies Record<string, KnownVideoStatus>),
);

/** The status a raw spelling stands for, or `unknown`. */
export function normaliseStatus(raw: string): KnownVideoStatus | 'unknown' {
  return STATUS_SYNONYMS.get(raw.trim().toLowerCase()) ?? 'unknown';
}

/** The code a failed task gets when upstream gave none: what its status said (`cancelled`, `expired`…). */
function endedCode(raw: string): string {
  const s = raw.trim().toLowerCase();
  return s === 'canceled' ? 'cancelled' : s;
}

function normaliseError(value: unknown): VideoTaskError | undefined {
  if (typeof value === 'string' && value !== '') return { code: 'unknown', message: value };
  if (!isRecord(value)) return undefined;
  const code = optionalString(value.code) ?? optionalString(value.type) ?? 'unknown';
  const message = optionalString(value.message) ?? code;
  return { code, message };
}

/**
 * Why a task failed: its `error` object when present; otherwise the reason
 * relays put beside the status (new-api's `fail_reason`; the `message` of a
 * task whose result was deleted), under the code its status names.
 */
function failureOf(body: Record<string, unknown>, rawStatus: string): VideoTaskError {
  const error = normaliseError(body.error);
  if (error) return error;
  const reason = optionalString(body.fail_reason) ?? optionalString(body.message);
  return { code: endedCode(rawStatus), message: reason ?? '' };
}

/**
 * Turns upstream's JSON into a VideoTask, or undefined when the body is not a
 * task at all (no string id). Synonyms become the seed's four statuses; an
 * unrecognised one is kept as `unknown` with the raw string, so a new
 * upstream status never crashes the poller.
 */
export function normaliseTask(body: unknown): VideoTask | undefined {
  if (!isRecord(body)) return undefined;
  const id = body.id;
  if (typeof id !== 'string' || id === '') return undefined;
  const rawStatus = typeof body.status === 'string' ? body.status : '';
  const status = normaliseStatus(rawStatus);
  const progress = clampProgress(body.progress) ?? (status === 'completed' ? 100 : 0);
  const task: VideoTask = { id, status, rawStatus, progress };
  const model = optionalString(body.model);
  if (model !== undefined) task.model = model;
  const seconds = toFiniteNumber(body.seconds);
  if (seconds !== undefined) task.seconds = seconds;
  const size = optionalString(body.size);
  if (size !== undefined) task.size = size;
  const createdAt = normaliseTimestamp(body.created_at);
  if (createdAt !== undefined) task.createdAt = createdAt;
  const videoUrl = optionalString(body.video_url);
  if (videoUrl !== undefined) task.videoUrl = videoUrl;
  const expiresAt = normaliseTimestamp(body.expires_at);
  if (expiresAt !== undefined) task.expiresAt = expiresAt;
  const error = status === 'failed' ? failureOf(body, rawStatus) : normaliseError(body.error);
  if (error !== undefined) task.error = error;
  return task;
}

/**
 * `GET /v1/models` as OpenAI documents it (`{ object: "list", data: [{ id,
 * owned_by, … }] }`); a bare array, as some relays send, is read too.
 * Undefined when the body is no model list at all.
 */
export function normaliseModelList(body: unknown): ProviderModelInfo[] | undefined {
  const data = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.data) ? body.data : undefined;
  if (!data) return undefined;
  const models: ProviderModelInfo[] = [];
  for (const entry of data) {
    if (!isRecord(entry)) continue;
    const id = optionalString(entry.id);
    if (id === undefined) continue;
    const ownedBy = optionalString(entry.owned_by);
    models.push(ownedBy === undefined ? { id } : { id, ownedBy });
  }
  return models;
}

export interface UpstreamErrorBody {
  code?: string;
  type?: string;
  message?: string;
}

/** Reads `{"error":{"message","type","code"}}` and the looser shapes resellers also use. */
export function parseErrorBody(text: string): UpstreamErrorBody {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    const trimmed = text.trim();
    return trimmed ? { message: trimmed.slice(0, 300) } : {};
  }
  if (!isRecord(body)) return {};
  const source = isRecord(body.error) ? body.error : body;
  const result: UpstreamErrorBody = {};
  const code = optionalString(source.code) ?? (typeof source.code === 'number' ? String(source.code) : undefined);
  if (code !== undefined) result.code = code;
  const type = optionalString(source.type);
  if (type !== undefined) result.type = type;
  const message = optionalString(source.message) ?? (typeof body.error === 'string' ? body.error : undefined);
  if (message !== undefined) result.message = message.slice(0, 1000);
  return result;
}

/**
 * Retry-After is either delta-seconds or an HTTP date. `retry-after-ms`
 * (which OpenAI-style gateways send) wins when present because it is finer.
 */
export function parseRetryAfter(
  retryAfter: string | undefined,
  retryAfterMs: string | undefined,
  now: number,
): number | undefined {
  if (retryAfterMs !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(retryAfterMs)) {
    return Math.max(0, Math.round(Number(retryAfterMs)));
  }
  if (retryAfter === undefined) return undefined;
  const trimmed = retryAfter.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.max(0, Math.round(Number(trimmed) * 1000));
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** RFC 3986 pchar: these stay raw in a path segment; `:` among them, as public clients send it. */
const UNSAFE_IN_SEGMENT = /[^A-Za-z0-9\-._~!$&'()*+,;=:@]+/g;

/**
 * Puts a task id into one path segment. The colon stays raw (upstream is not
 * known to decode `%3A`); `/ ? # %`, spaces and non-ASCII are escaped. Dot
 * segments are refused because URL parsers resolve them (even as `%2e%2e`),
 * which would address a different resource.
 */
export function encodeIdSegment(id: string): string {
  if (id === '' || id === '.' || id === '..') throw new TypeError('invalid video id');
  return id.replace(UNSAFE_IN_SEGMENT, (s) => encodeURIComponent(s));
}

/** Replaces every occurrence of the secret, so an upstream that echoes the key cannot leak it. */
export function scrubSecret(text: string, secret: string): string {
  return secret.length > 0 && text.includes(secret) ? text.split(secret).join('[REDACTED]') : text;
}
