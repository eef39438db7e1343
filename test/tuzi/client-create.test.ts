import { statSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTuziEmulator, type TuziEmulator } from '../../emulators/tuzi/server.js';
import { ManualClock } from '../../src/clock.js';
import { TuziError, type TuziClient } from '../../src/services/tuzi/index.js';
import { API_KEY, REFERENCE_PNG, makeClient, rejection, sha256File } from './helpers.js';

const TASK_ID = /^sora-2(-pro)?:task_[0-9a-z]{26}$/;

describe('TuziClient.createVideo / getVideo over HTTP', () => {
  let clock: ManualClock;
  let emu: TuziEmulator;
  let client: TuziClient;
  let sleeps: number[];

  beforeEach(async () => {
    clock = new ManualClock();
    emu = await startTuziEmulator({ clock, apiKey: API_KEY, jobDurationMs: 10_000 });
    ({ client, sleeps } = makeClient(emu.url, { clock }));
  });

  afterEach(async () => {
    await client.close();
    await emu.close();
  });

  it('puts every field of the seed table on the wire, the image as a streamed file part', async () => {
    const task = await client.createVideo({
      model: 'sora-2-pro',
      prompt: '一只橘猫在雨中的东京街头散步',
      seconds: 25,
      size: '1792x1024',
      inputReference: { path: REFERENCE_PNG, filename: 'cat.png', contentType: 'image/png' },
      watermark: true,
      private: false,
      characterUrl: 'https://example.com/pet.mp4',
      characterTimestamps: '1,3',
      characterFromTask: 'sora-2:task_01k78gpb3ffrmtywwabcdefghi',
      characterCreate: true,
    });

    expect(emu.requests).toHaveLength(1);
    const rec = emu.requests[0]!;
    expect(rec).toMatchObject({ method: 'POST', rawPath: '/v1/videos', route: 'create', authorized: true });
    expect(rec.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    // A computed length means the body was assembled from sized parts, not buffered chunked.
    expect(Number(rec.headers['content-length'])).toBeGreaterThan(statSync(REFERENCE_PNG).size);
    expect(rec.headers.authorization).toBe('Bearer ***');
    expect(rec.fields).toEqual({
      model: 'sora-2-pro',
      prompt: '一只橘猫在雨中的东京街头散步',
      seconds: '25',
      size: '1792x1024',
      watermark: 'true',
      private: 'false',
      character_url: 'https://example.com/pet.mp4',
      character_timestamps: '1,3',
      character_from_task: 'sora-2:task_01k78gpb3ffrmtywwabcdefghi',
      character_create: 'true',
    });
    expect(rec.files).toEqual([
      {
        name: 'input_reference',
        filename: 'cat.png',
        contentType: 'image/png',
        size: statSync(REFERENCE_PNG).size,
        sha256: sha256File(REFERENCE_PNG),
      },
    ]);

    expect(task.id).toMatch(TASK_ID);
    expect(task).toMatchObject({
      status: 'queued',
      rawStatus: 'queued',
      progress: 0,
      model: 'sora-2-pro',
      seconds: 25,
      size: '1792x1024',
      createdAt: clock.now(),
    });
    const job = emu.jobs.get(task.id);
    expect(job?.inputReference).toMatchObject({ kind: 'file', filename: 'cat.png', contentType: 'image/png' });
  });

  it('sends an image URL as a string part, false booleans as "false", and omits what was not set', async () => {
    await client.createVideo({
      model: 'sora-2',
      prompt: 'p',
      inputReference: { url: 'https://example.com/ref.jpg' },
      watermark: false,
      characterCreate: false,
    });
    const rec = emu.requests[0]!;
    expect(rec.partNames).toEqual(['model', 'prompt', 'input_reference', 'watermark', 'character_create']);
    expect(rec.fields).toEqual({
      model: 'sora-2',
      prompt: 'p',
      input_reference: 'https://example.com/ref.jpg',
      watermark: 'false',
      character_create: 'false',
    });
    expect(rec.files).toEqual([]);
  });

  it('sends a minimal request as multipart too', async () => {
    const task = await client.createVideo({ model: 'sora-2', prompt: 'p' });
    expect(emu.requests[0]!.headers['content-type']).toMatch(/^multipart\/form-data/);
    expect(emu.requests[0]!.partNames).toEqual(['model', 'prompt']);
    expect(task).toMatchObject({ seconds: 10, size: '1280x720' });
  });

  it('surfaces a 400 as a final error with upstream code and message, sent once', async () => {
    const err = await rejection(client.createVideo({ model: 'sora-2', prompt: 'p', seconds: 25 }));
    expect(err).toBeInstanceOf(TuziError);
    expect(err).toMatchObject({
      status: 400,
      code: 'invalid_value',
      type: 'invalid_request_error',
      kind: 'http',
      retryable: false,
      mayHaveReachedServer: true,
    });
    expect((err as TuziError).upstreamMessage).toContain('25s needs sora-2-pro');
    expect(emu.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('surfaces a 401 as final without the key in the error', async () => {
    const { client: wrong } = makeClient(emu.url, { apiKey: 'sk-wrong-key-123456' });
    try {
      const err = await rejection(wrong.getVideo('sora-2:task_x'));
      expect(err).toMatchObject({ status: 401, code: 'invalid_api_key', retryable: false });
      expect(JSON.stringify(err) + String(err)).not.toContain('sk-wrong-key-123456');
      expect(emu.requests).toHaveLength(1);
    } finally {
      await wrong.close();
    }
  });

  it('refuses an unreadable reference file before sending anything', async () => {
    const err = await rejection(
      client.createVideo({
        model: 'sora-2',
        prompt: 'p',
        inputReference: { path: '/nonexistent/ref.png', filename: 'ref.png', contentType: 'image/png' },
      }),
    );
    expect(err).toMatchObject({ kind: 'invalid_request', mayHaveReachedServer: false, retryable: false });
    expect(emu.requests).toHaveLength(0);
  });

  it('puts the colon id raw into the path and follows the job to completion', async () => {
    const created = await client.createVideo({ model: 'sora-2', prompt: 'p', seconds: 10 });
    expect(created.id).toContain(':');

    const queued = await client.getVideo(created.id);
    expect(emu.requests[1]!.rawPath).toBe(`/v1/videos/${created.id}`);
    expect(emu.requests[1]!.rawPath).not.toContain('%3A');
    expect(queued).toMatchObject({ id: created.id, status: 'queued', progress: 0 });

    await clock.advance(5_500); // 10 % queued, then 5 000 of 9 000 ms running
    const running = await client.getVideo(created.id);
    expect(running).toMatchObject({ status: 'in_progress', progress: 50 });

    await clock.advance(4_500);
    const done = await client.getVideo(created.id);
    expect(done).toMatchObject({ status: 'completed', progress: 100 });
    expect(done.videoUrl).toMatch(new RegExp(`^${emu.url}/files/[0-9a-f]+\\.mp4$`));
  });

  it('escapes ids that would break the path, and the server sees the id intact', async () => {
    const odd = 'a/b?c#d%e f';
    const err = await rejection(client.getVideo(odd));
    expect(err).toMatchObject({ status: 404, retryable: false });
    expect(emu.requests[0]).toMatchObject({
      rawPath: '/v1/videos/a%2Fb%3Fc%23d%25e%20f',
      route: 'retrieve',
      jobId: odd,
    });
    await expect(client.getVideo('..')).rejects.toMatchObject({ kind: 'invalid_request' });
    expect(emu.requests).toHaveLength(1);
  });

  it('keeps created_at in milliseconds whether upstream sends seconds or milliseconds', async () => {
    const seconds = await startTuziEmulator({ clock, apiKey: API_KEY, createdAtUnit: 's' });
    const { client: c2 } = makeClient(seconds.url);
    try {
      const inMs = await client.createVideo({ model: 'sora-2', prompt: 'p' });
      const inS = await c2.createVideo({ model: 'sora-2', prompt: 'p' });
      expect(inMs.createdAt).toBe(clock.now());
      expect(inS.createdAt).toBe(Math.floor(clock.now() / 1000) * 1000);
      // The emulators really sent different units.
      expect(String(emu.jobs.get(inMs.id)?.createdAt)).toHaveLength(13);
    } finally {
      await c2.close();
      await seconds.close();
    }
  });

  it('handles an unknown status and out-of-range progress from upstream without crashing', async () => {
    emu.injectFault({
      kind: 'json',
      route: 'retrieve',
      body: { id: 'sora-2:task_z', status: 'moderating', progress: 140, created_at: 1760148794 },
    });
    const task = await client.getVideo('sora-2:task_z');
    expect(task).toEqual({
      id: 'sora-2:task_z',
      status: 'unknown',
      rawStatus: 'moderating',
      progress: 100,
      createdAt: 1760148794000,
    });
  });

  it('reports a failed job with its error code and message', async () => {
    emu.setJobPlan({ failure: { atProgress: 30, code: 'content_policy_violation', message: 'Blocked by moderation' } });
    const created = await client.createVideo({ model: 'sora-2', prompt: 'p' });
    await clock.advance(10_000);
    expect(await client.getVideo(created.id)).toMatchObject({
      status: 'failed',
      progress: 30,
      error: { code: 'content_policy_violation', message: 'Blocked by moderation' },
    });
  });
});
