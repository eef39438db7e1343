import { TuziError } from './tuzi/errors.js';
import type { CreateVideoRequest, DownloadResult, VideoTask } from './tuzi/types.js';

/**
 * The part of the video provider the job services use. TuziClient implements
 * it; the benchmarks replay simulated jobs through the same interface.
 *
 * Error contract: every method rejects with an error that `describeFailure`
 * reads (TuziClient throws TuziError; anything else is described as the most
 * cautious case: it may have reached the server, and may be retried). Callers
 * decide on the description only, never on a client's error internals.
 */
export interface VideoApi {
  createVideo(request: CreateVideoRequest): Promise<VideoTask>;
  getVideo(id: string): Promise<VideoTask>;
  /** Asks the provider to stop a task; true when it says it did. */
  deleteVideo(id: string): Promise<boolean>;
  downloadVideo(
    idOrUrl: string,
    destination: string,
    options: { maxBytes: number; signal?: AbortSignal },
  ): Promise<DownloadResult>;
}

/** A failed provider call, in the terms the job services decide on. */
export interface UpstreamFailure {
  /** HTTP status when the provider answered. */
  status: number | undefined;
  /** The provider's error code (e.g. `content_policy_violation`), when it gave one. */
  code: string | undefined;
  /** Worth another try later: network trouble, timeouts, 429 and 5xx. */
  retryable: boolean;
  /** The request may have been received and acted on; for a create, a paid video may exist. */
  mayHaveReachedServer: boolean;
  /** The client was closed under the call (the bot is stopping). */
  closed: boolean;
  /** A download was larger than it was allowed to be. */
  tooLarge: boolean;
  /** How long the provider asked us to wait, when it said. */
  retryAfterMs: number | undefined;
  /** The provider's own message when it gave one (safe to show: the key is scrubbed), else ours. */
  message: string;
}

export function describeFailure(err: unknown): UpstreamFailure {
  if (err instanceof TuziError)
    return {
      status: err.status,
      code: err.code,
      retryable: err.retryable,
      mayHaveReachedServer: err.mayHaveReachedServer,
      closed: err.kind === 'closed',
      tooLarge: err.kind === 'too_large',
      retryAfterMs: err.retryAfterMs,
      message: err.upstreamMessage ?? err.message,
    };
  return {
    status: undefined,
    code: undefined,
    retryable: true,
    mayHaveReachedServer: true,
    closed: false,
    tooLarge: false,
    retryAfterMs: undefined,
    message: err instanceof Error ? err.message : 'unknown error',
  };
}
