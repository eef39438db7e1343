import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { systemClock, type Clock } from '../../src/clock.js';
import { ANSWER_FAULTS, BODY_FAULTS, FaultBook, type FaultRoute, type FaultSpec, type RouteFault } from './faults.js';
import { EmulatedJob, validatePlan, type JobPlan, type JobPlanner } from './jobs.js';
import { parseMultipart, validateCreate, type ApiError, type RecordedFile, type ValidCreate } from './validate.js';

export type { FaultRoute, FaultSpec } from './faults.js';
export type { EmulatedJob, JobPlan, JobPlanner, ProgressCurve, JobFailurePlan, JobState } from './jobs.js';
export type { RecordedFile } from './validate.js';

export const DEFAULT_VIDEO_FILE = fileURLToPath(new URL('../fixtures/sample.mp4', import.meta.url));
export const DEFAULT_JOB_DURATION_MS = 5_000;
/** Uploads above this are refused with 413, as real gateways do. */
const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

export interface TuziEmulatorOptions {
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
  /** `redirect`: the content endpoint answers 302 to the video_url; `direct`: it streams the bytes. */
  contentMode?: 'redirect' | 'direct';
  /** The MP4 served for completed jobs; defaults to emulators/fixtures/sample.mp4. */
  videoFile?: string;
  /** `ms` like the seed (default) or `s` like OpenAI, to exercise the client's normalisation. */
  createdAtUnit?: 'ms' | 's';
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
  /** The task id addressed (decoded from the path), for retrieve/content/video. */
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

export async function startTuziEmulator(opts: TuziEmulatorOptions = {}): Promise<TuziEmulator> {
  const clock = opts.clock ?? systemClock;
  const host = opts.host ?? '127.0.0.1';
  const video = await readFile(opts.videoFile ?? DEFAULT_VIDEO_FILE);
  const createdAtUnit = opts.createdAtUnit ?? 'ms';
  let contentMode = opts.contentMode ?? 'redirect';
  const startPlan: JobPlan = {
    durationMs: opts.jobDurationMs ?? DEFAULT_JOB_DURATION_MS,
    queuedFraction: 0.1,
    curve: 'linear',
  };
  validatePlan(startPlan);
  let defaultPlan: JobPlan = { ...startPlan };
  let planner: JobPlanner | undefined;

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

  function authorize(req: IncomingMessage): boolean {
    const m = /^Bearer\s+(\S.*)$/i.exec(req.headers.authorization ?? '');
    const key = m?.[1]?.trim();
    if (!key) return false;
    return opts.apiKey === undefined || opts.apiKey === '' ? true : key === opts.apiKey;
  }

  function taskJson(job: EmulatedJob): Record<string, unknown> {
    const state = job.stateAt();
    const body: Record<string, unknown> = {
      id: job.id,
      object: 'video',
      model: job.model,
      status: state.status,
      progress: state.progress,
      created_at: createdAtUnit === 'ms' ? job.createdAt : Math.floor(job.createdAt / 1000),
      seconds: String(job.seconds),
      size: job.size,
    };
    if (state.status === 'completed') body.video_url = `${baseUrl}/files/${job.videoToken}.mp4`;
    if (state.error) body.error = state.error;
    return body;
  }

  function createJob(v: ValidCreate, fields: Record<string, string>): EmulatedJob {
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
        ...(v.inputReference ? { inputReference: v.inputReference } : {}),
      },
      clock,
    );
    jobs.set(job.id, job);
    byToken.set(job.videoToken, job);
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
    if (rest.length === 0 && a === 'v1' && b === 'videos') {
      if (c === undefined && d === undefined) return { route: 'create', allowed: method === 'POST' };
      if (c !== undefined && c !== '' && d === undefined)
        return { route: 'retrieve', id: c, allowed: method === 'GET' };
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
    const record: RecordedRequest = {
      at: clock.now(),
      method,
      rawPath,
      route: 'other',
      headers: maskHeaders(req),
      remotePort: req.socket.remotePort ?? 0,
      authorized: authorize(req),
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
    if (match.route === 'other') {
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
      await handleCreate(req, res, record);
      return;
    }

    const answerFault = faults.take(match.route, match.id, ANSWER_FAULTS);
    if (answerFault) {
      record.fault = answerFault.kind;
      applyAnswerFault(req, res, answerFault);
      return;
    }

    if (match.route !== 'video' && !record.authorized) {
      sendError(res, unauthorized());
      return;
    }
    const job = match.id === undefined ? undefined : jobs.get(match.id);
    if (!job) {
      sendError(res, { status: 404, type: 'invalid_request_error', code: 'not_found', message: 'Video not found' });
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
    if (match.route === 'content' && contentMode === 'redirect' && !fault) {
      res.writeHead(302, { location: `${baseUrl}/files/${job.videoToken}.mp4`, 'content-length': 0 });
      res.end();
      return;
    }
    // The seed documents text/plain for the content endpoint; the file host says video/mp4.
    await serveVideo(res, match.route === 'content' ? 'text/plain' : 'video/mp4', fault);
  }

  async function handleCreate(req: IncomingMessage, res: ServerResponse, record: RecordedRequest): Promise<void> {
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

    if (!record.authorized) {
      sendError(res, unauthorized());
      return;
    }
    if (!parsed.ok) {
      sendError(res, parsed.error);
      return;
    }
    const valid = validateCreate(parsed.value);
    if (!valid.ok) {
      sendError(res, valid.error);
      return;
    }
    const job = createJob(valid.value, parsed.value.fields);
    if (fault) {
      applyAnswerFault(req, res, fault);
      return;
    }
    sendJson(res, 200, taskJson(job));
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
      contentMode = mode;
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
