import { TuziError } from './tuzi/errors.js';
import type { CreateVideoRequest, DownloadResult, VideoTask } from './tuzi/types.js';

/**
 * The part of the Tuzi client the job services use. TuziClient implements it;
 * the benchmarks replay simulated jobs through the same interface.
 */
export interface VideoApi {
  createVideo(request: CreateVideoRequest): Promise<VideoTask>;
  getVideo(id: string): Promise<VideoTask>;
  downloadVideo(
    idOrUrl: string,
    destination: string,
    options: { maxBytes: number; signal?: AbortSignal },
  ): Promise<DownloadResult>;
}

/** Network trouble, timeouts, 429 and 5xx: worth another try later. */
export function isRetryableUpstreamError(err: unknown): boolean {
  return err instanceof TuziError && err.retryable;
}

export function retryAfterMs(err: unknown): number | undefined {
  return err instanceof TuziError ? err.retryAfterMs : undefined;
}

export function upstreamStatus(err: unknown): number | undefined {
  return err instanceof TuziError ? err.status : undefined;
}
