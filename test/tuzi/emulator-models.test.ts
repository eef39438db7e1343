import { afterEach, describe, expect, it } from 'vitest';
import { validateModels } from '../../emulators/tuzi/models.js';
import {
  DEFAULT_MODELS,
  startTuziEmulator,
  type ProviderModel,
  type TuziEmulator,
  type TuziEmulatorOptions,
} from '../../emulators/tuzi/server.js';
import { ManualClock } from '../../src/clock.js';
import { API_KEY } from './helpers.js';
import { call, create } from './emulator-http.js';

/** The provider's own catalogue: GET /v1/models, and what a create for a model it does not serve answers. */
describe('emulator: the provider model list', () => {
  let emu: TuziEmulator | undefined;
  const start = async (opts: TuziEmulatorOptions = {}): Promise<TuziEmulator> => {
    emu = await startTuziEmulator({ clock: new ManualClock(), apiKey: API_KEY, ...opts });
    return emu;
  };
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it('GET /v1/models answers the OpenAI list shape with the default catalogue', async () => {
    const e = await start();
    const r = await call(e, 'GET', '/v1/models');
    expect(r.status).toBe(200);
    expect(r.json?.object).toBe('list');
    const data = r.json?.data as Array<Record<string, unknown>>;
    expect(data.map((m) => m.id)).toEqual(DEFAULT_MODELS.map((m) => m.id));
    for (const m of data) {
      expect(Object.keys(m).sort()).toEqual(['created', 'id', 'object', 'owned_by']);
      expect(m).toMatchObject({ object: 'model', created: expect.any(Number), owned_by: expect.any(String) });
    }
    expect(data.find((m) => m.id === 'veo3')?.owned_by).toBe('google');
    expect(e.requests.at(-1)).toMatchObject({ route: 'models', status: 200 });
  });

  it('GET /v1/models needs the key', async () => {
    const e = await start();
    expect((await call(e, 'GET', '/v1/models', { key: null })).status).toBe(401);
    expect((await call(e, 'GET', '/v1/models', { key: 'sk-other' })).status).toBe(401);
    expect((await call(e, 'POST', '/v1/models')).status).toBe(405);
  });

  it('a configured catalogue, with models the bot does not know, unlisted and unserved ones', async () => {
    const models: ProviderModel[] = [
      { id: 'sora-2', durations: [10, 15], sizes: ['1280x720', '720x1280'] },
      // A model no client of ours has heard of, taking aspect ratios and nothing optional.
      { id: 'wan-2.5', durations: [5], sizes: ['adaptive', '16:9'], fields: [], ownedBy: 'alibaba', created: 123 },
      { id: 'hidden-beta', durations: [4], sizes: ['1:1'], listed: false },
      // Still listed after its upstream went away, as resellers did once Sora 2's API shut down.
      { id: 'sora-2-pro', durations: [10, 15, 25], sizes: ['1280x720'], served: false },
    ];
    const e = await start({ models });
    const list = await call(e, 'GET', '/v1/models');
    expect(list.json?.data).toEqual([
      { id: 'sora-2', object: 'model', created: expect.any(Number), owned_by: 'custom' },
      { id: 'wan-2.5', object: 'model', created: 123, owned_by: 'alibaba' },
      { id: 'sora-2-pro', object: 'model', created: expect.any(Number), owned_by: 'custom' },
    ]);
    const wan = await create(e, { model: 'wan-2.5', size: 'adaptive' });
    expect(wan.status).toBe(200);
    expect(wan.json).toMatchObject({ model: 'wan-2.5', seconds: '5', size: 'adaptive' });
    expect((await create(e, { model: 'wan-2.5', input_reference: 'https://x/y.png' })).json).toMatchObject({
      error: { code: 'unsupported_parameter', param: 'input_reference' },
    });
    expect((await create(e, { model: 'hidden-beta' })).status).toBe(200);
    const before = e.jobs.size;
    const gone = await create(e, { model: 'sora-2-pro' });
    expect(gone.status).toBe(404);
    expect(gone.json).toMatchObject({ error: { code: 'model_not_found' } });
    expect(e.jobs.size).toBe(before);
  });

  it("a model the provider does not serve: OpenAI's 404 model_not_found, exactly", async () => {
    const e = await start();
    const r = await create(e, { model: 'sora-3' });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({
      error: {
        message: 'The model `sora-3` does not exist or you do not have access to it.',
        type: 'invalid_request_error',
        param: null,
        code: 'model_not_found',
      },
    });
    expect(e.jobs.size).toBe(0);
  });

  it("a model the provider does not serve: new-api's 503 'no available channel'", async () => {
    const e = await start({ modelNotFound: 'new-api' });
    const r = await create(e, { model: 'sora-3' });
    expect(r.status).toBe(503);
    expect(r.json).toEqual({
      error: {
        message: expect.stringMatching(/^当前分组 default 下对于模型 sora-3 无可用渠道 \(request id: \w+\)$/),
        type: 'new_api_error',
        code: 'model_not_found',
      },
    });
    expect(e.jobs.size).toBe(0);
  });

  it('a model withdrawn at run time (the 2026-09-24 shutdown) stops being creatable and listed', async () => {
    const e = await start();
    expect((await create(e)).status).toBe(200);
    e.configure({ models: DEFAULT_MODELS.filter((m) => !m.id.startsWith('sora')), modelNotFound: 'new-api' });
    const after = await create(e);
    expect(after.status).toBe(503);
    expect(after.json).toMatchObject({ error: { code: 'model_not_found' } });
    const ids = ((await call(e, 'GET', '/v1/models')).json?.data as Array<{ id: string }>).map((m) => m.id);
    expect(ids).not.toContain('sora-2');
    expect(ids).toContain('veo3.1');
    expect(e.jobs.size).toBe(1);
  });

  it('a relay without /v1/models (404), a failing one (500), one that never answers, and injected faults', async () => {
    const e = await start({ modelsEndpoint: 'missing' });
    const missing = await call(e, 'GET', '/v1/models');
    expect(missing.status).toBe(404);
    expect(missing.text).toBe('404 page not found');
    e.configure({ modelsEndpoint: 'error' });
    const failing = await call(e, 'GET', '/v1/models');
    expect(failing.status).toBe(500);
    expect(failing.json).toMatchObject({ error: { type: 'server_error' } });
    e.configure({ modelsEndpoint: 'hang' });
    await expect(call(e, 'GET', '/v1/models', { headersTimeout: 200 })).rejects.toMatchObject({
      code: 'UND_ERR_HEADERS_TIMEOUT',
    });
    e.configure({ modelsEndpoint: 'ok' });
    e.injectFault({ kind: 'http-error', route: 'models', status: 502 });
    expect((await call(e, 'GET', '/v1/models')).status).toBe(502);
    expect((await call(e, 'GET', '/v1/models')).status).toBe(200);
  });

  it('refuses a malformed catalogue', async () => {
    expect(() => validateModels([{ id: 'a', durations: [], sizes: ['1:1'] }])).toThrow(TypeError);
    expect(() =>
      validateModels([
        { id: 'a', durations: [5], sizes: ['1:1'] },
        { id: 'a', durations: [5], sizes: ['1:1'] },
      ]),
    ).toThrow(/unique/);
    expect(() => validateModels([{ id: 'a', durations: [5], sizes: ['1:1'], defaultSeconds: 8 }])).toThrow(
      /defaultSeconds/,
    );
    expect(() => validateModels([{ id: 'a', durations: [5], sizes: ['1:1'], fields: ['colour'] }])).toThrow(TypeError);
    await expect(startTuziEmulator({ models: [{ id: '', durations: [5], sizes: ['1:1'] }] })).rejects.toThrow(
      TypeError,
    );
  });
});
