import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTuziEmulator, type TuziEmulator } from '../../emulators/tuzi/server.js';
import { ManualClock } from '../../src/clock.js';
import { TuziClient, TuziError } from '../../src/services/tuzi/index.js';
import { API_KEY, freePort, makeClient, rejection } from './helpers.js';

const posts = (emu: TuziEmulator): number => emu.requests.filter((r) => r.route === 'create').length;
const gets = (emu: TuziEmulator): number => emu.requests.filter((r) => r.route === 'retrieve').length;

describe('TuziClient under injected faults', () => {
  let clock: ManualClock;
  let emu: TuziEmulator;
  let client: TuziClient;
  let sleeps: number[];
  let taskId: string;

  beforeEach(async () => {
    clock = new ManualClock();
    emu = await startTuziEmulator({ clock, apiKey: API_KEY, jobDurationMs: 10_000 });
    ({ client, sleeps } = makeClient(emu.url, { clock, timeouts: { headersMs: 150, bodyMs: 150, connectMs: 1000 } }));
    taskId = (await client.createVideo({ model: 'sora-2', prompt: 'p' })).id;
    emu.requests.length = 0;
  });

  afterEach(async () => {
    await client.close();
    await emu.close();
  });

  describe('retrieve (GET) retries within a bound', () => {
    it('429 with a short Retry-After: sleeps exactly that, then succeeds', async () => {
      emu.injectFault({ kind: 'http-error', route: 'retrieve', status: 429, retryAfter: '2' });
      const task = await client.getVideo(taskId);
      expect(task.id).toBe(taskId);
      expect(sleeps).toEqual([2000]);
      expect(emu.requests.map((r) => [r.status, r.fault])).toEqual([
        [429, 'http-error'],
        [200, undefined],
      ]);
    });

    it('429 with an HTTP-date Retry-After is measured against the clock', async () => {
      emu.injectFault({
        kind: 'http-error',
        route: 'retrieve',
        status: 429,
        retryAfter: new Date(clock.now() + 3000).toUTCString(),
      });
      await client.getVideo(taskId);
      expect(sleeps).toEqual([3000]);
    });

    it('429 with a Retry-After beyond the cap is not slept on: the error carries it', async () => {
      emu.injectFault({
        kind: 'http-error',
        route: 'retrieve',
        status: 429,
        retryAfter: '120',
        code: 'insufficient_quota',
        message: 'Balance is empty',
      });
      const err = await rejection(client.getVideo(taskId));
      expect(err).toBeInstanceOf(TuziError);
      expect(err).toMatchObject({
        status: 429,
        retryable: true,
        retryAfterMs: 120_000,
        code: 'insufficient_quota',
        upstreamMessage: 'Balance is empty',
      });
      expect(sleeps).toEqual([]);
      expect(gets(emu)).toBe(1);
    });

    it('persistent 503: retries twice with jittered exponential backoff, then throws retryable', async () => {
      emu.injectFault({ kind: 'http-error', route: 'retrieve', status: 503, times: Infinity });
      const err = await rejection(client.getVideo(taskId));
      expect(err).toMatchObject({ status: 503, retryable: true, kind: 'http' });
      // random() = 0.5: half of each step fixed plus a quarter → 0.75 × (500, 1000).
      expect(sleeps).toEqual([375, 750]);
      expect(gets(emu)).toBe(3);
    });

    it('backoff follows the injected random source', async () => {
      const { client: c, sleeps: s } = makeClient(emu.url, { random: () => 0, retry: { maxRetries: 3 } });
      try {
        emu.injectFault({ kind: 'http-error', route: 'retrieve', status: 502, times: 3 });
        await c.getVideo(taskId);
        expect(s).toEqual([250, 500, 1000]);
      } finally {
        await c.close();
      }
    });

    it('404 is final: no retry', async () => {
      const err = await rejection(client.getVideo('sora-2:task_doesnotexist'));
      expect(err).toMatchObject({ status: 404, code: 'not_found', retryable: false });
      expect(sleeps).toEqual([]);
      expect(gets(emu)).toBe(1);
    });

    it('a hang trips the headers timeout and is retried', async () => {
      emu.injectFault({ kind: 'hang', route: 'retrieve' });
      const task = await client.getVideo(taskId);
      expect(task.id).toBe(taskId);
      expect(sleeps).toHaveLength(1);
      expect(emu.requests.map((r) => r.fault)).toEqual(['hang', undefined]);
    });

    it('a hang past the last attempt ends in a retryable timeout error', async () => {
      // undici's headers timer ticks at ~1 s granularity, so one attempt keeps this test short.
      const { client: c } = makeClient(emu.url, { retry: { maxRetries: 0 }, timeouts: { headersMs: 150 } });
      try {
        emu.injectFault({ kind: 'hang', route: 'retrieve', times: Infinity });
        const err = await rejection(c.getVideo(taskId));
        expect(err).toMatchObject({ kind: 'timeout', retryable: true, code: 'UND_ERR_HEADERS_TIMEOUT' });
        expect(gets(emu)).toBe(1);
      } finally {
        await c.close();
      }
    });

    it('malformed JSON is retried; when it persists it is a retryable invalid_response', async () => {
      emu.injectFault({ kind: 'malformed-json', route: 'retrieve' });
      expect((await client.getVideo(taskId)).id).toBe(taskId);
      expect(gets(emu)).toBe(2);

      emu.injectFault({ kind: 'malformed-json', route: 'retrieve', times: Infinity });
      const err = await rejection(client.getVideo(taskId));
      expect(err).toMatchObject({ kind: 'invalid_response', retryable: true, status: 200 });
    });

    it('a 200 that is not a task is retried like malformed JSON', async () => {
      emu.injectFault({ kind: 'json', route: 'retrieve', body: { error: null } });
      expect((await client.getVideo(taskId)).id).toBe(taskId);
      expect(emu.requests.map((r) => r.fault)).toEqual(['json', undefined]);
    });

    it('a connection reset is retried', async () => {
      emu.injectFault({ kind: 'reset', route: 'retrieve' });
      expect((await client.getVideo(taskId)).id).toBe(taskId);
      expect(emu.requests.map((r) => r.fault)).toEqual(['reset', undefined]);
      expect(sleeps).toHaveLength(1);
    });

    it('a fault aimed at one job leaves the others alone', async () => {
      const other = (await client.createVideo({ model: 'sora-2', prompt: 'q' })).id;
      emu.injectFault({ kind: 'http-error', route: 'retrieve', status: 500, jobId: taskId, times: Infinity });
      await expect(client.getVideo(other)).resolves.toMatchObject({ id: other });
      await expect(client.getVideo(taskId)).rejects.toMatchObject({ status: 500 });
    });

    it('an aborted signal stops a hung request and is not retried', async () => {
      emu.injectFault({ kind: 'hang', route: 'retrieve', times: Infinity });
      const { client: slow } = makeClient(emu.url, { timeouts: { headersMs: 10_000 } });
      try {
        const ac = new AbortController();
        const pending = rejection(slow.getVideo(taskId, { signal: ac.signal }));
        // Abort once the request is at the server (hung there), not before it left.
        while (gets(emu) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        ac.abort();
        expect(await pending).toMatchObject({ kind: 'aborted', retryable: false });
        expect(gets(emu)).toBe(1);
      } finally {
        await slow.close();
      }
    });
  });

  it('close() ends a hung request after its grace period instead of waiting for the server', async () => {
    emu.injectFault({ kind: 'hang', route: 'create' });
    const { client: hung } = makeClient(emu.url, { timeouts: { headersMs: 600_000 } });
    const pending = rejection(hung.createVideo({ model: 'sora-2', prompt: 'never answered' }));
    while (posts(emu) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await hung.close(50);
    expect(await pending).toMatchObject({ mayHaveReachedServer: true });
  });

  describe('create (POST) is never resent once it may have arrived', () => {
    it('connection reset after the body was sent: one POST, the job exists, error says mayHaveReachedServer', async () => {
      emu.injectFault({ kind: 'reset', route: 'create', commit: true });
      const err = await rejection(client.createVideo({ model: 'sora-2', prompt: 'p' }));
      expect(err).toMatchObject({ kind: 'network', retryable: true, mayHaveReachedServer: true, operation: 'create' });
      expect(posts(emu)).toBe(1);
      expect(emu.requests[0]!.fields.prompt).toBe('p');
      expect(sleeps).toEqual([]);
      // The reason not to resend: upstream made (and will bill) the video.
      expect(emu.jobs.size).toBe(2);
    });

    it('5xx: not resent', async () => {
      emu.injectFault({ kind: 'http-error', route: 'create', status: 502 });
      const err = await rejection(client.createVideo({ model: 'sora-2', prompt: 'p' }));
      expect(err).toMatchObject({ status: 502, retryable: true, mayHaveReachedServer: true });
      expect(posts(emu)).toBe(1);
    });

    it('429: not resent; the caller gets retryAfterMs to schedule', async () => {
      emu.injectFault({ kind: 'http-error', route: 'create', status: 429, retryAfter: '1' });
      const err = await rejection(client.createVideo({ model: 'sora-2', prompt: 'p' }));
      expect(err).toMatchObject({ status: 429, retryable: true, retryAfterMs: 1000, mayHaveReachedServer: true });
      expect(posts(emu)).toBe(1);
      expect(sleeps).toEqual([]);
    });

    it('headers timeout (hang): not resent', async () => {
      emu.injectFault({ kind: 'hang', route: 'create' });
      const err = await rejection(client.createVideo({ model: 'sora-2', prompt: 'p' }));
      expect(err).toMatchObject({ kind: 'timeout', mayHaveReachedServer: true });
      expect(posts(emu)).toBe(1);
    });

    it('malformed JSON after the task was created: not resent, final', async () => {
      emu.injectFault({ kind: 'malformed-json', route: 'create', commit: true });
      const err = await rejection(client.createVideo({ model: 'sora-2', prompt: 'p' }));
      expect(err).toMatchObject({ kind: 'invalid_response', mayHaveReachedServer: true });
      expect(posts(emu)).toBe(1);
      expect(emu.jobs.size).toBe(2);
    });

    it('a 200 without an id is final and says the task may exist', async () => {
      emu.injectFault({ kind: 'json', route: 'create', body: { object: 'video', status: 'queued' } });
      const err = await rejection(client.createVideo({ model: 'sora-2', prompt: 'p' }));
      expect(err).toMatchObject({ kind: 'invalid_response', retryable: false, mayHaveReachedServer: true });
    });

    it('connection refused: nothing was sent, so it is retried and succeeds once the server is up', async () => {
      const port = await freePort();
      let late: TuziEmulator | undefined;
      const { client: c, sleeps: s } = makeClient(`http://127.0.0.1:${port}`, {
        sleep: async (ms) => {
          s.push(ms);
          late ??= await startTuziEmulator({ port, apiKey: API_KEY });
        },
      });
      try {
        const task = await c.createVideo({ model: 'sora-2', prompt: 'p' });
        expect(task.status).toBe('queued');
        expect(s).toHaveLength(1);
        expect(late?.requests.filter((r) => r.route === 'create')).toHaveLength(1);
      } finally {
        await c.close();
        await late?.close();
      }
    });

    it('connection refused every time: retryable, and it says nothing reached the server', async () => {
      const port = await freePort();
      const { client: c, sleeps: s } = makeClient(`http://127.0.0.1:${port}`);
      try {
        const err = await rejection(c.createVideo({ model: 'sora-2', prompt: 'p' }));
        expect(err).toMatchObject({
          kind: 'network',
          code: 'ECONNREFUSED',
          retryable: true,
          mayHaveReachedServer: false,
        });
        expect(s).toHaveLength(2);
      } finally {
        await c.close();
      }
    });
  });

  describe('jobs that fail', () => {
    it('fails late, at 90 %+, after stalling at 90 (failure at N% with a code and message)', async () => {
      emu.setJobPlan({
        curve: 'stall-90',
        queuedFraction: 0,
        failure: { atProgress: 95, code: 'content_policy_violation', message: 'Moderation rejected the result' },
      });
      const id = (await client.createVideo({ model: 'sora-2', prompt: 'p' })).id;
      await clock.advance(3_000);
      expect(await client.getVideo(id)).toMatchObject({ status: 'in_progress', progress: 90 });
      await clock.advance(6_999);
      expect(await client.getVideo(id)).toMatchObject({ status: 'in_progress', progress: 90 });
      await clock.advance(1);
      expect(await client.getVideo(id)).toMatchObject({
        status: 'failed',
        error: { code: 'content_policy_violation', message: 'Moderation rejected the result' },
      });
    });

    it('a one-shot job-failure fault hits only the next job', async () => {
      emu.injectFault({ kind: 'job-failure', atProgress: 50, code: 'generation_failed', message: 'GPU fell over' });
      const a = (await client.createVideo({ model: 'sora-2', prompt: 'a' })).id;
      const b = (await client.createVideo({ model: 'sora-2', prompt: 'b' })).id;
      await clock.advance(6_000);
      expect(await client.getVideo(a)).toMatchObject({
        status: 'failed',
        progress: 50,
        error: { code: 'generation_failed' },
      });
      expect(await client.getVideo(b)).toMatchObject({ status: 'in_progress', progress: 55 });
    });

    it('curves are selectable per job by a planner', async () => {
      const curves = ['linear', 'steps', 'stall-90'] as const;
      emu.setJobPlan((job) => ({ curve: curves[job.index % 3]!, queuedFraction: 0 }));
      // The job from beforeEach has index 0, so these get 1, 2, 3.
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await client.createVideo({ model: 'sora-2', prompt: `p${i}` })).id);
      await clock.advance(5_000);
      const progress = await Promise.all(ids.map(async (id) => (await client.getVideo(id)).progress));
      // Job indexes 1, 2, 3 → steps, stall-90, linear; half-way through each.
      expect(progress).toEqual([40, 90, 50]);
    });
  });

  describe('secrets and resources', () => {
    it('the key is in no error, log line or enumerable field', async () => {
      const lines: string[] = [];
      const logger = {
        debug: (obj: object, msg: string) => lines.push(JSON.stringify(obj) + msg),
        warn: (obj: object, msg: string) => lines.push(JSON.stringify(obj) + msg),
      };
      const { client: c } = makeClient(emu.url, { logger, timeouts: { headersMs: 100 } });
      const errors: unknown[] = [];
      try {
        emu.injectFault({ kind: 'http-error', route: 'retrieve', status: 500, message: `echo ${API_KEY}` });
        emu.injectFault({ kind: 'reset', route: 'retrieve', times: 3 });
        emu.injectFault({ kind: 'reset', route: 'create' });
        errors.push(await rejection(c.getVideo(taskId)));
        errors.push(await rejection(c.createVideo({ model: 'sora-2', prompt: 'p' })));
        emu.clearFaults();
        emu.injectFault({ kind: 'http-error', route: 'retrieve', status: 503, message: `key=${API_KEY}` });
        emu.injectFault({ kind: 'http-error', route: 'retrieve', status: 400, message: `key=${API_KEY}` });
        errors.push(await rejection(c.getVideo(taskId)));
      } finally {
        await c.close();
      }
      expect(errors).toHaveLength(3);
      expect(lines.length).toBeGreaterThan(0);
      const last = errors[2] as TuziError;
      expect(last.upstreamMessage).toBe('key=[REDACTED]');
      for (const err of errors) {
        expect(err).toBeInstanceOf(TuziError);
        const text = [
          String(err),
          (err as Error).stack ?? '',
          JSON.stringify(err),
          inspect(err, { depth: 20, showHidden: true }),
        ].join('\n');
        expect(text).not.toContain(API_KEY);
      }
      expect(lines.join('\n')).not.toContain(API_KEY);
      expect(JSON.stringify(client)).not.toContain(API_KEY);
      expect(inspect(client, { depth: 20, showHidden: true })).not.toContain(API_KEY);
      expect(Object.values(client).map(String).join()).not.toContain(API_KEY);
    });

    it('never runs more than maxConcurrency requests at once', async () => {
      const { client: c } = makeClient(emu.url, { maxConcurrency: 2, retry: { maxRetries: 0 } });
      try {
        emu.injectFault({ kind: 'hang', route: 'retrieve', times: Infinity });
        const controllers = Array.from({ length: 5 }, () => new AbortController());
        const all = Promise.allSettled(controllers.map((ac) => c.getVideo(taskId, { signal: ac.signal })));
        await new Promise((r) => setTimeout(r, 60));
        expect(c.inFlight).toBe(2);
        expect(gets(emu)).toBe(2);
        // Ending the two running requests lets exactly the next two in.
        controllers[0]!.abort();
        controllers[1]!.abort();
        await new Promise((r) => setTimeout(r, 60));
        expect(c.inFlight).toBe(2);
        expect(gets(emu)).toBe(4);
        for (const ac of controllers) ac.abort();
        const results = await all;
        expect(results.map((r) => r.status)).toEqual(Array(5).fill('rejected'));
        const reached = results.map((r) =>
          r.status === 'rejected' ? (r.reason as TuziError).mayHaveReachedServer : null,
        );
        // The fifth never left the queue, so it is known not to have reached the server.
        expect(reached).toEqual([true, true, true, true, false]);
        expect(c.inFlight).toBe(0);
        expect(gets(emu)).toBe(4);
      } finally {
        await c.close();
      }
    });

    it('reuses pooled keep-alive connections across calls', async () => {
      for (let i = 0; i < 10; i++) await client.getVideo(taskId);
      const ports = new Set(emu.requests.map((r) => r.remotePort));
      expect(emu.requests).toHaveLength(10);
      // Without keep-alive every call would open its own socket; the pool holds at most maxConcurrency (4).
      expect(ports.size).toBeLessThanOrEqual(4);
    });

    it('after close() calls fail as closed', async () => {
      const c = new TuziClient({ baseUrl: emu.url, apiKey: API_KEY, maxConcurrency: 1 });
      await c.close();
      await expect(c.getVideo(taskId)).rejects.toMatchObject({ kind: 'closed', retryable: false });
    });
  });
});
