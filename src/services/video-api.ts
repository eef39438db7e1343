import type { CreateVideoRequest, DownloadResult, VideoTask } from './tuzi/types.js';

/**
 * The part of the Tuzi client the job services use. TuziClient implements it;
 * the benchmarks replay simulated jobs through the same interface.
 */
export interface VideoApi {
  createVideo(request: CreateVideoRequest): Promise<VideoTask>;
  getVideo(id: string): Promise<VideoTask>;
  downloadVideo(idOrUrl: string, destination: string, options: { maxBytes: number; signal?: AbortSignal }): Promise<DownloadResult>;
}

interface UpstreamErrorShape {
  retryable?: boolean;
  status?: number;
  retryAfterMs?: number;
  mayHaveReachedServer?: boolean;
}

/** Network trouble, timeouts, 429 and 5xx: worth another try later. */
export function isRetryableUpstreamError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as UpstreamErrorShape).retryable === true;
}

export function retryAfterMs(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null ? (err as UpstreamErrorShape).retryAfterMs : undefined;
}

export function upstreamStatus(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null ? (err as UpstreamErrorShape).status : undefined;
}
