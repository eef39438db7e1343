import { afterEach, describe, expect, it } from 'vitest';
import {
  startTuziEmulator,
  STATUS_DIALECTS,
  type TuziEmulator,
  type TuziEmulatorOptions,
} from '../../emulators/tuzi/server.js';
import { ManualClock } from '../../src/clock.js';
import { API_KEY } from './helpers.js';
import { call, createId } from './emulator-http.js';

/** Relays spell the same lifecycle differently; the emulator can speak each of them. */
describe('emulator: relay status vocabularies', () => {
  let emu: TuziEmulator | undefined;
  let clock: ManualClock;
  const start = async (opts: TuziEmulatorOptions = {}): Promise<TuziEmulator> => {
    clock = new ManualClock();
    emu = await startTuziEmulator({ clock, apiKey: API_KEY, jobDurationMs: 10_000, ...opts });
    return emu;
  };
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  /** The statuses a job shows when polled at creation, mid-run and at the end. */
  async function lifecycle(e: TuziEmulator, fields: Record<string, string> = {}): Promise<string[]> {
    const id = await createId(e, fields);
    const seen: string[] = [];
    for (const step of [0, 5_000, 5_000]) {
      await clock.advance(step);
      seen.push(String((await call(e, 'GET', `/v1/videos/${id}`)).json?.status));
    }
    return seen;
  }

  it("the seed's spelling by default", async () => {
    const e = await start();
    expect(await lifecycle(e)).toEqual(['queued', 'in_progress', 'completed']);
  });

  it.each([
    ['relay', ['pending', 'processing', 'succeeded']],
    ['relay-alt', ['submitted', 'running', 'success']],
    ['relay-case', ['Pending', 'Processing', 'Success']],
  ] as const)('the %s dialect', async (dialect, expected) => {
    const e = await start({ statuses: dialect });
    expect(await lifecycle(e)).toEqual(expected);
  });

  it('failed and cancelled jobs in each dialect', async () => {
    const e = await start({ statuses: 'relay' });
    e.setJobPlan({ failure: { atProgress: 50, code: 'content_policy_violation', message: 'blocked' } });
    const failed = await createId(e);
    e.resetJobPlan();
    const cancelled = await createId(e);
    await clock.advance(2_000);
    expect(e.cancelJob(cancelled)).toBe(true);
    await clock.advance(8_000);
    const f = await call(e, 'GET', `/v1/videos/${failed}`);
    expect(f.json).toMatchObject({ status: 'error', error: { code: 'content_policy_violation' } });
    expect((await call(e, 'GET', `/v1/videos/${cancelled}`)).json?.status).toBe('canceled');
    e.configure({ statuses: 'relay-alt' });
    expect((await call(e, 'GET', `/v1/videos/${failed}`)).json?.status).toBe('failure');
    expect((await call(e, 'GET', `/v1/videos/${cancelled}`)).json?.status).toBe('cancelled');
    e.configure({ statuses: 'relay-case' });
    expect((await call(e, 'GET', `/v1/videos/${cancelled}`)).json?.status).toBe('Cancelled');
  });

  it('per job: a planner gives each job its own spelling, over the global one', async () => {
    const e = await start({ statuses: 'relay' });
    const names = Object.keys(STATUS_DIALECTS) as (keyof typeof STATUS_DIALECTS)[];
    e.setJobPlan((job) => ({ statuses: names[job.index % names.length] }));
    const ids = [await createId(e), await createId(e), await createId(e), await createId(e)];
    await clock.advance(5_000);
    const statuses = [];
    for (const id of ids) statuses.push((await call(e, 'GET', `/v1/videos/${id}`)).json?.status);
    expect(statuses).toEqual(['in_progress', 'processing', 'running', 'Processing']);
  });

  it('a status no client knows, for any phase', async () => {
    const e = await start();
    e.setJobPlan({ statuses: { in_progress: 'video_generating', completed: 'DONE' } });
    expect(await lifecycle(e)).toEqual(['queued', 'video_generating', 'DONE']);
    // The create answer speaks the same dialect.
    e.configure({ statuses: { queued: 'NOT_START' } });
    e.resetJobPlan();
    const r = await call(e, 'POST', '/v1/videos', {
      form: [
        ['model', 'sora-2'],
        ['prompt', 'p'],
      ],
    });
    expect(r.json?.status).toBe('NOT_START');
  });

  it('refuses an unknown dialect name', async () => {
    await expect(startTuziEmulator({ statuses: 'klingon' as never })).rejects.toThrow(RangeError);
    const e = await start();
    expect(() => e.setJobPlan({ statuses: 'klingon' as never })).toThrow(RangeError);
  });
});
