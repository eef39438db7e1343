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

/**
 * Reads the whole body. Discord refuses oversized requests before it looks
 * at them; `limit` stands in for its edge proxy (the per-interaction and
 * per-guild upload limits are checked later, on the parsed files).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw entityTooLarge();
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      req.resume();
      throw entityTooLarge();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
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
