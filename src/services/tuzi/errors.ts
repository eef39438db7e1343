export type TuziOperation = 'create' | 'retrieve' | 'download' | 'delete' | 'models';

/**
 * - `http`: upstream answered with an error status.
 * - `network`: the connection failed or broke.
 * - `timeout`: connect, headers or body timeout.
 * - `invalid_response`: an answer that could not be understood (malformed JSON, missing id).
 * - `not_video`: a download whose bytes are not an MP4.
 * - `too_large`: a download over `maxBytes`.
 * - `aborted`: the caller's signal fired.
 * - `invalid_request`: refused locally before anything was sent (bad id, unreadable file).
 * - `closed`: the client was closed.
 */
export type TuziErrorKind =
  | 'http'
  | 'network'
  | 'timeout'
  | 'invalid_response'
  | 'not_video'
  | 'too_large'
  | 'aborted'
  | 'invalid_request'
  | 'closed';

export interface TuziErrorInit {
  operation: TuziOperation;
  kind: TuziErrorKind;
  retryable: boolean;
  mayHaveReachedServer: boolean;
  status?: number;
  code?: string;
  type?: string;
  upstreamMessage?: string;
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * The one error the Tuzi client throws. It never carries the API key: the
 * message is built from upstream's message (scrubbed of the key) and the
 * status, and no field holds request headers.
 */
export class TuziError extends Error {
  override readonly name = 'TuziError';
  readonly operation: TuziOperation;
  readonly kind: TuziErrorKind;
  /** Trying the same call again later may succeed (network, timeout, 429, 5xx). */
  readonly retryable: boolean;
  /**
   * The request may have been received and acted on. For `create` this means
   * a task (a paid video) may exist even though no id came back, so the POST
   * must not be sent again blindly.
   */
  readonly mayHaveReachedServer: boolean;
  /** HTTP status when upstream answered. */
  readonly status: number | undefined;
  /** Upstream error code (e.g. `content_policy_violation`, `rate_limit_exceeded`). */
  readonly code: string | undefined;
  /** Upstream error type (e.g. `invalid_request_error`). */
  readonly type: string | undefined;
  /** Upstream's own message, safe to show to a user. */
  readonly upstreamMessage: string | undefined;
  /** How long upstream asked us to wait (Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, init: TuziErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.operation = init.operation;
    this.kind = init.kind;
    this.retryable = init.retryable;
    this.mayHaveReachedServer = init.mayHaveReachedServer;
    this.status = init.status;
    this.code = init.code;
    this.type = init.type;
    this.upstreamMessage = init.upstreamMessage;
    this.retryAfterMs = init.retryAfterMs;
  }
}

export function isTuziError(value: unknown): value is TuziError {
  return value instanceof TuziError;
}

/** 429 and 5xx are worth another try later; every other 4xx will fail the same way again. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/**
 * Failures that happen while opening the connection, before a single byte of
 * the request left this process. Only these make a POST safe to resend.
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** TLS handshake failures are also pre-send, but a retry will not fix a bad certificate. */
const TLS_CODE = /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/;

export interface TransportFailure {
  kind: 'network' | 'timeout' | 'closed';
  retryable: boolean;
  mayHaveReachedServer: boolean;
  code: string | undefined;
  description: string;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // A connect that tried several addresses (autoSelectFamily) fails with an AggregateError.
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const innerCode = errorCode(inner);
      if (innerCode) return innerCode;
    }
  }
  const cause = (err as { cause?: unknown }).cause;
  return cause && cause !== err ? errorCode(cause) : undefined;
}

/**
 * Sorts a transport-level exception (from undici or the socket) into what
 * the caller needs to decide: may it retry, and may the request have arrived.
 * Anything unrecognised counts as "may have arrived": a duplicate paid video
 * is worse than a failed submission the user can repeat.
 */
export function classifyTransportError(err: unknown): TransportFailure {
  const code = errorCode(err);
  if (code && NOT_SENT_CODES.has(code)) {
    return {
      kind: code === 'UND_ERR_CONNECT_TIMEOUT' ? 'timeout' : 'network',
      retryable: true,
      mayHaveReachedServer: false,
      code,
      description: code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect timeout' : `connection failed (${code})`,
    };
  }
  if (code && TLS_CODE.test(code)) {
    return { kind: 'network', retryable: false, mayHaveReachedServer: false, code, description: `TLS error (${code})` };
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return {
      kind: 'timeout',
      retryable: true,
      mayHaveReachedServer: true,
      code,
      description: code === 'UND_ERR_HEADERS_TIMEOUT' ? 'headers timeout' : 'body timeout',
    };
  }
  if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') {
    return { kind: 'closed', retryable: false, mayHaveReachedServer: true, code, description: 'client closed' };
  }
  return {
    kind: 'network',
    retryable: true,
    mayHaveReachedServer: true,
    code,
    description: code ? `connection error (${code})` : 'connection error',
  };
}
