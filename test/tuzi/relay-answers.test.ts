import { afterEach, describe, expect, it } from 'vitest';
import { startTuziEmulator, STATUS_DIALECTS, type TuziEmulator } from '../../emulators/tuzi/server.js';
import { ManualClock } from '../../src/clock.js';
import { normaliseModelList, normaliseStatus, normaliseTask } from '../../src/services/tuzi/normalize.js';
import { describeFailure } from '../../src/services/video-api.js';
import { API_KEY, makeClient } from './helpers.js';

/** What the bot reads from every status and error a relay sends (facts/tuzi.md). */
describe('status synonyms', () => {
  it.each([
    ['queued', 'queued'],
    ['pending', 'queued'],
    ['Submitted', 'queued'],
    ['processing', 'in_progress'],
    ['Processing', 'in_progress'],
    ['running', 'in_progress'],
    ['in_progress', 'in_progress'],
    ['succeeded', 'completed'],
    ['success', 'completed'],
    ['SUCCESS', 'completed'],
    [' Success ', 'completed'],
    ['completed', 'completed'],
    ['cancelled', 'failed'],
    ['canceled', 'failed'],
    ['error', 'failed'],
    ['expired', 'failed'],
    ['Failed', 'failed'],
    ['moderating', 'unknown'],
    ['constructor', 'unknown'],
    ['', 'unknown'],
  ])('%j → %s', (raw, status) => {
    expect(normaliseStatus(raw)).toBe(status);
  });

  it('an ended status keeps the upstream reason, or names itself when there is none', () => {
    expect(normaliseTask({ id: 't', status: 'canceled' })).toMatchObject({
      status: 'failed',
      rawStatus: 'canceled',
      error: { code: 'cancelled', message: '' },
    });
    expect(normaliseTask({ id: 't', status: 'expired', message: 'async task result has been deleted' })?.error).toEqual(
      { code: 'expired', message: 'async task result has been deleted' },
    );
    expect(normaliseTask({ id: 't', status: 'error', fail_reason: 'upstream timeout' })?.error).toEqual({
      code: 'error',
      message: 'upstream timeout',
    });
    expect(
      normaliseTask({ id: 't', status: 'failed', error: { code: 'content_policy_violation', message: 'blocked' } })
        ?.error,
    ).toEqual({ code: 'content_policy_violation', message: 'blocked' });
  });

  it('reads expires_at (seconds, as OpenAI sends it) as milliseconds', () => {
    expect(normaliseTask({ id: 't', status: 'completed', expires_at: 1760152394 })?.expiresAt).toBe(1760152394000);
  });

  it('reads the model list in OpenAI’s shape and the bare array some relays send', () => {
    expect(normaliseModelList({ object: 'list', data: [{ id: 'sora-2', owned_by: 'openai' }, { x: 1 }] })).toEqual([
      { id: 'sora-2', ownedBy: 'openai' },
    ]);
    expect(normaliseModelList([{ id: 'veo3.1' }])).toEqual([{ id: 'veo3.1' }]);
    expect(normaliseModelList({ error: 'no' })).toBeUndefined();
  });
});

describe('the client against the emulator’s relay answers', () => {
  let emu: TuziEmulator;
  afterEach(async () => {
    await emu?.close();
  });

  it('every dialect of the emulator is understood, and none is unknown', async () => {
    const clock = new ManualClock(Date.now());
    emu = await startTuziEmulator({ clock, apiKey: API_KEY, jobDurationMs: 10_000 });
    const { client } = makeClient(emu.url);
    for (const [name, dialect] of Object.entries(STATUS_DIALECTS)) {
      for (const [phase, spelling] of Object.entries(dialect)) {
        expect(normaliseStatus(spelling), `${name}: ${phase} as ${spelling}`).toBe(
          phase === 'cancelled' || phase === 'expired' ? 'failed' : phase,
        );
      }
    }
    emu.configure({ statuses: 'relay-case' });
    const created = await client.createVideo({ model: 'sora-2', prompt: 'x' });
    expect(created).toMatchObject({ status: 'queued', rawStatus: 'Pending' });
    await clock.advance(5_000);
    expect(await client.getVideo(created.id)).toMatchObject({ status: 'in_progress', rawStatus: 'Processing' });
    await clock.advance(6_000);
    expect(await client.getVideo(created.id)).toMatchObject({ status: 'completed', rawStatus: 'Success' });
    await client.close();
  });

  it('404, 400 task_not_exist and 410 read as a gone task; other errors do not', async () => {
    emu = await startTuziEmulator({ apiKey: API_KEY, jobDurationMs: 60_000 });
    const { client } = makeClient(emu.url, { retry: { maxRetries: 0 } });
    const failure = async (id: string) => describeFailure(await client.getVideo(id).catch((e: unknown) => e));
    expect((await failure('sora-2:task_missing')).taskGone).toBe('not_found');
    emu.configure({ unknownTask: 'new-api' });
    expect(await failure('sora-2:task_missing')).toMatchObject({ status: 400, taskGone: 'task_not_exist' });
    const task = await client.createVideo({ model: 'sora-2', prompt: 'x' });
    emu.expireJob(task.id);
    expect(await failure(task.id)).toMatchObject({ status: 410, taskGone: 'result_deleted' });
    emu.injectFault({ kind: 'http-error', route: 'retrieve', status: 400, code: 'invalid_request' });
    expect((await failure(task.id)).taskGone).toBeUndefined();
    await client.close();
  });

  it('"model not found" in OpenAI’s and new-api’s words reads as an unavailable model', async () => {
    emu = await startTuziEmulator({ apiKey: API_KEY });
    const { client } = makeClient(emu.url);
    const create = async () =>
      describeFailure(await client.createVideo({ model: 'sora-9', prompt: 'x' }).catch((e: unknown) => e));
    expect(await create()).toMatchObject({ status: 404, modelUnavailable: true });
    emu.configure({ modelNotFound: 'new-api' });
    expect(await create()).toMatchObject({ status: 503, modelUnavailable: true });
    const other = describeFailure(await client.createVideo({ model: 'sora-2', prompt: '' }).catch((e: unknown) => e));
    expect(other).toMatchObject({ status: 400, modelUnavailable: false });
    await client.close();
  });

  it('listModels reads GET /v1/models, and a relay without it is an error to log', async () => {
    emu = await startTuziEmulator({ apiKey: API_KEY });
    const { client } = makeClient(emu.url, { retry: { maxRetries: 0 } });
    const listed = await client.listModels();
    expect(listed.map((m) => m.id)).toEqual(emu.models.filter((m) => m.listed !== false).map((m) => m.id));
    expect(listed[0]).toMatchObject({ id: 'sora-1', ownedBy: 'openai' });
    emu.configure({ modelsEndpoint: 'missing' });
    expect(describeFailure(await client.listModels().catch((e: unknown) => e))).toMatchObject({ status: 404 });
    emu.configure({ modelsEndpoint: 'hang' });
    const hung = await client.listModels({ signal: AbortSignal.timeout(200) }).catch((e: unknown) => e);
    expect(describeFailure(hung).status).toBeUndefined();
    await client.close();
  });
});
