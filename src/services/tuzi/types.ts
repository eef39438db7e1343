/**
 * The typed, camelCase face of the Tuzi video API. Field names on the wire
 * are snake_case; the client maps between the two in one place (client.ts).
 */

/** A local image sent as the `input_reference` file part (streamed from disk). */
export interface InputReferenceFile {
  /** Path of the image on disk. */
  path: string;
  /** File name announced in the multipart part. */
  filename: string;
  /** MIME type of the image, e.g. `image/png`. */
  contentType: string;
}

/** A remote image sent as the `input_reference` string part. */
export interface InputReferenceUrl {
  url: string;
}

export interface CreateVideoRequest {
  /** Upstream model id (see the catalogue, capabilities.ts). */
  model: string;
  /** Scene description; Chinese is fine. */
  prompt: string;
  /** Clip length in seconds; sent as a string part. */
  seconds?: number;
  /** `WIDTHxHEIGHT`. */
  size?: string;
  inputReference?: InputReferenceFile | InputReferenceUrl;
  watermark?: boolean;
  /** Keep the video out of the provider's public gallery. */
  private?: boolean;
  /** URL of a video to extract a non-human character from. */
  characterUrl?: string;
  /** `start,end` in seconds, e.g. `1,3`. */
  characterTimestamps?: string;
  /** Reuse the character of an earlier successful task id. */
  characterFromTask?: string;
  /** Create and review the character while creating the task. */
  characterCreate?: boolean;
}

export const VIDEO_STATUSES = ['queued', 'in_progress', 'completed', 'failed'] as const;
export type KnownVideoStatus = (typeof VIDEO_STATUSES)[number];
/** `unknown` stands for any status this code does not know; `rawStatus` keeps what upstream said. */
export type VideoStatus = KnownVideoStatus | 'unknown';

export interface VideoTaskError {
  code: string;
  message: string;
}

export interface VideoTask {
  /** Upstream id, verbatim (it contains a colon: `sora-2:task_…`). */
  id: string;
  status: VideoStatus;
  /** The status string exactly as upstream sent it (empty when absent). */
  rawStatus: string;
  /** 0..100, clamped. */
  progress: number;
  model?: string;
  seconds?: number;
  size?: string;
  /** Milliseconds since the epoch, whether upstream sent seconds or milliseconds. */
  createdAt?: number;
  videoUrl?: string;
  /** When the video's download links stop working (milliseconds), when upstream says (OpenAI's `expires_at`). */
  expiresAt?: number;
  error?: VideoTaskError;
}

/** One entry of `GET /v1/models`. */
export interface ProviderModelInfo {
  id: string;
  ownedBy?: string;
}

export interface DownloadOptions {
  /** The download fails (and the partial file is removed) once more bytes than this arrive. */
  maxBytes: number;
  signal?: AbortSignal;
}

export interface DownloadResult {
  /** Bytes written to the destination. */
  bytes: number;
  /**
   * The Content-Type header as served (the seed documents `text/plain`), so
   * it is informative only; the bytes themselves were checked to be an MP4.
   */
  contentType: string | undefined;
  /** Lower-case hex SHA-256 of the written file. */
  sha256: string;
  /** The final URL the bytes came from, after redirects. */
  url: string;
}

export interface RequestOptions {
  signal?: AbortSignal;
}
