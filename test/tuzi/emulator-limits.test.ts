import { afterEach, describe, expect, it } from 'vitest';
import { startTuziEmulator, type TuziEmulator, type TuziEmulatorOptions } from '../../emulators/tuzi/server.js';
import { ManualClock } from '../../src/clock.js';
import { API_KEY } from './helpers.js';
import { call, create, createId } from './emulator-http.js';

const MINUTE = 60_000;

/** What an account runs into: a cap on running jobs, a balance that runs out, a key that is revoked. */
describe('emulator: account limits', () => {
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

  describe('maxRunningJobs', () => {
    it('a create beyond the cap gets 429 with Retry-After, and nothing is created', async () => {
      const e = await start({ maxRunningJobs: 2, retryAfterSeconds: 20 });
      await createId(e);
      await createId(e);
      expect(e.runningJobs()).toBe(2);
      const jobsBefore = [...e.jobs.keys()];
      const r = await create(e);
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toBe('20');
      expect(r.json).toEqual({
        error: {
          message: expect.stringContaining('Limit 2, Used 2'),
          type: 'requests',
          param: null,
          code: 'rate_limit_exceeded',
        },
      });
      expect([...e.jobs.keys()]).toEqual(jobsBefore);
    });

    it('jobs count from create (queued included) until they end', async () => {
      const e = await start({ maxRunningJobs: 1 });
      e.setJobPlan({ queuedFraction: 0.5 });
      await createId(e);
      expect((await create(e)).status).toBe(429); // queued still counts
      await clock.advance(MINUTE / 2);
      expect((await create(e)).status).toBe(429); // in progress
      await clock.advance(MINUTE / 2);
      expect((await create(e)).status).toBe(200); // completed: the slot is free
    });

    it('failed and cancelled jobs free their slot', async () => {
      const e = await start({ maxRunningJobs: 1 });
      e.injectFault({ kind: 'job-failure', atProgress: 20, code: 'generation_failed', message: 'x' });
      await createId(e);
      expect((await create(e)).status).toBe(429);
      await clock.advance(MINUTE / 2);
      const second = await createId(e);
      expect((await create(e)).status).toBe(429);
      e.cancelJob(second);
      expect((await create(e)).status).toBe(200);
    });

    it('the cap is per key', async () => {
      clock = new ManualClock();
      emu = await startTuziEmulator({ clock, jobDurationMs: MINUTE, maxRunningJobs: 1 });
      await createId(emu, {}, 'sk-key-a');
      expect((await create(emu, {}, 'sk-key-a')).status).toBe(429);
      expect((await create(emu, {}, 'sk-key-b')).status).toBe(200);
      expect(emu.runningJobs('sk-key-a')).toBe(1);
      expect(emu.runningJobs()).toBe(2);
      // Jobs remember a hash of their key, never the key.
      expect(JSON.stringify([...emu.jobs.values()].map((j) => j.keyId))).not.toContain('sk-key');
    });

    it("new-api's wording: its 429 message rewrite, in its task error shape", async () => {
      const e = await start({ maxRunningJobs: 0, concurrencyStyle: 'new-api' });
      const r = await create(e);
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toBe('30');
      expect(r.json).toEqual({ code: 'fail_to_fetch_task', message: '当前分组上游负载已饱和，请稍后再试', data: null });
      e.configure({ maxRunningJobs: undefined });
      expect((await create(e)).status).toBe(200);
    });
  });

  describe('credits', () => {
    it('each job costs seconds × the model rate; an empty balance answers 429 insufficient_quota', async () => {
      const e = await start({ credits: 50 });
      expect(e.balance).toBe(50);
      await createId(e, { seconds: '15' });
      expect(e.balance).toBe(35);
      await createId(e, { model: 'veo3.1-4k', size: '16:9' }); // 8 s × 4 credits
      expect(e.balance).toBe(3);
      const before = e.jobs.size;
      const r = await create(e, { seconds: '10' });
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toBeUndefined();
      expect(r.json).toEqual({
        error: {
          message: expect.stringMatching(
            /^You exceeded your current quota, please check your plan and billing details/,
          ),
          type: 'insufficient_quota',
          param: null,
          code: 'insufficient_quota',
        },
      });
      expect(e.jobs.size).toBe(before);
      expect(e.balance).toBe(3);
    });

    it('a top-up makes the next create work', async () => {
      const e = await start({ credits: 5 });
      expect((await create(e)).status).toBe(429);
      e.topUp(5);
      expect((await create(e)).status).toBe(200);
      expect(e.balance).toBe(0);
    });

    it("new-api's 403 insufficient_user_quota and a gateway's 402, selectable", async () => {
      const e = await start({ credits: 3, quotaStyle: 'new-api' });
      const r = await create(e);
      expect(r.status).toBe(403);
      expect(r.json).toEqual({
        code: 'insufficient_user_quota',
        message: '预扣费额度失败, 用户剩余额度: ＄3, 需要预扣费额度: ＄10',
        data: null,
      });
      e.configure({ quotaStyle: 'payment-required' });
      const pay = await create(e);
      expect(pay.status).toBe(402);
      expect(pay.json).toMatchObject({
        error: { code: 402, message: expect.stringContaining('Insufficient credits') },
      });
      expect(e.jobs.size).toBe(0);
    });

    it('failed and cancelled jobs are refunded (as new-api does), unless told otherwise', async () => {
      const e = await start({ credits: 30 });
      e.injectFault({ kind: 'job-failure', atProgress: 50, code: 'content_policy_violation', message: 'no' });
      await createId(e);
      const cancelled = await createId(e);
      await createId(e);
      expect(e.balance).toBe(0);
      e.cancelJob(cancelled);
      expect(e.balance).toBe(10);
      await clock.advance(MINUTE);
      expect(e.balance).toBe(20);
      e.configure({ refundFailedJobs: false });
      expect(e.balance).toBe(0);
    });

    it('a jobCost function, and resetting the balance', async () => {
      const e = await start({ credits: 100, jobCost: (j) => (j.model === 'sora-2-pro' ? 50 : 1) });
      await createId(e, { model: 'sora-2-pro' });
      await createId(e);
      expect(e.balance).toBe(49);
      e.configure({ credits: 2 });
      expect(e.balance).toBe(2);
      e.configure({ credits: undefined });
      expect(e.balance).toBe(Infinity);
      expect(() => e.topUp(1)).toThrow(/unmetered/);
    });

    it('the balance is checked after the request is valid and before the concurrency cap', async () => {
      const e = await start({ credits: 0, maxRunningJobs: 0 });
      expect((await create(e, { seconds: '25' })).status).toBe(400);
      expect((await create(e)).json).toMatchObject({ error: { code: 'insufficient_quota' } });
      e.configure({ credits: 100 });
      expect((await create(e)).json).toMatchObject({ error: { code: 'rate_limit_exceeded' } });
    });
  });

  describe('a revoked key', () => {
    it('answers 401 invalid_api_key on every API route, with the key masked the way OpenAI masks it', async () => {
      const e = await start();
      const id = await createId(e);
      e.revokeKey();
      for (const r of [
        await create(e),
        await call(e, 'GET', `/v1/videos/${id}`),
        await call(e, 'GET', `/v1/videos/${id}/content`),
        await call(e, 'GET', '/v1/models'),
        await call(e, 'DELETE', `/v1/videos/${id}`),
      ]) {
        expect(r.status).toBe(401);
        expect(r.json).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_api_key' } });
        expect(r.text).not.toContain(API_KEY);
        expect(r.text).toContain(`sk-${'*'.repeat(API_KEY.length - 7)}${API_KEY.slice(-4)}`);
      }
      expect(e.requests.slice(-5).every((q) => !q.authorized)).toBe(true);
      expect(e.jobs.size).toBe(1);
      e.restoreKey();
      expect((await call(e, 'GET', `/v1/videos/${id}`)).status).toBe(200);
    });

    it("new-api's 'token unavailable' 401", async () => {
      const e = await start({ revokedKeyStyle: 'new-api' });
      e.revokeKey(API_KEY);
      const r = await create(e);
      expect(r.status).toBe(401);
      expect(r.json).toEqual({
        error: { message: expect.stringMatching(/^该令牌状态不可用 \(request id: \w+\)$/), type: 'new_api_error' },
      });
    });

    it('with no configured key: one revoked key, or all of them', async () => {
      clock = new ManualClock();
      emu = await startTuziEmulator({ clock });
      emu.revokeKey('sk-old-key-0000');
      expect((await create(emu, {}, 'sk-old-key-0000')).status).toBe(401);
      expect((await create(emu, {}, 'sk-new-key-1111')).status).toBe(200);
      emu.revokeKey();
      expect((await create(emu, {}, 'sk-new-key-1111')).status).toBe(401);
      emu.restoreKey();
      expect((await create(emu, {}, 'sk-old-key-0000')).status).toBe(200);
    });
  });
});
