import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { DiscordError, badRequest, entityTooLarge, formError } from './errors.js';

/** One `files[n]` part of a multipart request. */
export interface UploadedFile {
  /** The part name, e.g. `files[0]`. */
  field: string;
  /** `n` from `files[n]`; new attachments in `attachments[]` refer to it by id. */
  index: number;
  filename: string;
  contentType: string | null;
  data: Buffer;
  size: number;
  sha256: string;
}

export interface ParsedBody {
  /** The JSON body, or the multipart `payload_json`; undefined when there was none. */
  json: unknown;
  files: UploadedFile[];
  bytes: number;
  contentType: string;
}

/** The client went away (aborted, timed out) before its body was read. */
export class BodyAborted extends Error {
  constructor(readonly bytesRead: number) {
    super('request body aborted by the client');
    this.name = 'BodyAborted';
  }
}

/**
 * A link of a given bandwidth shared by the requests that go through it:
 * each chunk read books the next free stretch of time, so two uploads at
 * once each get about half. Real time by nature (performance.now), not the
 * emulator clock: what it slows down is a real socket, and the client's
 * timeout it must be able to trip runs on real timers too.
 */
export class Pipe {
  private freeAt = 0;

  constructor(readonly bytesPerSecond: number) {
    if (!(bytesPerSecond > 0)) throw new Error(`bandwidth must be > 0 bytes/s, got ${bytesPerSecond}`);
  }

  /** Books `bytes`; returns how many milliseconds from now the link is busy with them. */
  take(bytes: number): number {
    const now = performance.now();
    const start = Math.max(now, this.freeAt);
    this.freeAt = start + (bytes * 1000) / this.bytesPerSecond;
    return this.freeAt - now;
  }
}

/**
 * Reads the whole body. Discord refuses oversized requests before it looks
 * at them; `limit` stands in for its edge proxy (the per-interaction and
 * per-guild upload limits are checked later, on the parsed files).
 *
 * With a `pipe`, the body is read no faster than the pipe's bandwidth: the
 * stream is paused after each chunk until the link would have carried it,
 * so TCP backpressure reaches the client and its upload really takes that
 * long (a client-side timeout fires mid-body, as on a slow uplink). Once the
 * kernel's socket buffers are full the client cannot write ahead any more.
 */
export function readBody(req: IncomingMessage, limit: number, pipe?: Pipe): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(entityTooLarge());
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onError);
      if (err) {
        req.resume();
        reject(err);
      } else {
        resolve(Buffer.concat(chunks));
      }
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > limit) {
        finish(entityTooLarge());
        return;
      }
      chunks.push(chunk);
      if (!pipe) return;
      const busyMs = pipe.take(chunk.length);
      if (busyMs >= 1) {
        req.pause();
        timer = setTimeout(() => {
          timer = undefined;
          if (!settled) req.resume();
        }, busyMs);
      }
    };
    const onEnd = (): void => finish(null);
    const onClose = (): void => {
      if (!req.complete) finish(new BodyAborted(total));
    };
    const onError = (): void => finish(new BodyAborted(total));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onError);
  });
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const FILE_FIELD = /^files\[(\d+)\]$|^file(\d*)$/;

/** Parses a JSON or multipart (`payload_json` + `files[n]`) body the way Discord accepts them. */
export async function parseBody(contentTypeHeader: string | undefined, raw: Buffer): Promise<ParsedBody> {
  const contentType = contentTypeHeader ?? '';
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (raw.length === 0) return { json: undefined, files: [], bytes: 0, contentType };
  if (mediaType === 'application/json') {
    try {
      return { json: JSON.parse(raw.toString('utf8')) as unknown, files: [], bytes: raw.length, contentType };
    } catch {
      throw new DiscordError(400, 50109, 'The request body contains invalid JSON.');
    }
  }
  if (mediaType === 'multipart/form-data') return parseMultipart(contentType, raw);
  if (mediaType === '') throw badRequest();
  throw new DiscordError(400, 50035, 'Invalid Form Body', {
    _errors: [
      {
        code: 'CONTENT_TYPE_INVALID',
        message: `Expected "Content-Type" header to be one of {'application/json', 'multipart/form-data'}.`,
      },
    ],
  });
}

async function parseMultipart(contentType: string, raw: Buffer): Promise<ParsedBody> {
  let form: Awaited<ReturnType<Response['formData']>>;
  try {
    form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw badRequest();
  }
  let json: unknown;
  const files: UploadedFile[] = [];
  let nextLooseIndex = 0;
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') {
      if (name === 'payload_json') {
        try {
          json = JSON.parse(value) as unknown;
        } catch {
          throw formError(['payload_json'], 'JSON_INVALID', 'Invalid JSON');
        }
      }
      continue;
    }
    const m = FILE_FIELD.exec(name);
    if (!m) continue;
    const data = Buffer.from(await value.arrayBuffer());
    const index = m[1] !== undefined ? Number(m[1]) : nextLooseIndex;
    nextLooseIndex = Math.max(nextLooseIndex, index + 1);
    files.push({
      field: name,
      index,
      filename: value.name || 'blob',
      contentType: value.type || null,
      data,
      size: data.length,
      sha256: sha256(data),
    });
  }
  return { json, files, bytes: raw.length, contentType };
}

const EXTENSION_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  txt: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
  pdf: 'application/pdf',
  zip: 'application/zip',
};

/**
 * Discord derives `content_type` from the file itself and its name, not
 * from the client's part header; emulate that with the extension, falling
 * back to the header.
 */
export function contentTypeFor(filename: string, declared: string | null): string | null {
  const ext = filename.includes('.') ? filename.split('.').pop()!.toLowerCase() : '';
  return EXTENSION_TYPES[ext] ?? (declared && declared !== 'application/octet-stream' ? declared : null);
}

/** Discord replaces spaces and drops characters it does not keep in attachment names. */
export function sanitizeFilename(filename: string): string {
  const cleaned = filename
    .trim()
    .replace(/\s+/g, '_')
    .replace(/[^A-Za-z0-9._-]/g, '');
  return cleaned.length > 0 ? cleaned : 'unknown';
}
