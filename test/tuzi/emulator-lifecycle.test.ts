import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startTuziEmulator, type TuziEmulator, type TuziEmulatorOptions } from '../../emulators/tuzi/server.js';
import { ManualClock } from '../../src/clock.js';
import { API_KEY, SAMPLE_MP4 } from './helpers.js';
import { call, create, createId } from './emulator-http.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Unknown and expired tasks, the shapes of the video object, links that expire, and DELETE. */
describe('emulator: task lifecycle beyond the seed', () => {
  let emu: TuziEmulator | undefined;
  let clock: ManualClock;
  const start = async (opts: TuziEmulatorOptions = {}): Promise<TuziEmulator> => {
    clock = new ManualClock();
    emu = await startTuziEmulator({ clock, apiKey: API_KEY, jobDurationMs: MINUTE, ...opts });
    return emu;
  };
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });
  const get = (e: TuziEmulator, id: string, suffix = '') => call(e, 'GET', `/v1/videos/${id}${suffix}`);
  const download = async (url: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> => {
    const res = await request(url);
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };

  describe('unknown tasks', () => {
    it('404 by default', async () => {
      const e = await start();
      const r = await get(e, 'sora-2:task_nope');
      expect(r.status).toBe(404);
      expect(r.json).toMatchObject({ error: { code: 'not_found' } });
      expect((await get(e, 'sora-2:task_nope', '/content')).status).toBe(404);
    });

    it("new-api's HTTP 400 task_not_exist, exactly", async () => {
      const e = await start({ unknownTask: 'new-api' });
      const r = await get(e, 'sora-2:task_nope');
      expect(r.status).toBe(400);
      expect(r.json).toEqual({ code: 'task_not_exist', message: 'task_not_exist', data: null });
      expect((await get(e, 'sora-2:task_nope', '/content')).status).toBe(400);
    });
  });

  describe('expired results', () => {
    const EXPIRED = { status: 'expired', message: 'async task result has been deleted' };

    it('a job planned to expire mid-run answers 410 from then on', async () => {
      const e = await start();
      e.setJobPlan({ expiry: { afterMs: 30_000 } });
      const id = await createId(e);
      await clock.advance(29_999);
      expect((await get(e, id)).json).toMatchObject({ status: 'in_progress' });
      await clock.advance(1);
      const r = await get(e, id);
      expect(r.status).toBe(410);
      expect(r.json).toEqual(EXPIRED);
      await clock.advance(HOUR);
      expect((await get(e, id)).status).toBe(410);
      expect((await get(e, id, '/content')).status).toBe(410);
    });

    it('expireJob after completion, and a 410 that clears up later (as Tuzi’s may)', async () => {
      const e = await start();
      const id = await createId(e);
      await clock.advance(MINUTE);
      expect((await get(e, id)).json).toMatchObject({ status: 'completed' });
      e.expireJob(id, { recoverAfterMs: 5 * MINUTE });
      expect((await get(e, id)).json).toEqual(EXPIRED);
      await clock.advance(5 * MINUTE - 1);
      expect((await get(e, id)).status).toBe(410);
      await clock.advance(1);
      expect((await get(e, id)).json).toMatchObject({ id, status: 'completed', progress: 100 });
    });

    it('expireJob in the future, and the status form (200, status "expired")', async () => {
      const e = await start({ statuses: 'relay-case' });
      const id = await createId(e);
      e.expireJob(id, { at: clock.now() + 10_000, as: 'status' });
      expect((await get(e, id)).json?.status).toBe('Pending');
      await clock.advance(10_000);
      const r = await get(e, id);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ id, status: 'Expired', message: 'async task result has been deleted' });
      expect(r.json).not.toHaveProperty('video_url');
      expect((await get(e, id, '/content')).status).toBe(410);
    });

    it('expireJob on an unknown id throws', async () => {
      const e = await start();
      expect(() => e.expireJob('nope')).toThrow(RangeError);
    });
  });

  describe('the video object', () => {
    it('seed shape: video_url once completed, created_at in ms', async () => {
      const e = await start();
      const created = await create(e);
      expect(String(created.json?.created_at)).toMatch(/^\d{13}$/);
      expect(created.json).not.toHaveProperty('video_url');
      await clock.advance(MINUTE);
      const done = await get(e, String(created.json?.id));
      expect(done.json?.video_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]{24}\.mp4$/);
      expect(done.json).not.toHaveProperty('expires_at');
    });

    it("OpenAI's own shape: no video_url, expires_at an hour after completed_at, seconds timestamps", async () => {
      const e = await start({ videoShape: 'openai', assetTtlMs: HOUR });
      const created = await create(e, { prompt: 'a corgi' });
      const id = String(created.json?.id);
      expect(created.json).toMatchObject({ completed_at: null, expires_at: null, prompt: 'a corgi', error: null });
      expect(String(created.json?.created_at)).toMatch(/^\d{10}$/);
      await clock.advance(MINUTE);
      const done = await get(e, id);
      const job = e.jobs.get(id)!;
      expect(done.json).toMatchObject({
        status: 'completed',
        completed_at: Math.floor((job.createdAt + MINUTE) / 1000),
        expires_at: Math.floor((job.createdAt + MINUTE + HOUR) / 1000),
        remixed_from_video_id: null,
      });
      expect(done.json).not.toHaveProperty('video_url');
      // The OpenAI SDK reads it as its own, and downloads through /content.
      const openai = new OpenAI({ apiKey: API_KEY, baseURL: `${e.url}/v1`, maxRetries: 0 });
      expect(await openai.videos.retrieve(id)).toMatchObject({ id, status: 'completed' });
      const bytes = Buffer.from(await (await openai.videos.downloadContent(id)).arrayBuffer());
      expect(bytes.equals(readFileSync(SAMPLE_MP4))).toBe(true);
    });

    it('a relay that leaves video_url empty', async () => {
      const e = await start({ videoShape: 'empty-url' });
      const id = await createId(e);
      await clock.advance(MINUTE);
      expect((await get(e, id)).json).toMatchObject({ status: 'completed', video_url: '' });
      expect((await get(e, id, '/content')).status).toBe(302);
    });

    it('created_at in seconds on create and milliseconds on query', async () => {
      const e = await start({ createdAtUnit: 'mixed' });
      const created = await create(e);
      expect(String(created.json?.created_at)).toMatch(/^\d{10}$/);
      expect(String((await get(e, String(created.json?.id))).json?.created_at)).toMatch(/^\d{13}$/);
    });
  });

  describe('links that expire (on the emulator clock)', () => {
    it('video_url works until expires_at, then answers 403 like an expired signed URL', async () => {
      const e = await start({ assetTtlMs: HOUR });
      const id = await createId(e);
      await clock.advance(MINUTE);
      const done = await get(e, id);
      const url = String(done.json?.video_url);
      expect(done.json?.expires_at).toBe(Math.floor((e.jobs.get(id)!.createdAt + MINUTE + HOUR) / 1000));
      expect((await download(url)).status).toBe(200);
      await clock.advance(HOUR - 1);
      expect((await download(url)).body.equals(readFileSync(SAMPLE_MP4))).toBe(true);
      await clock.advance(1);
      const gone = await download(url);
      expect(gone.status).toBe(403);
      expect(gone.body.toString()).toContain('<Code>AccessDenied</Code><Message>Request has expired</Message>');
      // The task itself is still there; its content redirect now leads to the expired link.
      expect((await get(e, id)).json?.status).toBe('completed');
      expect((await get(e, id, '/content')).status).toBe(302);
      e.setContentMode('direct');
      expect((await get(e, id, '/content')).status).toBe(403);
    });

    it('or 410 Gone', async () => {
      const e = await start({ assetTtlMs: 0, expiredLinkStatus: 410 });
      const id = await createId(e);
      await clock.advance(MINUTE);
      expect((await download(String((await get(e, id)).json?.video_url))).status).toBe(410);
    });
  });

  describe('DELETE /v1/videos/{id}', () => {
    it('deletes a completed video: the deleted object, then GET answers as for an unknown task', async () => {
      const e = await start({ unknownTask: 'new-api' });
      const id = await createId(e);
      await clock.advance(MINUTE);
      const url = String((await get(e, id)).json?.video_url);
      const r = await call(e, 'DELETE', `/v1/videos/${id}`);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ id, object: 'video.deleted', deleted: true });
      expect(await get(e, id)).toMatchObject({ status: 400, json: { code: 'task_not_exist' } });
      expect((await get(e, id, '/content')).status).toBe(400);
      expect((await download(url)).status).toBe(403);
      expect((await call(e, 'DELETE', `/v1/videos/${id}`)).status).toBe(400);
      // Still inspectable by tests.
      expect(e.jobs.get(id)?.deletedAt).toBe(clock.now());
      expect(e.requests.filter((q) => q.route === 'delete').map((q) => q.status)).toEqual([200, 400]);
    });

    it('the OpenAI SDK deletes a failed video', async () => {
      const e = await start();
      e.injectFault({ kind: 'job-failure', atProgress: 10, code: 'generation_failed', message: 'boom' });
      const id = await createId(e);
      await clock.advance(MINUTE);
      const openai = new OpenAI({ apiKey: API_KEY, baseURL: `${e.url}/v1`, maxRetries: 0 });
      expect(await openai.videos.delete(id)).toEqual({ id, object: 'video.deleted', deleted: true });
      await expect(openai.videos.retrieve(id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });

    it('refuses a running job by default, and the job runs on', async () => {
      const e = await start();
      const id = await createId(e);
      await clock.advance(MINUTE / 2);
      const r = await call(e, 'DELETE', `/v1/videos/${id}`);
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_request' } });
      await clock.advance(MINUTE / 2);
      expect((await get(e, id)).json?.status).toBe('completed');
    });

    it('or stops it: cancelled (in the configured spelling), or failed with code cancelled', async () => {
      const e = await start({ deleteActive: 'cancel', statuses: 'relay' });
      const id = await createId(e);
      await clock.advance(MINUTE / 2);
      const progress = e.jobs.get(id)!.progress;
      expect((await call(e, 'DELETE', `/v1/videos/${id}`)).json).toEqual({
        id,
        object: 'video.deleted',
        deleted: true,
      });
      await clock.advance(MINUTE);
      expect((await get(e, id)).json).toMatchObject({ status: 'canceled', progress });
      expect(e.runningJobs()).toBe(0);
      // Deleting the stopped job now removes it.
      expect((await call(e, 'DELETE', `/v1/videos/${id}`)).status).toBe(200);
      expect((await get(e, id)).status).toBe(404);

      e.configure({ deleteActive: 'fail', statuses: {} });
      const other = await createId(e);
      expect((await call(e, 'DELETE', `/v1/videos/${other}`)).status).toBe(200);
      expect((await get(e, other)).json).toMatchObject({ status: 'failed', progress: 0, error: { code: 'cancelled' } });
    });

    it('needs the key, and 404s an unknown id', async () => {
      const e = await start();
      const id = await createId(e);
      expect((await call(e, 'DELETE', `/v1/videos/${id}`, { key: null })).status).toBe(401);
      expect((await call(e, 'DELETE', '/v1/videos/sora-2:task_nope')).status).toBe(404);
    });
  });

  it('cancelJob: the provider stops a job; an ended one cannot be cancelled', async () => {
    const e = await start();
    const id = await createId(e);
    await clock.advance(10_000);
    expect(e.cancelJob(id, 'failed')).toBe(true);
    expect(e.cancelJob(id)).toBe(false);
    expect((await get(e, id)).json).toMatchObject({ status: 'failed', error: { code: 'cancelled' } });
    expect(() => e.cancelJob('nope')).toThrow(RangeError);
  });
});
