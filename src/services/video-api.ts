import type { GoneCode } from '../jobs/lifecycle.js';
import { TuziError } from './tuzi/errors.js';
import type { CreateVideoRequest, DownloadResult, ProviderModelInfo, VideoTask } from './tuzi/types.js';

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
  getVideo(id: string, options?: { signal?: AbortSignal }): Promise<VideoTask>;
  /** Asks the provider to stop a task; true when it says it did. */
  deleteVideo(id: string): Promise<boolean>;
  downloadVideo(
    idOrUrl: string,
    destination: string,
    options: { maxBytes: number; signal?: AbortSignal },
  ): Promise<DownloadResult>;
  /** `GET /v1/models`: the models the provider lists (OpenAI-compatible). */
  listModels(options?: { signal?: AbortSignal }): Promise<ProviderModelInfo[]>;
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
  /**
   * The provider said it has no such task (any more), and how: a 404, new-api's
   * HTTP 400 `task_not_exist`, or a 410 for a deleted result. Undefined otherwise.
   */
  taskGone: GoneCode | undefined;
  /** The provider does not serve the requested model (OpenAI's 404 `model_not_found`, new-api's 503 "无可用渠道"). */
  modelUnavailable: boolean;
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
      taskGone: err.kind === 'http' ? taskGoneCode(err.status, err.code) : undefined,
      modelUnavailable: err.kind === 'http' && isModelUnavailable(err.status, err.code, err.upstreamMessage),
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
    taskGone: undefined,
    modelUnavailable: false,
    message: err instanceof Error ? err.message : 'unknown error',
  };
}

/**
 * How providers say a task is gone (facts/tuzi.md, and the emulator's
 * answers.ts): OpenAI answers 404; new-api, the widely deployed relay,
 * answers HTTP 400 with code `task_not_exist` (relay_task.go); a deleted
 * result is 410 `{"status":"expired"}`. Any other 400 is a bad request, not
 * a gone task.
 */
function taskGoneCode(status: number | undefined, code: string | undefined): GoneCode | undefined {
  if (status === 404) return 'not_found';
  if (status === 410) return 'result_deleted';
  if (status === 400 && code === 'task_not_exist') return 'task_not_exist';
  return undefined;
}

/**
 * "Model not found" as OpenAI (404, code `model_not_found`) and new-api (503,
 * code `model_not_found`, message "当前分组 … 下对于模型 … 无可用渠道":
 * middleware/distributor.go) send it; one-api-style relays that drop the code
 * keep the message.
 */
function isModelUnavailable(
  status: number | undefined,
  code: string | undefined,
  message: string | undefined,
): boolean {
  if (code === 'model_not_found') return true;
  if (status !== 400 && status !== 404 && status !== 503) return false;
  return message !== undefined && /无可用渠道|no available channel/i.test(message);
}
