import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTuziEmulator, type TuziEmulator } from '../../emulators/tuzi/server.js';
import { ManualClock } from '../../src/clock.js';
import type { TuziClient } from '../../src/services/tuzi/index.js';
import { API_KEY, SAMPLE_MP4, makeClient, makeTempDir, rejection, sha256File } from './helpers.js';

const MiB = 1024 * 1024;
const SAMPLE_SIZE = statSync(SAMPLE_MP4).size;
const SAMPLE_SHA = sha256File(SAMPLE_MP4);

describe('TuziClient.downloadVideo', () => {
  let clock: ManualClock;
  let emu: TuziEmulator;
  let client: TuziClient;
  let sleeps: number[];
  let dir: string;
  let cleanup: () => void;
  let taskId: string;
  let videoUrl: string;

  const dest = (name = 'out.mp4'): string => path.join(dir, name);
  const routes = (): string[] => emu.requests.map((r) => r.route);

  beforeEach(async () => {
    clock = new ManualClock();
    emu = await startTuziEmulator({ clock, apiKey: API_KEY, jobDurationMs: 1_000 });
    ({ client, sleeps } = makeClient(emu.url, { clock, timeouts: { bodyMs: 200 } }));
    ({ dir, cleanup } = makeTempDir());
    taskId = (await client.createVideo({ model: 'sora-2', prompt: 'p' })).id;
    await clock.advance(1_000);
    videoUrl = (await client.getVideo(taskId)).videoUrl ?? '';
    expect(videoUrl).not.toBe('');
    emu.requests.length = 0;
  });

  afterEach(async () => {
    await client.close();
    await emu.close();
    cleanup();
  });

  /** Nothing but the finished file (if any) may remain: no partial `.part` files. */
  function expectNoLeftovers(expected: string[] = []): void {
    expect(readdirSync(dir).sort()).toEqual(expected);
  }

  it('follows the content endpoint redirect; the key goes to the base origin only', async () => {
    const result = await client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB });
    expect(result).toEqual({ bytes: SAMPLE_SIZE, contentType: 'video/mp4', sha256: SAMPLE_SHA, url: videoUrl });
    expect(readFileSync(dest()).equals(readFileSync(SAMPLE_MP4))).toBe(true);
    expect(routes()).toEqual(['content', 'video']);
    expect(emu.requests[0]).toMatchObject({ rawPath: `/v1/videos/${taskId}/content`, authorized: true, status: 302 });
    // Same origin as the base URL, so the key may follow.
    expect(emu.requests[1]!.headers.authorization).toBe('Bearer ***');
    expectNoLeftovers(['out.mp4']);
  });

  it('takes the bytes directly when the content endpoint streams them (as text/plain, per the seed)', async () => {
    emu.setContentMode('direct');
    const result = await client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB });
    expect(result).toMatchObject({ bytes: SAMPLE_SIZE, contentType: 'text/plain', sha256: SAMPLE_SHA });
    expect(routes()).toEqual(['content']);
  });

  it('downloads a video_url directly', async () => {
    const result = await client.downloadVideo(videoUrl, dest(), { maxBytes: 10 * MiB });
    expect(result.sha256).toBe(SAMPLE_SHA);
    expect(routes()).toEqual(['video']);
  });

  it('does not send the key to another host, neither after a redirect nor for a foreign video_url', async () => {
    // Same server, but the base URL names it "localhost" while its links say 127.0.0.1: another host.
    const port = new URL(emu.url).port;
    const { client: viaLocalhost } = makeClient(`http://localhost:${port}`);
    try {
      await viaLocalhost.downloadVideo(taskId, dest('a.mp4'), { maxBytes: 10 * MiB });
      expect(emu.requests.map((r) => [r.route, r.headers.authorization])).toEqual([
        ['content', 'Bearer ***'],
        ['video', undefined],
      ]);
      emu.requests.length = 0;
      await viaLocalhost.downloadVideo(videoUrl, dest('b.mp4'), { maxBytes: 10 * MiB });
      expect(emu.requests.map((r) => [r.route, r.headers.authorization])).toEqual([['video', undefined]]);
    } finally {
      await viaLocalhost.close();
    }
  });

  it('refuses bytes that are not a video even when labelled video/mp4, leaving nothing behind', async () => {
    emu.injectFault({ kind: 'not-video', route: 'video' });
    const err = await rejection(client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB }));
    expect(err).toMatchObject({ kind: 'not_video', retryable: false, operation: 'download' });
    expect(routes()).toEqual(['content', 'video']);
    expectNoLeftovers();
  });

  it('refuses a text/plain error page from the content endpoint', async () => {
    emu.setContentMode('direct');
    emu.injectFault({ kind: 'not-video', route: 'content', body: 'quota exceeded', contentType: 'text/plain' });
    await expect(client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB })).rejects.toMatchObject({
      kind: 'not_video',
    });
    expectNoLeftovers();
  });

  it('keeps an existing destination untouched when a download fails', async () => {
    writeFileSync(dest(), 'previous');
    emu.injectFault({ kind: 'not-video', route: 'video' });
    await expect(client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB })).rejects.toMatchObject({
      kind: 'not_video',
    });
    expect(readFileSync(dest(), 'utf8')).toBe('previous');
    expectNoLeftovers(['out.mp4']);
  });

  it('a truncated body is retryable: retried once, then the whole file arrives', async () => {
    emu.injectFault({ kind: 'truncate', route: 'video', afterBytes: 1000 });
    const result = await client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB });
    expect(result.sha256).toBe(SAMPLE_SHA);
    expect(routes()).toEqual(['content', 'video', 'content', 'video']);
    expect(sleeps).toHaveLength(1);
    expectNoLeftovers(['out.mp4']);
  });

  it('a body truncated on every attempt fails as retryable network error with no partial file', async () => {
    emu.injectFault({ kind: 'truncate', route: 'video', times: Infinity });
    const err = await rejection(client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB }));
    expect(err).toMatchObject({ kind: 'network', retryable: true });
    expect(routes().filter((r) => r === 'video')).toHaveLength(3);
    expectNoLeftovers();
  });

  it('a slow download within the body timeout succeeds', async () => {
    emu.injectFault({ kind: 'slow', route: 'video', chunkBytes: 700, delayMs: 10 });
    const result = await client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB });
    expect(result.sha256).toBe(SAMPLE_SHA);
    expect(sleeps).toEqual([]);
  });

  it('a download that stalls past the body timeout fails as a retryable timeout, then is retried', async () => {
    // undici's body timer has ~1 s granularity; a 1.6 s pause outlasts a 200 ms timeout for sure.
    emu.injectFault({ kind: 'slow', route: 'video', chunkBytes: 1000, delayMs: 1600 });
    const result = await client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB });
    expect(result.sha256).toBe(SAMPLE_SHA);
    expect(sleeps).toHaveLength(1);
    expect(emu.requests.filter((r) => r.route === 'video').map((r) => r.fault)).toEqual(['slow', undefined]);
    expectNoLeftovers(['out.mp4']);
  });

  it('refuses an oversized video by its declared length before reading it', async () => {
    emu.injectFault({ kind: 'oversized', route: 'video', bytes: 20 * MiB });
    const err = await rejection(client.downloadVideo(taskId, dest(), { maxBytes: 1 * MiB }));
    expect(err).toMatchObject({ kind: 'too_large', retryable: false });
    expect(sleeps).toEqual([]);
    expectNoLeftovers();
  });

  it('enforces maxBytes while streaming when no length is declared', async () => {
    emu.injectFault({ kind: 'oversized', route: 'video', bytes: 20 * MiB, declareLength: false });
    const err = await rejection(client.downloadVideo(taskId, dest(), { maxBytes: 1 * MiB }));
    expect(err).toMatchObject({ kind: 'too_large', retryable: false });
    expectNoLeftovers();
  });

  it('a 404 before completion is final; a 5xx is retried', async () => {
    const pending = (await client.createVideo({ model: 'sora-2', prompt: 'later' })).id;
    await expect(client.downloadVideo(pending, dest(), { maxBytes: MiB })).rejects.toMatchObject({
      status: 404,
      code: 'video_not_ready',
      retryable: false,
    });
    emu.injectFault({ kind: 'http-error', route: 'content', status: 500 });
    const result = await client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB });
    expect(result.sha256).toBe(SAMPLE_SHA);
    expect(sleeps).toHaveLength(1);
  });

  it('a body fault is spent only when bytes are served, not on a 404 before completion', async () => {
    const pending = (await client.createVideo({ model: 'sora-2', prompt: 'later' })).id;
    emu.injectFault({ kind: 'not-video', route: 'content' });
    await expect(client.downloadVideo(pending, dest(), { maxBytes: MiB })).rejects.toMatchObject({ status: 404 });
    // Still armed: it shapes the next real download, and in redirect mode the endpoint serves the bad bytes itself.
    await expect(client.downloadVideo(taskId, dest(), { maxBytes: MiB })).rejects.toMatchObject({ kind: 'not_video' });
    expect(emu.requests.filter((r) => r.route === 'content').map((r) => [r.status, r.fault])).toEqual([
      [404, undefined],
      [200, 'not-video'],
    ]);
  });

  it('a reset on the file host is retried', async () => {
    emu.injectFault({ kind: 'reset', route: 'video' });
    const result = await client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB });
    expect(result.sha256).toBe(SAMPLE_SHA);
  });

  it('an abort mid-download stops it, leaves nothing, and is not retried', async () => {
    emu.injectFault({ kind: 'slow', route: 'video', chunkBytes: 100, delayMs: 20 });
    const ac = new AbortController();
    const pending = rejection(client.downloadVideo(taskId, dest(), { maxBytes: 10 * MiB, signal: ac.signal }));
    setTimeout(() => ac.abort(), 50);
    expect(await pending).toMatchObject({ kind: 'aborted', retryable: false });
    expect(sleeps).toEqual([]);
    expectNoLeftovers();
  });

  it('streams a 50 MiB video with flat memory', async () => {
    const size = 50 * MiB;
    const header = Buffer.from('00000020667479706973366d0000020069736f6d69736f32617663316d703431', 'hex');
    const expected = createHash('sha256').update(header);
    const zeros = Buffer.alloc(MiB);
    for (let left = size - header.length; left > 0; left -= Math.min(left, MiB)) {
      expected.update(zeros.subarray(0, Math.min(left, MiB)));
    }

    const measure = async (bytes: number, file: string): Promise<{ growth: number; bytes: number; sha256: string }> => {
      emu.injectFault({ kind: 'oversized', route: 'video', bytes });
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 2);
      try {
        const result = await client.downloadVideo(taskId, dest(file), { maxBytes: 64 * MiB });
        peak = Math.max(peak, process.memoryUsage().rss);
        return { growth: peak - before, bytes: result.bytes, sha256: result.sha256 };
      } finally {
        clearInterval(sampler);
      }
    };

    // The first large transfer in a process pays one-time costs that do not
    // grow with the file: JIT, and V8 letting ~32 MiB of dead 64 KiB socket
    // buffers pile up before its first external-memory GC. The bound is on the
    // second transfer, which shows whether memory follows the file size.
    const cold = await measure(size, 'first.mp4');
    const warm = await measure(size, 'big.mp4');
    console.log(
      `50 MiB download: peak RSS growth ${(warm.growth / MiB).toFixed(1)} MiB ` +
        `(first 50 MiB transfer in this process, incl. one-time costs: ${(cold.growth / MiB).toFixed(1)} MiB)`,
    );
    expect(cold.bytes).toBe(size);
    expect(warm.bytes).toBe(size);
    expect(statSync(dest('big.mp4')).size).toBe(size);
    expect(warm.sha256).toBe(expected.digest('hex'));
    expect(warm.growth).toBeLessThan(25 * MiB);
  });
});
