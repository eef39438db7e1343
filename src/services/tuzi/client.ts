import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, FormData, request, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../../clock.js';
import { TuziError, classifyTransportError, isRetryableStatus, type TuziOperation } from './errors.js';
import {
  encodeIdSegment,
  normaliseModelList,
  normaliseTask,
  parseErrorBody,
  parseRetryAfter,
  scrubSecret,
} from './normalize.js';
import { Semaphore } from './semaphore.js';
import type {
  CreateVideoRequest,
  DownloadOptions,
  DownloadResult,
  ProviderModelInfo,
  RequestOptions,
  VideoTask,
} from './types.js';

export interface TuziTimeouts {
  /** Opening the TCP/TLS connection. */
  connectMs: number;
  /** From sending the request to receiving the response headers (creation can be slow upstream). */
  headersMs: number;
  /** Longest silence between two body chunks. */
  bodyMs: number;
}

export interface TuziRetryPolicy {
  /** Extra attempts after the first, for GETs and for POSTs that never left. */
  maxRetries: number;
  /** First backoff step; it doubles per attempt. */
  baseDelayMs: number;
  /** Longest wait between attempts; a Retry-After above it is handed to the caller instead. */
  maxDelayMs: number;
}

/** Waits `ms`, rejecting early if `signal` aborts. Injected so tests never sleep for real. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The subset of a pino logger the client uses. */
export interface TuziLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TuziClientOptions {
  /** e.g. `https://api.tu-zi.com`; a trailing slash is ignored. */
  baseUrl: string;
  /** Sent only as `Authorization: Bearer …`, and only to the base URL's origin. */
  apiKey: string;
  /** Upper bound on requests in flight at once (downloads hold a slot until the file is written). */
  maxConcurrency: number;
  timeouts?: Partial<TuziTimeouts>;
  retry?: Partial<TuziRetryPolicy>;
  sleep?: Sleep;
  /** Uniform in [0, 1); drives backoff jitter. */
  random?: () => number;
  logger?: TuziLogger;
  /** Told of every HTTP exchange (each attempt and redirect hop): its operation, status (or failure kind) and time. */
  onRequest?: (operation: TuziOperation, status: number | string, ms: number) => void;
  /** Reads "now" to turn an HTTP-date Retry-After into a delay. */
  clock?: Clock;
}

export const DEFAULT_TIMEOUTS: TuziTimeouts = { connectMs: 10_000, headersMs: 60_000, bodyMs: 30_000 };
export const DEFAULT_RETRY: TuziRetryPolicy = { maxRetries: 2, baseDelayMs: 500, maxDelayMs: 5_000 };

/** API answers are small; anything larger is not an answer we understand. */
const MAX_JSON_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 5;
const USER_AGENT = 'sora-discord-bot (+undici)';
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

const defaultSleep: Sleep = (ms, signal) => delay(ms, undefined, signal ? { signal } : undefined);

/**
 * The Tuzi video API client. One undici Agent (keep-alive pool) serves every
 * call; a semaphore caps concurrency; GETs retry within a small bound; the
 * create POST is resent only when it provably never left this process.
 */
export class TuziClient {
  readonly #apiKey: string;
  readonly #agent: Agent;
  readonly #base: string;
  readonly #origin: string;
  readonly #timeouts: TuziTimeouts;
  readonly #retry: TuziRetryPolicy;
  readonly #sleep: Sleep;
  readonly #random: () => number;
  readonly #clock: Clock;
  readonly #logger: TuziLogger | undefined;
  readonly #onRequest: TuziClientOptions['onRequest'];
  readonly #limiter: Semaphore;
  #closed = false;

  constructor(options: TuziClientOptions) {
    if (!options.apiKey) throw new TypeError('TuziClient needs an API key');
    const base = new URL(options.baseUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError('baseUrl must be http(s)');
    this.#base = base.href.replace(/\/+$/, '');
    this.#origin = base.origin;
    this.#apiKey = options.apiKey;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#sleep = options.sleep ?? defaultSleep;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    this.#onRequest = options.onRequest;
    this.#limiter = new Semaphore(options.maxConcurrency);
    this.#agent = new Agent({
      connections: options.maxConcurrency,
      connect: { timeout: this.#timeouts.connectMs },
      headersTimeout: this.#timeouts.headersMs,
      bodyTimeout: this.#timeouts.bodyMs,
    });
  }

  /** Requests currently holding a concurrency slot. */
  get inFlight(): number {
    return this.#limiter.inUse;
  }

  /**
   * `POST /v1/videos`. Never resent once the request may have reached the
   * server: a second POST is a second paid video. Check
   * `TuziError.mayHaveReachedServer` before submitting again.
   */
  async createVideo(req: CreateVideoRequest, opts: RequestOptions = {}): Promise<VideoTask> {
    const blob = await this.#openReference(req);
    const url = `${this.#base}/v1/videos`;
    const body = await this.#withRetries(
      'create',
      (err) => err.retryable && !err.mayHaveReachedServer,
      () => this.#sendJson('create', 'POST', url, buildForm(req, blob), opts.signal),
      opts.signal,
    );
    const task = normaliseTask(body);
    if (!task) {
      // The server accepted the POST, so a task probably exists; we just cannot name it.
      throw new TuziError('Tuzi create answered without a task id', {
        operation: 'create',
        kind: 'invalid_response',
        retryable: false,
        mayHaveReachedServer: true,
        status: 200,
      });
    }
    return task;
  }

  /** `GET /v1/videos/{id}`. */
  async getVideo(id: string, opts: RequestOptions = {}): Promise<VideoTask> {
    const url = `${this.#base}/v1/videos/${this.#segment('retrieve', id)}`;
    return this.#withRetries(
      'retrieve',
      (err) => err.retryable,
      async () => {
        const task = normaliseTask(await this.#sendJson('retrieve', 'GET', url, undefined, opts.signal));
        if (task) return task;
        throw new TuziError('Tuzi retrieve answered without a task', {
          operation: 'retrieve',
          kind: 'invalid_response',
          retryable: true,
          mayHaveReachedServer: true,
          status: 200,
        });
      },
      opts.signal,
    );
  }

  /**
   * `GET /v1/models` (OpenAI-compatible): the models the provider lists. A
   * relay without the route answers 404; that is an error like any other, for
   * the caller to log.
   */
  async listModels(opts: RequestOptions = {}): Promise<ProviderModelInfo[]> {
    const url = `${this.#base}/v1/models`;
    return this.#withRetries(
      'models',
      (err) => err.retryable,
      async () => {
        const models = normaliseModelList(await this.#sendJson('models', 'GET', url, undefined, opts.signal));
        if (models) return models;
        throw new TuziError('Tuzi models answered without a model list', {
          operation: 'models',
          kind: 'invalid_response',
          retryable: false,
          mayHaveReachedServer: true,
          status: 200,
        });
      },
      opts.signal,
    );
  }

  /**
   * `DELETE /v1/videos/{id}` (OpenAI's API; not in the seed): asks the
   * provider to stop and remove a task. True when it answered that it did
   * (`deleted: true`); a provider without the route answers 404/405, which
   * rejects like any HTTP error.
   */
  async deleteVideo(id: string, opts: RequestOptions = {}): Promise<boolean> {
    const url = `${this.#base}/v1/videos/${this.#segment('delete', id)}`;
    const body = await this.#withRetries(
      'delete',
      (err) => err.retryable,
      () => this.#sendJson('delete', 'DELETE', url, undefined, opts.signal),
      opts.signal,
    );
    return typeof body === 'object' && body !== null && (body as { deleted?: unknown }).deleted === true;
  }

  /**
   * Streams a video to `destination`. `idOrUrl` is either a `video_url`
   * (absolute http(s) URL) or a task id (`GET /v1/videos/{id}/content`).
   * The file appears only when complete and verified; on failure nothing is
   * left behind.
   */
  async downloadVideo(idOrUrl: string, destination: string, opts: DownloadOptions): Promise<DownloadResult> {
    let start: URL;
    if (/^https?:\/\//i.test(idOrUrl)) {
      try {
        start = new URL(idOrUrl);
      } catch {
        throw new TuziError('Tuzi download refused a malformed video URL', {
          operation: 'download',
          kind: 'invalid_request',
          retryable: false,
          mayHaveReachedServer: false,
        });
      }
    } else {
      start = new URL(`${this.#base}/v1/videos/${this.#segment('download', idOrUrl)}/content`);
    }
    return this.#withRetries(
      'download',
      (err) => err.retryable,
      () => this.#downloadOnce(start, destination, opts),
      opts.signal,
    );
  }

  /**
   * Closes the pool: waits for running requests up to `graceMs`, then aborts
   * them (a hung upstream must not keep a shutdown waiting); later calls fail
   * with kind `closed`.
   */
  async close(graceMs = 5_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Running requests get `graceMs` to finish, then the pool is destroyed,
    // which fails whatever still runs. Not agent.close() then destroy(): undici
    // leaves a request that close() is waiting for pending forever once
    // destroy() follows, and the close() promise with it.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#limiter.whenIdle(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    await this.#agent.destroy();
  }

  #segment(operation: TuziOperation, id: string): string {
    try {
      return encodeIdSegment(id);
    } catch {
      throw new TuziError(`Tuzi ${operation} refused an invalid video id`, {
        operation,
        kind: 'invalid_request',
        retryable: false,
        mayHaveReachedServer: false,
      });
    }
  }

  async #openReference(req: CreateVideoRequest): Promise<Blob | undefined> {
    const ref = req.inputReference;
    if (!ref || !('path' in ref)) return undefined;
    try {
      // A lazy, file-backed Blob: undici streams it into the multipart body.
      return await openAsBlob(ref.path, { type: ref.contentType });
    } catch (cause) {
      throw new TuziError('Tuzi create could not read the input reference file', {
        operation: 'create',
        kind: 'invalid_request',
        retryable: false,
        mayHaveReachedServer: false,
        cause,
      });
    }
  }

  #headers(url: URL | string, extra: Record<string, string>, allowAuth = true): Record<string, string> {
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...extra };
    const origin = typeof url === 'string' ? new URL(url).origin : url.origin;
    if (allowAuth && origin === this.#origin) headers.authorization = `Bearer ${this.#apiKey}`;
    return headers;
  }

  async #withRetries<T>(
    operation: TuziOperation,
    mayRetry: (err: TuziError) => boolean,
    attempt: () => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    for (let n = 0; ; n++) {
      if (this.#closed) {
        throw new TuziError(`Tuzi ${operation} failed: client closed`, {
          operation,
          kind: 'closed',
          retryable: false,
          mayHaveReachedServer: false,
        });
      }
      let dispatched = false;
      try {
        return await this.#limiter.run(() => {
          dispatched = true;
          return attempt();
        }, signal);
      } catch (raw) {
        // Aborted while still waiting for a slot: nothing was sent.
        const err = this.#toError(operation, raw, signal, dispatched);
        if (n >= this.#retry.maxRetries || !mayRetry(err)) throw err;
        const wait = this.#backoff(err, n);
        if (wait === undefined) throw err;
        this.#logger?.warn(
          { operation, attempt: n + 1, delayMs: wait, status: err.status, code: err.code, kind: err.kind },
          'Tuzi request failed; retrying',
        );
        try {
          await this.#sleep(wait, signal);
        } catch (sleepErr) {
          // The previous attempt's verdict stands: an abort during backoff sends nothing new.
          throw this.#toError(operation, sleepErr, signal, err.mayHaveReachedServer);
        }
      }
    }
  }

  /** Equal jitter: half the exponential step is fixed, half random, so retries of many jobs spread out. */
  #backoff(err: TuziError, attempt: number): number | undefined {
    if (err.retryAfterMs !== undefined) {
      // A long Retry-After belongs to the caller's scheduler, not to a blocked request slot.
      return err.retryAfterMs <= this.#retry.maxDelayMs ? err.retryAfterMs : undefined;
    }
    const step = Math.min(this.#retry.maxDelayMs, this.#retry.baseDelayMs * 2 ** attempt);
    return Math.round(step / 2 + (this.#random() * step) / 2);
  }

  #toError(operation: TuziOperation, err: unknown, signal: AbortSignal | undefined, dispatched = true): TuziError {
    if (err instanceof TuziError) return err;
    if (signal?.aborted) {
      return new TuziError(`Tuzi ${operation} aborted`, {
        operation,
        kind: 'aborted',
        retryable: false,
        mayHaveReachedServer: dispatched,
        cause: err,
      });
    }
    const failure = classifyTransportError(err);
    const closed = this.#closed || failure.kind === 'closed';
    return new TuziError(`Tuzi ${operation} failed: ${closed ? 'client closed' : failure.description}`, {
      operation,
      kind: closed ? 'closed' : failure.kind,
      retryable: closed ? false : failure.retryable,
      mayHaveReachedServer: failure.mayHaveReachedServer,
      code: failure.code,
      cause: err,
    });
  }

  /** One HTTP exchange, reported to `onRequest` with its status (or the failure's kind) and time to the headers. */
  async #timed(
    operation: TuziOperation,
    send: () => Promise<Dispatcher.ResponseData>,
  ): Promise<Dispatcher.ResponseData> {
    if (!this.#onRequest) return send();
    const started = this.#clock.now();
    try {
      const res = await send();
      this.#onRequest(operation, res.statusCode, this.#clock.now() - started);
      return res;
    } catch (err) {
      this.#onRequest(operation, classifyTransportError(err).kind, this.#clock.now() - started);
      throw err;
    }
  }

  async #sendJson(
    operation: TuziOperation,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    body: FormData | undefined,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const res = await this.#timed(operation, () =>
      request(url, {
        dispatcher: this.#agent,
        method,
        headers: this.#headers(url, { accept: 'application/json' }),
        body,
        signal,
      }),
    );
    // Headers arrived, so from here on any failure happened after the server saw the request.
    let text: string;
    try {
      text = await readLimited(res.body, MAX_JSON_BYTES);
    } catch (err) {
      if (err instanceof TooLarge) {
        throw new TuziError(`Tuzi ${operation} answered with an oversized body`, {
          operation,
          kind: 'invalid_response',
          retryable: true,
          mayHaveReachedServer: true,
          status: res.statusCode,
        });
      }
      throw err;
    }
    if (res.statusCode < 200 || res.statusCode >= 300) throw this.#httpError(operation, res, text);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new TuziError(`Tuzi ${operation} answered with malformed JSON (HTTP ${res.statusCode})`, {
        operation,
        kind: 'invalid_response',
        retryable: true,
        mayHaveReachedServer: true,
        status: res.statusCode,
      });
    }
  }

  #httpError(operation: TuziOperation, res: Dispatcher.ResponseData, text: string): TuziError {
    const status = res.statusCode;
    const parsed = parseErrorBody(text);
    const upstreamMessage = parsed.message === undefined ? undefined : scrubSecret(parsed.message, this.#apiKey);
    const retryAfterMs = parseRetryAfter(
      headerValue(res.headers['retry-after']),
      headerValue(res.headers['retry-after-ms']),
      this.#clock.now(),
    );
    const label = parsed.code ? ` (${parsed.code})` : '';
    return new TuziError(
      `Tuzi ${operation} failed with HTTP ${status}${label}${upstreamMessage ? `: ${upstreamMessage}` : ''}`,
      {
        operation,
        kind: 'http',
        retryable: isRetryableStatus(status),
        mayHaveReachedServer: true,
        status,
        code: parsed.code,
        type: parsed.type,
        upstreamMessage,
        retryAfterMs,
      },
    );
  }

  async #downloadOnce(start: URL, destination: string, opts: DownloadOptions): Promise<DownloadResult> {
    const { maxBytes, signal } = opts;
    let url = start;
    // Once a redirect leaves the base origin the key is never sent again on this chain.
    let keyAllowed = url.origin === this.#origin;
    for (let hop = 0; ; hop++) {
      const res = await this.#timed('download', () =>
        request(url, {
          dispatcher: this.#agent,
          method: 'GET',
          headers: this.#headers(url, { accept: 'video/mp4, application/octet-stream;q=0.9, */*;q=0.5' }, keyAllowed),
          signal,
        }),
      );
      const location = headerValue(res.headers.location);
      if (REDIRECT_STATUSES.has(res.statusCode) && location) {
        await res.body.dump();
        const next = new URL(location, url);
        if (hop >= MAX_REDIRECTS || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
          throw new TuziError('Tuzi download was redirected too often or to a non-http URL', {
            operation: 'download',
            kind: 'invalid_response',
            retryable: false,
            mayHaveReachedServer: true,
            status: res.statusCode,
          });
        }
        if (next.origin !== this.#origin) keyAllowed = false;
        url = next;
        continue;
      }
      if (res.statusCode < 200 || res.statusCode >= 300) {
        const text = await readLimited(res.body, 64 * 1024).catch(() => '');
        throw this.#httpError('download', res, text);
      }
      const declared = Number(headerValue(res.headers['content-length']));
      const declaredLength = Number.isFinite(declared) && declared >= 0 ? declared : undefined;
      if (declaredLength !== undefined && declaredLength > maxBytes) {
        res.body.destroy();
        throw tooLarge(maxBytes, res.statusCode);
      }
      const written = await writeVerified(res.body, destination, {
        maxBytes,
        declaredLength,
        signal,
        status: res.statusCode,
      });
      await rename(written.tempPath, destination).catch(async (err: unknown) => {
        await unlink(written.tempPath).catch(() => undefined);
        throw err;
      });
      return {
        bytes: written.bytes,
        contentType: headerValue(res.headers['content-type']),
        sha256: written.sha256,
        url: url.href,
      };
    }
  }
}

function buildForm(req: CreateVideoRequest, blob: Blob | undefined): FormData {
  const form = new FormData();
  form.append('model', req.model);
  form.append('prompt', req.prompt);
  if (req.seconds !== undefined) form.append('seconds', String(req.seconds));
  if (req.size !== undefined) form.append('size', req.size);
  const ref = req.inputReference;
  if (ref && 'path' in ref && blob) form.append('input_reference', blob, ref.filename);
  else if (ref && 'url' in ref) form.append('input_reference', ref.url);
  if (req.watermark !== undefined) form.append('watermark', String(req.watermark));
  if (req.private !== undefined) form.append('private', String(req.private));
  if (req.characterUrl !== undefined) form.append('character_url', req.characterUrl);
  if (req.characterTimestamps !== undefined) form.append('character_timestamps', req.characterTimestamps);
  if (req.characterFromTask !== undefined) form.append('character_from_task', req.characterFromTask);
  if (req.characterCreate !== undefined) form.append('character_create', String(req.characterCreate));
  return form;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

class TooLarge extends Error {}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      body.destroy();
      throw new TooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(maxBytes: number, status: number): TuziError {
  return new TuziError(`Tuzi download is larger than the ${maxBytes}-byte limit`, {
    operation: 'download',
    kind: 'too_large',
    retryable: false,
    mayHaveReachedServer: true,
    status,
  });
}

/** An ISO-BMFF file (MP4, MOV) opens with a box whose type, at offset 4, is `ftyp`. */
function looksLikeMp4(head: Buffer): boolean {
  return head.length >= 8 && head.toString('latin1', 4, 8) === 'ftyp';
}

/**
 * Streams the body to a temporary file next to `destination`, hashing,
 * counting and checking the magic bytes on the way; the temporary file is
 * removed on any failure so nothing half-written is ever picked up.
 */
async function writeVerified(
  body: Dispatcher.ResponseData['body'],
  destination: string,
  limits: { maxBytes: number; declaredLength: number | undefined; signal: AbortSignal | undefined; status: number },
): Promise<{ tempPath: string; bytes: number; sha256: string }> {
  const { maxBytes, declaredLength, signal, status } = limits;
  const tempPath = path.join(
    path.dirname(destination),
    `.${path.basename(destination)}.${randomBytes(6).toString('hex')}.part`,
  );
  const hash = createHash('sha256');
  let bytes = 0;
  let head = Buffer.alloc(0);
  const notVideo = (): TuziError =>
    new TuziError('Tuzi download is not a video (no MP4 signature)', {
      operation: 'download',
      kind: 'not_video',
      retryable: false,
      mayHaveReachedServer: true,
      status,
    });
  const out = createWriteStream(tempPath, { flags: 'wx' });
  try {
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          bytes += chunk.length;
          if (bytes > maxBytes) throw tooLarge(maxBytes, status);
          if (head.length < 8) {
            head = Buffer.concat([head, chunk.subarray(0, 8 - head.length)]);
            if (head.length >= 8 && !looksLikeMp4(head)) throw notVideo();
          }
          hash.update(chunk);
          yield chunk;
        }
        if (!looksLikeMp4(head)) throw notVideo();
        if (declaredLength !== undefined && bytes !== declaredLength) {
          throw new TuziError('Tuzi download was truncated', {
            operation: 'download',
            kind: 'network',
            retryable: true,
            mayHaveReachedServer: true,
            status,
          });
        }
      },
      out,
      signal ? { signal } : {},
    );
  } catch (err) {
    // The stream may still be opening the file when the body fails: unlinked before its open, the file would
    // appear afterwards. Destroyed by pipeline, it emits 'close' once its descriptor (if any) is closed.
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    await unlink(tempPath).catch(() => undefined);
    throw err;
  }
  return { tempPath, bytes, sha256: hash.digest('hex') };
}
