/**
 * Fault injection for the Tuzi emulator. A fault targets one or more routes
 * (optionally one job), fires a limited number of times (once by default),
 * and replaces the normal answer with something a real network or upstream
 * does on a bad day.
 */

/**
 * `video` is the `video_url` file the emulator serves itself (the "CDN");
 * `delete` is `DELETE /v1/videos/{id}`; `models` is `GET /v1/models`.
 */
export type FaultRoute = 'create' | 'retrieve' | 'content' | 'video' | 'delete' | 'models';

export interface FaultTarget {
  /** Route(s) the fault applies to. */
  route: FaultRoute | readonly FaultRoute[];
  /** Only requests about this task id (retrieve/content/video/delete). */
  jobId?: string;
  /** How many matching requests it hits before disarming; 1 by default, `Infinity` for "until cleared". */
  times?: number;
  /**
   * For `create`: the task is created before the fault replaces the answer,
   * as when a gateway times out after upstream accepted the job. Default false.
   */
  commit?: boolean;
}

/** Answers with an HTTP error status and an OpenAI-style JSON error body. */
export interface HttpErrorFault extends FaultTarget {
  kind: 'http-error';
  status: number;
  /** Raw `Retry-After` header value: delta-seconds (`"3"`) or an HTTP date. */
  retryAfter?: string;
  code?: string;
  message?: string;
}

/** Reads the request (the whole body, for create) and never answers until the emulator closes. */
export interface HangFault extends FaultTarget {
  kind: 'hang';
}

/** Answers with exactly this JSON, to replay odd upstream answers (unknown status, progress 140…). */
export interface JsonFault extends FaultTarget {
  kind: 'json';
  /** Default 200. */
  status?: number;
  body: unknown;
}

/** 200 with a JSON body cut in half. */
export interface MalformedJsonFault extends FaultTarget {
  kind: 'malformed-json';
}

/** Destroys the socket without an answer (after reading the whole body, for create). */
export interface ResetFault extends FaultTarget {
  kind: 'reset';
}

/** Serves the video in small chunks with a pause between them. */
export interface SlowFault extends FaultTarget {
  kind: 'slow';
  /** Default 512. */
  chunkBytes?: number;
  /** Real milliseconds between chunks; default 20. */
  delayMs?: number;
}

/** Declares the full Content-Length, sends part of the video, then destroys the socket. */
export interface TruncateFault extends FaultTarget {
  kind: 'truncate';
  /** Bytes sent before the cut; default half the file. */
  afterBytes?: number;
}

/** A valid `ftyp` box followed by padding up to `bytes`, streamed without buffering. */
export interface OversizedFault extends FaultTarget {
  kind: 'oversized';
  bytes: number;
  /** Send Content-Length (default true); false streams chunked so only the running count can catch it. */
  declareLength?: boolean;
}

/** 200 with bytes that are not a video (an HTML error page by default). */
export interface NotVideoFault extends FaultTarget {
  kind: 'not-video';
  body?: string;
  /** Default `video/mp4`: the header lies, only the bytes tell. */
  contentType?: string;
}

/** The next created job(s) fail once their progress reaches `atProgress`. */
export interface JobFailureFault {
  kind: 'job-failure';
  atProgress: number;
  code: string;
  message: string;
  /** Jobs it applies to; 1 by default. */
  times?: number;
}

export type FaultSpec =
  | HttpErrorFault
  | JsonFault
  | HangFault
  | MalformedJsonFault
  | ResetFault
  | SlowFault
  | TruncateFault
  | OversizedFault
  | NotVideoFault
  | JobFailureFault;

export type RouteFault = Exclude<FaultSpec, JobFailureFault>;

/** Faults that replace the whole answer, whatever the route would have said. */
export const ANSWER_FAULTS: ReadonlySet<FaultSpec['kind']> = new Set([
  'http-error',
  'json',
  'hang',
  'reset',
  'malformed-json',
]);
/**
 * Faults that shape a video body; they are spent only when bytes are
 * actually served, so a download tried before completion does not use them up.
 */
export const BODY_FAULTS: ReadonlySet<FaultSpec['kind']> = new Set(['slow', 'truncate', 'oversized', 'not-video']);

interface Armed {
  spec: FaultSpec;
  remaining: number;
}

/** Holds the armed faults and hands out the first match, counting it down. */
export class FaultBook {
  private armed: Armed[] = [];

  add(spec: FaultSpec): void {
    const times = spec.times ?? 1;
    if (!(times > 0)) throw new RangeError('fault times must be positive');
    if (spec.kind !== 'job-failure' && (Array.isArray(spec.route) ? spec.route.length === 0 : !spec.route)) {
      throw new TypeError('fault needs a route');
    }
    this.armed.push({ spec, remaining: times });
  }

  clear(): void {
    this.armed = [];
  }

  get size(): number {
    return this.armed.length;
  }

  /** The first armed fault of the given kinds for this route (and job), consumed by one. */
  take(route: FaultRoute, jobId: string | undefined, kinds: ReadonlySet<FaultSpec['kind']>): RouteFault | undefined {
    const hit = this.armed.find(({ spec }) => {
      if (spec.kind === 'job-failure' || !kinds.has(spec.kind)) return false;
      const routes: readonly FaultRoute[] = typeof spec.route === 'string' ? [spec.route] : spec.route;
      return routes.includes(route) && (spec.jobId === undefined || spec.jobId === jobId);
    });
    if (!hit) return undefined;
    this.consume(hit);
    return hit.spec as RouteFault;
  }

  takeJobFailure(): JobFailureFault | undefined {
    const hit = this.armed.find(({ spec }) => spec.kind === 'job-failure');
    if (!hit) return undefined;
    this.consume(hit);
    return hit.spec as JobFailureFault;
  }

  private consume(hit: Armed): void {
    hit.remaining -= 1;
    if (hit.remaining <= 0) this.armed = this.armed.filter((a) => a !== hit);
  }
}
