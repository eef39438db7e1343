import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TuziClient, type TuziClientOptions } from '../../src/services/tuzi/index.js';

export const FIXTURES = fileURLToPath(new URL('../../emulators/fixtures/', import.meta.url));
export const SAMPLE_MP4 = path.join(FIXTURES, 'sample.mp4');
export const REFERENCE_PNG = path.join(FIXTURES, 'reference.png');
export const API_KEY = 'sk-tuzi-test-7f3a9c2e51d04b6a';

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A sleep that returns at once and remembers what it was asked to wait. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    sleep: async (ms: number) => {
      calls.push(ms);
    },
  };
}

export function makeClient(
  baseUrl: string,
  overrides: Partial<TuziClientOptions> = {},
): { client: TuziClient; sleeps: number[] } {
  const { sleep, calls } = recordingSleep();
  const client = new TuziClient({
    baseUrl,
    apiKey: API_KEY,
    maxConcurrency: 4,
    sleep,
    random: () => 0.5,
    timeouts: { connectMs: 2_000, headersMs: 2_000, bodyMs: 2_000 },
    ...overrides,
  });
  return { client, sleeps: calls };
}

export function makeTempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'tuzi-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A port that nothing listens on (bound, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Awaits a promise that must reject, returning the error for assertions. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}
