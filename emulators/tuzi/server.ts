import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { systemClock, type Clock } from '../../src/clock.js';
import {
  concurrencyLimited,
  deleteRefused,
  insufficientQuota,
  keyRevoked,
  linkExpired,
  modelNotFound,
  resultDeleted,
  taskNotFound,
  type Answer,
  type ProviderStyle,
  type QuotaStyle,
} from './answers.js';
import { ANSWER_FAULTS, BODY_FAULTS, FaultBook, type FaultRoute, type FaultSpec, type RouteFault } from './faults.js';
import { EmulatedJob, validatePlan, type ExpiryAnswer, type JobPlan, type JobPlanner, type StopAs } from './jobs.js';
import { DEFAULT_MODELS, modelListJson, validateModels, type ProviderModel } from './models.js';
import { resolveDialect, spell, type Phase, type StatusDialect, type StatusDialectName } from './statuses.js';
import {
  parseMultipart,
  readModelId,
  validateCreate,
  type ApiError,
  type RecordedFile,
  type ValidCreate,
} from './validate.js';

export type { FaultRoute, FaultSpec } from './faults.js';
export type {
  EmulatedJob,
  JobPlan,
  JobPlanner,
  ProgressCurve,
  JobFailurePlan,
  JobState,
  JobExpiryPlan,
  ExpiryAnswer,
  StopAs,
} from './jobs.js';
export type { RecordedFile } from './validate.js';
export type { ProviderModel, OptionalField } from './models.js';
export { DEFAULT_MODELS } from './models.js';
export type { StatusDialect, StatusDialectName, Phase } from './statuses.js';
export { STATUS_DIALECTS } from './statuses.js';
export type { ProviderStyle, QuotaStyle } from './answers.js';

export const DEFAULT_VIDEO_FILE = fileURLToPath(new URL('../fixtures/sample.mp4', import.meta.url));
export const DEFAULT_JOB_DURATION_MS = 5_000;
/** Uploads above this are refused with 413, as real gateways do. */
const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

/** How `GET /v1/models` behaves: served, absent (404, as relays without it), failing (500), or never answering. */
export type ModelsEndpointMode = 'ok' | 'missing' | 'error' | 'hang';

/**
 * The shape of the video object:
 * - `seed`: `video_url` once completed (the seed's query fields).
 * - `openai`: OpenAI's own object, no `video_url`; `completed_at`,
 *   `expires_at`, `prompt`, `remixed_from_video_id`, `error`; download only
 *   through `/content` (OpenAI API reference, "The video object").
 * - `empty-url`: `video_url: ""` once completed, as some relays leave it (facts/tuzi.md).
 */
export type VideoShape = 'seed' | 'openai' | 'empty-url';

/** What DELETE does to a queued or running job: refuse it (400), or stop it as `cancelled` or `failed`. */
export type DeleteActiveMode = 'refuse' | 'cancel' | 'fail';

/** What `jobCost` sees about the job being created. */
export interface JobCostContext {
  model: string;
  seconds: number;
  size: string;
}

/** The provider's behaviour; every field can also be changed at run time with `configure`. */
export interface ProviderBehaviour {
  /** The provider's own catalogue; DEFAULT_MODELS when absent. */
  models: readonly ProviderModel[];
  /** How a create for a model the provider does not serve is answered: OpenAI's 404 (default) or new-api's 503. */
  modelNotFound: ProviderStyle;
  /** Default `ok`. */
  modelsEndpoint: ModelsEndpointMode;
  /** How statuses are spelled unless a job's plan says otherwise; the seed's spelling by default. */
  statuses: StatusDialect | StatusDialectName;
  /** How an unknown task id is answered: a 404 (default) or new-api's HTTP 400 `task_not_exist`. */
  unknownTask: ProviderStyle;
  /** Default `seed`. */
  videoShape: VideoShape;
  /**
   * `ms` like the seed, `s` like OpenAI, `mixed`: seconds on create and
   * milliseconds on query, as one provider's own examples do (facts/tuzi.md).
   * Default `s` for the `openai` shape, `ms` otherwise.
   */
  createdAtUnit: 'ms' | 's' | 'mixed' | undefined;
  /**
   * Lifetime of a completed job's assets (OpenAI: about an hour). After
   * `expires_at` the `video_url` file and `/content` answer
   * `expiredLinkStatus`. Absent (default): assets never expire.
   */
  assetTtlMs: number | undefined;
  /** Default 403, as signed object-store URLs answer. */
  expiredLinkStatus: 403 | 410;
  /** Jobs one key may have running (created and not ended); absent: no cap. */
  maxRunningJobs: number | undefined;
  /** Default `openai`. */
  concurrencyStyle: ProviderStyle;
  /** `Retry-After` on a concurrency 429, seconds; default 30. */
  retryAfterSeconds: number;
  /** The balance; absent: unmetered. Setting it (again) resets the balance. */
  credits: number | undefined;
  /** Credits a job costs; default seconds × the model's `costPerSecond` (1). */
  jobCost: ((job: JobCostContext) => number) | undefined;
  /** Default `openai` (429 insufficient_quota). */
  quotaStyle: QuotaStyle;
  /** Give back the cost of a job that fails or is cancelled, as new-api does (RefundTaskQuota); default true. */
  refundFailedJobs: boolean;
  /** How a revoked key is answered (401 either way); default `openai`. */
  revokedKeyStyle: ProviderStyle;
  /** Default `refuse`: OpenAI documents DELETE for completed or failed videos. */
  deleteActive: DeleteActiveMode;
  /** `redirect`: the content endpoint answers 302 to the video_url; `direct`: it streams the bytes. */
  contentMode: 'redirect' | 'direct';
}

export interface TuziEmulatorOptions extends Partial<ProviderBehaviour> {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The only key accepted; when unset any non-empty Bearer key is. */
  apiKey?: string;
  /** Drives job progress; a ManualClock makes a ten-minute job take milliseconds. */
  clock?: Clock;
  /** How long a job takes from creation to completion, unless a JobPlan says otherwise. */
  jobDurationMs?: number;
  /** The MP4 served for completed jobs; defaults to emulators/fixtures/sample.mp4. */
  videoFile?: string;
}

export type RecordedRoute = FaultRoute | 'other';

/** One request as the emulator saw it. */
export interface RecordedRequest {
  /** Emulator clock time of arrival (ms). */
  at: number;
  method: string;
  /** The request target exactly as sent (not decoded), query included. */
  rawPath: string;
  route: RecordedRoute;
  /** The task id addressed (decoded from the path), for retrieve/content/video/delete. */
  jobId?: string;
  /** Lower-case header names; `authorization` is masked. */
  headers: Record<string, string>;
  /** The client's source port: equal ports mean one reused keep-alive connection. */
  remotePort: number;
  /** Whether a Bearer key was present and accepted. */
  authorized: boolean;
  /** String parts of a multipart body (first occurrence per name). */
  fields: Record<string, string>;
  /** Every part name in order, duplicates included. */
  partNames: string[];
  files: RecordedFile[];
  /** Status answered; undefined while pending and for hangs and resets. */
  status?: number;
  /** The fault that shaped the answer, if any. */
  fault?: FaultSpec['kind'];
}

export interface TuziEmulator {
  /** Base URL, no trailing slash. */
  url: string;
  requests: RecordedRequest[];
  jobs: ReadonlyMap<string, EmulatedJob>;
  injectFault(f: FaultSpec): void;
  clearFaults(): void;
  /**
   * Applies to jobs created from now on. An object is merged into the default
   * plan; a function picks a plan per job (merged over the default plan).
   */
  setJobPlan(plan: Partial<JobPlan> | JobPlanner): void;
  /** Back to the startup plan, without a planner. */
  resetJobPlan(): void;
  setContentMode(mode: 'redirect' | 'direct'): void;
  /** The provider's current model list. */
  readonly models: readonly ProviderModel[];
  /**
   * Changes the provider's behaviour from now on. A field given as undefined
   * goes back to its default ("none" for the caps, the balance and the TTL).
   */
  configure(patch: Partial<ProviderBehaviour>): void;
  /** Credits left (Infinity when unmetered), refunds of failed and cancelled jobs included. */
  readonly balance: number;
  /** Adds credits to a metered balance. */
  topUp(credits: number): void;
  /** Revokes a key (the configured one by default, every key when none is configured): 401 on every API route. */
  revokeKey(key?: string): void;
  /** Undoes revokeKey (all revocations without an argument). */
  restoreKey(key?: string): void;
  /** Stops a queued or running job as the provider would; false when it had already ended. */
  cancelJob(id: string, as?: StopAs): boolean;
  /**
   * Deletes a job's result at `at` (emulator clock, default now): mid-run or
   * after completion. GET then answers 410 `{"status":"expired",…}` (or a
   * 200 with status `expired`), until `recoverAfterMs` if given.
   */
  expireJob(id: string, opts?: { at?: number; recoverAfterMs?: number; as?: ExpiryAnswer }): void;
  /** Jobs counting toward `maxRunningJobs` now: those of `key` (every job without it) not yet ended. */
  runningJobs(key?: string): number;
  close(): Promise<void>;
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/** A ULID-shaped, lower-case 26-char id, like `01k78gpb3ffrmtyww…` in the seed. */
function ulid(now: number): string {
  let time = '';
  let t = Math.max(0, Math.floor(now));
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const rand = [...randomBytes(16)].map((b) => CROCKFORD[b % 32]).join('');
  return time + rand;
}

/** A minimal but valid `ftyp` box, so an oversized body passes the magic check and only its size is wrong. */
const FTYP_BOX = Buffer.from('00000020667479706973366d0000020069736f6d69736f32617663316d703431', 'hex');

function maskHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const v = Array.isArray(value) ? value.join(', ') : value;
    out[name] = name === 'authorization' ? v.replace(/^(\S+)\s+.*$/, '$1 ***') : v;
  }
  return out;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, e: ApiError, headers: Record<string, string> = {}): void {
  const error: Record<string, string> = { message: e.message, type: e.type, code: e.code };
  if (e.param !== undefined) error.param = e.param;
  sendJson(res, e.status, { error }, headers);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Writes `total` bytes from `chunkAt`, honouring back-pressure, so a 50 MiB body never sits in memory. */
async function streamOut(
  res: ServerResponse,
  total: number,
  chunkAt: (offset: number, max: number) => Buffer,
  pause?: () => Promise<void>,
): Promise<void> {
  let offset = 0;
  while (offset < total && !res.destroyed) {
    const chunk = chunkAt(offset, total - offset);
    offset += chunk.length;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
    if (pause && offset < total) await pause();
  }
  if (!res.destroyed) res.end();
}

const PADDING = Buffer.alloc(64 * 1024);

function sendAnswer(res: ServerResponse, a: Answer): void {
  if (typeof a.body === 'string') {
    res.writeHead(a.status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(a.body),
      ...a.headers,
    });
    res.end(a.body);
    return;
  }
  sendJson(res, a.status, a.body, a.headers);
}

/** A stable, non-reversible id for a key, so records and jobs never hold the key itself. */
function keyIdOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

type Auth = { state: 'ok'; key: string; keyId: string } | { state: 'revoked'; key: string } | { state: 'none' };

const BEHAVIOUR_KEYS: readonly (keyof ProviderBehaviour)[] = [
  'models',
  'modelNotFound',
  'modelsEndpoint',
  'statuses',
  'unknownTask',
  'videoShape',
  'createdAtUnit',
  'assetTtlMs',
  'expiredLinkStatus',
  'maxRunningJobs',
  'concurrencyStyle',
  'retryAfterSeconds',
  'credits',
  'jobCost',
  'quotaStyle',
  'refundFailedJobs',
  'revokedKeyStyle',
  'deleteActive',
  'contentMode',
];

function checkBehaviour(b: ProviderBehaviour): void {
  validateModels(b.models);
  resolveDialect(b.statuses);
  if (b.maxRunningJobs !== undefined && !(Number.isInteger(b.maxRunningJobs) && b.maxRunningJobs >= 0)) {
    throw new RangeError('maxRunningJobs must be a non-negative integer');
  }
  if (b.assetTtlMs !== undefined && !(b.assetTtlMs >= 0)) throw new RangeError('assetTtlMs must be >= 0');
  if (!(b.retryAfterSeconds >= 0)) throw new RangeError('retryAfterSeconds must be >= 0');
  if (b.credits !== undefined && !Number.isFinite(b.credits)) throw new RangeError('credits must be finite');
}

const DEFAULT_BEHAVIOUR: Readonly<ProviderBehaviour> = {
  models: DEFAULT_MODELS,
  modelNotFound: 'openai',
  modelsEndpoint: 'ok',
  statuses: {},
  unknownTask: 'openai',
  videoShape: 'seed',
  createdAtUnit: undefined,
  assetTtlMs: undefined,
  expiredLinkStatus: 403,
  maxRunningJobs: undefined,
  concurrencyStyle: 'openai',
  retryAfterSeconds: 30,
  credits: undefined,
  jobCost: undefined,
  quotaStyle: 'openai',
  refundFailedJobs: true,
  revokedKeyStyle: 'openai',
  deleteActive: 'refuse',
  contentMode: 'redirect',
};

export async function startTuziEmulator(opts: TuziEmulatorOptions = {}): Promise<TuziEmulator> {
  const clock = opts.clock ?? systemClock;
  const host = opts.host ?? '127.0.0.1';
  const video = await readFile(opts.videoFile ?? DEFAULT_VIDEO_FILE);
  const behaviour: ProviderBehaviour = { ...DEFAULT_BEHAVIOUR };
  for (const key of BEHAVIOUR_KEYS) {
    if (opts[key] !== undefined) Object.assign(behaviour, { [key]: opts[key] });
  }
  checkBehaviour(behaviour);
  behaviour.models = validateModels(behaviour.models);

  const startPlan: JobPlan = {
    durationMs: opts.jobDurationMs ?? DEFAULT_JOB_DURATION_MS,
    queuedFraction: 0.1,
    curve: 'linear',
  };
  validatePlan(startPlan);
  let defaultPlan: JobPlan = { ...startPlan };
  let planner: JobPlanner | undefined;

  // The balance: what is left before refunds. A job charged in the current
  // epoch is refunded while it stands failed or cancelled; resetting the
  // credits starts a new epoch, so older jobs never refund twice.
  let creditsLeft = behaviour.credits;
  let ledgerEpoch = 0;
  const chargedEpoch = new Map<EmulatedJob, number>();

  const revokedKeys = new Set<string>();
  let everyKeyRevoked = false;

  const faults = new FaultBook();
  const requests: RecordedRequest[] = [];
  const jobs = new Map<string, EmulatedJob>();
  const byToken = new Map<string, EmulatedJob>();
  const sockets = new Set<Socket>();
  const pauses = new Set<NodeJS.Timeout>();
  let baseUrl = '';
  let closing = false;

  const realPause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      // Network-level slowness is real time on purpose: it exercises the client's socket timeouts.
      const t = setTimeout(() => {
        pauses.delete(t);
        resolve();
      }, ms);
      pauses.add(t);
    });

  function authorize(req: IncomingMessage): Auth {
    const m = /^Bearer\s+(\S.*)$/i.exec(req.headers.authorization ?? '');
    const key = m?.[1]?.trim();
    if (!key) return { state: 'none' };
    if (opts.apiKey !== undefined && opts.apiKey !== '' && key !== opts.apiKey) return { state: 'none' };
    const keyId = keyIdOf(key);
    if (everyKeyRevoked || revokedKeys.has(keyId)) return { state: 'revoked', key };
    return { state: 'ok', key, keyId };
  }

  /** Answers a request whose key was not accepted. */
  function refusal(auth: Exclude<Auth, { state: 'ok' }>): Answer {
    if (auth.state === 'revoked') return keyRevoked(behaviour.revokedKeyStyle, auth.key, clock.now());
    const e = unauthorized();
    return { status: e.status, body: { error: { message: e.message, type: e.type, code: e.code } } };
  }

  function dialectOf(job: EmulatedJob): StatusDialect {
    return resolveDialect(job.plan.statuses ?? behaviour.statuses);
  }

  function timestamp(ms: number, phase: 'create' | 'query'): number {
    const unit = behaviour.createdAtUnit ?? (behaviour.videoShape === 'openai' ? 's' : 'ms');
    const seconds = unit === 's' || (unit === 'mixed' && phase === 'create');
    return seconds ? Math.floor(ms / 1000) : ms;
  }

  function assetsExpireAt(job: EmulatedJob): number | undefined {
    const done = job.completedAt;
    return done === undefined || behaviour.assetTtlMs === undefined ? undefined : done + behaviour.assetTtlMs;
  }

  /** Whether the video bytes of a completed job are gone (assets expired, or the task deleted). */
  function assetsGone(job: EmulatedJob, now: number): boolean {
    const expires = assetsExpireAt(job);
    return (expires !== undefined && now >= expires) || (job.deletedAt !== undefined && now >= job.deletedAt);
  }

  function taskJson(job: EmulatedJob, phase: 'create' | 'query' = 'query'): Record<string, unknown> {
    const now = clock.now();
    const state = job.stateAt(now);
    const expired = phase === 'query' && job.expiredAt(now) === 'status';
    const status: Phase = expired ? 'expired' : state.status;
    const body: Record<string, unknown> = {
      id: job.id,
      object: 'video',
      model: job.model,
      status: spell(status, dialectOf(job)),
      progress: state.progress,
      created_at: timestamp(job.createdAt, phase),
      seconds: String(job.seconds),
      size: job.size,
    };
    if (expired) {
      // A public Tuzi client is sent {"id", "status":"expired","message":…} for such a task.
      body.message = 'async task result has been deleted';
      return body;
    }
    const completed = state.status === 'completed';
    const completedAt = job.completedAt;
    const expiresAt = assetsExpireAt(job);
    const expiresAtS = completed && expiresAt !== undefined ? Math.floor(expiresAt / 1000) : null;
    if (behaviour.videoShape === 'openai') {
      // OpenAI's video object: no video_url; times in Unix seconds, null until known.
      body.completed_at = completed && completedAt !== undefined ? Math.floor(completedAt / 1000) : null;
      body.expires_at = expiresAtS;
      body.prompt = job.prompt;
      body.remixed_from_video_id = null;
      body.error = state.error ?? null;
      return body;
    }
    if (completed) {
      body.video_url = behaviour.videoShape === 'empty-url' ? '' : `${baseUrl}/files/${job.videoToken}.mp4`;
      if (expiresAtS !== null) body.expires_at = expiresAtS;
    }
    if (state.error) body.error = state.error;
    return body;
  }

  function balanceNow(): number {
    if (creditsLeft === undefined) return Infinity;
    if (!behaviour.refundFailedJobs) return creditsLeft;
    const now = clock.now();
    let refunds = 0;
    for (const [job, epoch] of chargedEpoch) {
      if (epoch !== ledgerEpoch) continue;
      const s = job.stateAt(now).status;
      if (s === 'failed' || s === 'cancelled') refunds += job.cost;
    }
    return creditsLeft + refunds;
  }

  function runningFor(keyId: string | undefined): number {
    const now = clock.now();
    let n = 0;
    for (const job of jobs.values()) {
      if ((keyId === undefined || job.keyId === keyId) && !job.endedAt(now)) n += 1;
    }
    return n;
  }

  function costOf(v: ValidCreate): number {
    const ctx = { model: v.model.id, seconds: v.seconds, size: v.size };
    return behaviour.jobCost ? behaviour.jobCost(ctx) : v.seconds * (v.model.costPerSecond ?? 1);
  }

  function createJob(v: ValidCreate, fields: Record<string, string>, keyId: string, cost: number): EmulatedJob {
    const index = jobs.size;
    let plan: JobPlan = { ...defaultPlan };
    if (planner) {
      plan = {
        ...plan,
        ...planner({ index, model: v.model.id, prompt: v.prompt, seconds: v.seconds, size: v.size }),
      };
    }
    const failure = faults.takeJobFailure();
    if (failure) plan.failure = { atProgress: failure.atProgress, code: failure.code, message: failure.message };
    validatePlan(plan);
    const now = clock.now();
    const job = new EmulatedJob(
      {
        id: `${v.model.id}:task_${ulid(now)}`,
        index,
        model: v.model.id,
        prompt: v.prompt,
        seconds: v.seconds,
        size: v.size,
        createdAt: now,
        plan,
        videoToken: randomBytes(12).toString('hex'),
        fields,
        keyId,
        cost,
        ...(v.inputReference ? { inputReference: v.inputReference } : {}),
      },
      clock,
    );
    jobs.set(job.id, job);
    byToken.set(job.videoToken, job);
    if (creditsLeft !== undefined) {
      creditsLeft -= cost;
      chargedEpoch.set(job, ledgerEpoch);
    }
    return job;
  }

  /** Serves video bytes, shaped by a download fault when one is given. */
  async function serveVideo(res: ServerResponse, contentType: string, fault: RouteFault | undefined): Promise<void> {
    if (fault?.kind === 'not-video') {
      const body = Buffer.from(fault.body ?? '<html><body>502 Bad Gateway</body></html>');
      res.writeHead(200, { 'content-type': fault.contentType ?? 'video/mp4', 'content-length': body.length });
      res.end(body);
      return;
    }
    if (fault?.kind === 'oversized') {
      const headers: Record<string, string | number> = { 'content-type': contentType };
      if (fault.declareLength ?? true) headers['content-length'] = fault.bytes;
      res.writeHead(200, headers);
      await streamOut(res, fault.bytes, (offset, max) =>
        offset < FTYP_BOX.length
          ? FTYP_BOX.subarray(offset, Math.min(FTYP_BOX.length, offset + max))
          : PADDING.subarray(0, Math.min(PADDING.length, max)),
      );
      return;
    }
    if (fault?.kind === 'truncate') {
      const cut = Math.min(video.length - 1, fault.afterBytes ?? Math.floor(video.length / 2));
      res.writeHead(200, { 'content-type': contentType, 'content-length': video.length });
      res.write(video.subarray(0, cut), () => res.destroy());
      return;
    }
    res.writeHead(200, { 'content-type': contentType, 'content-length': video.length });
    if (fault?.kind === 'slow') {
      const size = Math.max(1, fault.chunkBytes ?? 512);
      const wait = fault.delayMs ?? 20;
      await streamOut(
        res,
        video.length,
        (offset, max) => video.subarray(offset, offset + Math.min(size, max)),
        () => realPause(wait),
      );
      return;
    }
    res.end(video);
  }

  /** Applies one of ANSWER_FAULTS, which replace the whole answer. */
  function applyAnswerFault(req: IncomingMessage, res: ServerResponse, fault: RouteFault): void {
    switch (fault.kind) {
      case 'http-error': {
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
        const defaultCode =
          fault.status === 429 ? 'rate_limit_exceeded' : fault.status >= 500 ? 'upstream_error' : 'invalid_request';
        sendError(
          res,
          {
            status: fault.status,
            type: fault.status >= 500 ? 'server_error' : 'invalid_request_error',
            code: fault.code ?? defaultCode,
            message: fault.message ?? `Injected HTTP ${fault.status}`,
          },
          headers,
        );
        return;
      }
      case 'json':
        sendJson(res, fault.status ?? 200, fault.body);
        return;
      case 'hang':
        // Never answered; close() destroys the socket.
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'malformed-json': {
        const text = '{"id":"sora-2:task_01k7","object":"video","status":"que';
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      default:
        // Body faults are taken from the book only where bytes are served.
        throw new Error(`${fault.kind} is not an answer fault`);
    }
  }

  function routeOf(method: string, segments: string[]): { route: RecordedRoute; id?: string; allowed: boolean } {
    const [a, b, c, d, ...rest] = segments;
    if (rest.length === 0 && a === 'v1' && b === 'models' && c === undefined) {
      return { route: 'models', allowed: method === 'GET' };
    }
    if (rest.length === 0 && a === 'v1' && b === 'videos') {
      if (c === undefined && d === undefined) return { route: 'create', allowed: method === 'POST' };
      if (c !== undefined && c !== '' && d === undefined) {
        if (method === 'DELETE') return { route: 'delete', id: c, allowed: true };
        return { route: 'retrieve', id: c, allowed: method === 'GET' };
      }
      if (c !== undefined && c !== '' && d === 'content') return { route: 'content', id: c, allowed: method === 'GET' };
    }
    if (a === 'files' && b !== undefined && c === undefined && b.endsWith('.mp4')) {
      const job = byToken.get(b.slice(0, -4));
      return { route: 'video', ...(job ? { id: job.id } : {}), allowed: method === 'GET' };
    }
    return { route: 'other', allowed: false };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const rawPath = req.url ?? '/';
    const auth = authorize(req);
    const record: RecordedRequest = {
      at: clock.now(),
      method,
      rawPath,
      route: 'other',
      headers: maskHeaders(req),
      remotePort: req.socket.remotePort ?? 0,
      authorized: auth.state === 'ok',
      fields: {},
      partNames: [],
      files: [],
    };
    requests.push(record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });

    const pathname = rawPath.split('?')[0] ?? '/';
    let segments: string[];
    try {
      // Segments are split before decoding, so an id carrying an escaped `/` stays one segment.
      segments = pathname
        .split('/')
        .slice(1)
        .map((s) => decodeURIComponent(s));
    } catch {
      sendError(res, { status: 400, type: 'invalid_request_error', code: 'invalid_path', message: 'Malformed path' });
      return;
    }
    const match = routeOf(method, segments);
    record.route = match.route;
    if (match.id !== undefined) record.jobId = match.id;
    if (match.route === 'other' || (match.route === 'models' && behaviour.modelsEndpoint === 'missing')) {
      if (match.route === 'models') {
        // Relays without a model list answer their framework's own 404: gin's is this text/plain line.
        sendAnswer(res, { status: 404, body: '404 page not found' });
        return;
      }
      sendError(res, { status: 404, type: 'invalid_request_error', code: 'not_found', message: 'Unknown route' });
      return;
    }
    if (!match.allowed) {
      sendError(res, {
        status: 405,
        type: 'invalid_request_error',
        code: 'method_not_allowed',
        message: `${method} is not allowed here`,
      });
      return;
    }

    if (match.route === 'create') {
      await handleCreate(req, res, record, auth);
      return;
    }

    const answerFault = faults.take(match.route, match.id, ANSWER_FAULTS);
    if (answerFault) {
      record.fault = answerFault.kind;
      applyAnswerFault(req, res, answerFault);
      return;
    }

    if (match.route !== 'video' && auth.state !== 'ok') {
      sendAnswer(res, refusal(auth));
      return;
    }
    if (match.route === 'models') {
      handleModels(res);
      return;
    }
    const now = clock.now();
    const job = match.id === undefined ? undefined : jobs.get(match.id);
    if (match.route === 'video') {
      if (!job) {
        sendError(res, { status: 404, type: 'invalid_request_error', code: 'not_found', message: 'Video not found' });
        return;
      }
      if (job.status === 'completed' && assetsGone(job, now)) {
        sendAnswer(res, linkExpired(behaviour.expiredLinkStatus));
        return;
      }
    } else if (!job || (job.deletedAt !== undefined && now >= job.deletedAt)) {
      sendAnswer(res, taskNotFound(behaviour.unknownTask));
      return;
    }
    if (match.route === 'delete') {
      handleDelete(res, job);
      return;
    }
    const expired = match.route === 'video' ? undefined : job.expiredAt(now);
    if (expired === 'http-410' || (expired === 'status' && match.route === 'content')) {
      sendAnswer(res, resultDeleted());
      return;
    }
    if (match.route === 'retrieve') {
      sendJson(res, 200, taskJson(job));
      return;
    }
    if (job.status !== 'completed') {
      sendError(res, {
        status: 404,
        type: 'invalid_request_error',
        code: 'video_not_ready',
        message: `Video is ${job.status}, not completed`,
      });
      return;
    }
    const fault = faults.take(match.route, match.id, BODY_FAULTS);
    if (fault) record.fault = fault.kind;
    // A body fault aimed at the content endpoint makes it serve (shaped) bytes even in redirect mode.
    if (match.route === 'content' && behaviour.contentMode === 'redirect' && !fault) {
      // Past expires_at the redirect still goes out; the file host is what refuses the expired link.
      res.writeHead(302, { location: `${baseUrl}/files/${job.videoToken}.mp4`, 'content-length': 0 });
      res.end();
      return;
    }
    if (match.route === 'content' && assetsGone(job, now)) {
      // Serving directly, the provider has nothing left to stream; it answers as its file host does.
      sendAnswer(res, linkExpired(behaviour.expiredLinkStatus));
      return;
    }
    // The seed documents text/plain for the content endpoint; the file host says video/mp4.
    await serveVideo(res, match.route === 'content' ? 'text/plain' : 'video/mp4', fault);
  }

  function handleModels(res: ServerResponse): void {
    if (behaviour.modelsEndpoint === 'hang') return; // never answered; close() destroys the socket
    if (behaviour.modelsEndpoint === 'error') {
      // OpenAI's "500 - The server had an error while processing your request" (error-codes guide).
      sendJson(res, 500, {
        error: {
          message: 'The server had an error while processing your request. Sorry about that!',
          type: 'server_error',
          param: null,
          code: null,
        },
      });
      return;
    }
    // OpenAI API reference, "List models": {object:"list", data:[{id, object:"model", created, owned_by}]}.
    sendJson(res, 200, modelListJson(behaviour.models));
  }

  /**
   * DELETE /v1/videos/{id} answers OpenAI's deleted object
   * `{ id, object: "video.deleted", deleted: true }` (API reference, "Delete
   * video"). A deleted task is then unknown to GET; a queued or running one
   * follows `deleteActive`, and a stopped one stays visible as cancelled or
   * failed so a poller sees it end.
   */
  function handleDelete(res: ServerResponse, job: EmulatedJob): void {
    const now = clock.now();
    const deleted = { id: job.id, object: 'video.deleted', deleted: true };
    if (job.endedAt(now) || job.expiredAt(now) !== undefined) {
      job.markDeleted(now);
      sendJson(res, 200, deleted);
      return;
    }
    if (behaviour.deleteActive === 'refuse') {
      sendAnswer(res, deleteRefused(job.id, spell(job.stateAt(now).status, dialectOf(job))));
      return;
    }
    job.cancel(behaviour.deleteActive === 'cancel' ? 'cancelled' : 'failed', now);
    sendJson(res, 200, deleted);
  }

  async function handleCreate(
    req: IncomingMessage,
    res: ServerResponse,
    record: RecordedRequest,
    auth: Auth,
  ): Promise<void> {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_UPLOAD_BYTES) {
      sendError(res, tooLargeError(), { connection: 'close' });
      req.resume();
      return;
    }
    // The whole body is read first: every create fault happens after the request fully arrived.
    const body = await readBody(req, MAX_UPLOAD_BYTES);
    if (!body) {
      sendError(res, tooLargeError(), { connection: 'close' });
      return;
    }
    const parsed = await parseMultipart(req.headers['content-type'], body);
    if (parsed.ok) {
      record.fields = parsed.value.fields;
      record.partNames = parsed.value.partNames;
      record.files = parsed.value.files;
    }

    const fault = faults.take('create', undefined, ANSWER_FAULTS);
    if (fault) record.fault = fault.kind;
    if (fault && !fault.commit) {
      applyAnswerFault(req, res, fault);
      return;
    }

    // The order of the checks is new-api's: the key (TokenAuth), then the
    // model (Distribute), then the request, then the balance (pre-consume),
    // then the upstream, whose concurrency cap answers last.
    if (auth.state !== 'ok') {
      sendAnswer(res, refusal(auth));
      return;
    }
    if (!parsed.ok) {
      sendError(res, parsed.error);
      return;
    }
    const modelId = readModelId(parsed.value);
    if (!modelId.ok) {
      sendError(res, modelId.error);
      return;
    }
    const model = behaviour.models.find((m) => m.id === modelId.value);
    if (!model || model.served === false) {
      sendAnswer(res, modelNotFound(behaviour.modelNotFound, modelId.value, clock.now()));
      return;
    }
    const valid = validateCreate(parsed.value, model, behaviour.models);
    if (!valid.ok) {
      sendError(res, valid.error);
      return;
    }
    const cost = costOf(valid.value);
    const balance = balanceNow();
    if (balance < cost) {
      sendAnswer(res, insufficientQuota(behaviour.quotaStyle, { balance, cost }));
      return;
    }
    const cap = behaviour.maxRunningJobs;
    if (cap !== undefined) {
      const running = runningFor(auth.keyId);
      if (running >= cap) {
        sendAnswer(
          res,
          concurrencyLimited(behaviour.concurrencyStyle, {
            limit: cap,
            running,
            retryAfterSeconds: behaviour.retryAfterSeconds,
          }),
        );
        return;
      }
    }
    const job = createJob(valid.value, parsed.value.fields, auth.keyId, cost);
    if (fault) {
      applyAnswerFault(req, res, fault);
      return;
    }
    sendJson(res, 200, taskJson(job, 'create'));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (closing) return;
      if (!res.headersSent) {
        sendError(res, {
          status: 500,
          type: 'server_error',
          code: 'emulator_error',
          message: err instanceof Error ? err.message : 'emulator error',
        });
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  function jobOrThrow(id: string): EmulatedJob {
    const job = jobs.get(id);
    if (!job) throw new RangeError(`no job ${id}`);
    return job;
  }

  return {
    url: baseUrl,
    requests,
    jobs,
    injectFault(f: FaultSpec) {
      faults.add(f);
    },
    clearFaults() {
      faults.clear();
    },
    setJobPlan(plan: Partial<JobPlan> | JobPlanner) {
      if (typeof plan === 'function') {
        planner = plan;
        return;
      }
      const next = { ...defaultPlan, ...plan };
      validatePlan(next);
      defaultPlan = next;
    },
    resetJobPlan() {
      defaultPlan = { ...startPlan };
      planner = undefined;
    },
    setContentMode(mode: 'redirect' | 'direct') {
      behaviour.contentMode = mode;
    },
    get models() {
      return behaviour.models;
    },
    configure(patch: Partial<ProviderBehaviour>) {
      const next: ProviderBehaviour = { ...behaviour };
      for (const key of BEHAVIOUR_KEYS) {
        if (key in patch) Object.assign(next, { [key]: patch[key] ?? DEFAULT_BEHAVIOUR[key] });
      }
      checkBehaviour(next);
      next.models = validateModels(next.models);
      Object.assign(behaviour, next);
      if ('credits' in patch) {
        creditsLeft = next.credits;
        ledgerEpoch += 1;
      }
    },
    get balance() {
      return balanceNow();
    },
    topUp(credits: number) {
      if (!(credits >= 0) || !Number.isFinite(credits)) throw new RangeError('top-up must be a finite amount >= 0');
      if (creditsLeft === undefined) throw new Error('the balance is unmetered; configure({ credits }) first');
      creditsLeft += credits;
    },
    revokeKey(key?: string) {
      const target = key ?? (opts.apiKey ? opts.apiKey : undefined);
      if (target === undefined) everyKeyRevoked = true;
      else revokedKeys.add(keyIdOf(target));
    },
    restoreKey(key?: string) {
      if (key === undefined) {
        everyKeyRevoked = false;
        revokedKeys.clear();
      } else {
        revokedKeys.delete(keyIdOf(key));
      }
    },
    cancelJob(id: string, as: StopAs = 'cancelled') {
      return jobOrThrow(id).cancel(as);
    },
    expireJob(id: string, expiry = {}) {
      jobOrThrow(id).expire(expiry);
    },
    runningJobs(key?: string) {
      return runningFor(key === undefined ? undefined : keyIdOf(key));
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const t of pauses) clearTimeout(t);
      pauses.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function unauthorized(): ApiError {
  return {
    status: 401,
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    message: 'Invalid or missing API key (expected Authorization: Bearer <key>)',
  };
}

function tooLargeError(): ApiError {
  return { status: 413, type: 'invalid_request_error', code: 'request_too_large', message: 'Request body too large' };
}
