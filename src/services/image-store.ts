import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { request, type Dispatcher } from 'undici';

const SIGNATURES: { type: string; ext: string; test: (b: Buffer) => boolean }[] = [
  {
    type: 'image/png',
    ext: 'png',
    test: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  },
  { type: 'image/jpeg', ext: 'jpg', test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  {
    type: 'image/webp',
    ext: 'webp',
    test: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
  },
];

/** Recognises PNG, JPEG and WebP by their first bytes. */
export function sniffImageType(head: Buffer): { type: string; ext: string } | undefined {
  const hit = SIGNATURES.find((s) => s.test(head));
  return hit && { type: hit.type, ext: hit.ext };
}

export interface StoredImage {
  path: string;
  contentType: string;
}

export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

/**
 * Keeps members' reference images. Discord's attachment URLs are signed and
 * expire, so the image is copied right after the deferral; the copy is what
 * goes upstream, and what a re-roll sends again, until ImageRetention removes it.
 */
export class ImageStore {
  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly dispatcher?: Dispatcher,
    private readonly timeoutMs = 20_000,
  ) {}

  async fetch(jobId: number, url: string): Promise<StoredImage> {
    await fs.mkdir(this.dir, { recursive: true });
    const partial = path.join(this.dir, `job-${jobId}.part`);
    try {
      const res = await request(url, {
        method: 'GET',
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new ImageError(`image download answered ${res.statusCode}`);
      }
      let seen = 0;
      let head = Buffer.alloc(0);
      const limit = new Transform({
        transform: (chunk: Buffer, _enc, done) => {
          seen += chunk.length;
          if (head.length < 16) head = Buffer.concat([head, chunk.subarray(0, 16)]);
          if (seen > this.maxBytes) return done(new ImageError('image is larger than the limit'));
          done(null, chunk);
        },
      });
      await pipeline(res.body, limit, (await fs.open(partial, 'w')).createWriteStream());
      const kind = sniffImageType(head);
      if (!kind) throw new ImageError('not a PNG, JPEG or WebP image');
      const final = path.join(this.dir, `job-${jobId}.${kind.ext}`);
      await fs.rename(partial, final);
      return { path: final, contentType: kind.type };
    } catch (err) {
      await fs.rm(partial, { force: true });
      throw err instanceof ImageError ? err : new ImageError(`image download failed: ${(err as Error).message}`);
    }
  }

  /** Copies a stored image for a new job (a re-roll keeps its own copy). */
  async copy(fromPath: string, jobId: number): Promise<string> {
    const to = path.join(this.dir, `job-${jobId}${path.extname(fromPath)}`);
    await fs.copyFile(fromPath, to);
    return to;
  }

  /** Deletes a stored image (already gone is fine). */
  async remove(filePath: string): Promise<void> {
    await fs.rm(filePath, { force: true });
  }

  /**
   * Deletes files in the store that no job refers to and that were last
   * written before `olderThan` (epoch ms): leftovers of a crash between the
   * download and the row. Younger files may belong to a download in progress.
   */
  async removeUnreferenced(referenced: ReadonlySet<string>, olderThan: number): Promise<number> {
    const names = await fs.readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    let removed = 0;
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (referenced.has(file)) continue;
      const stat = await fs.stat(file).catch(() => undefined);
      if (!stat?.isFile() || stat.mtimeMs >= olderThan) continue;
      await fs.rm(file, { force: true });
      removed++;
    }
    return removed;
  }
}
