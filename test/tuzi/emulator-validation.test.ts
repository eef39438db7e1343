import { readFileSync } from 'node:fs';
import { FormData, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MODELS, startTuziEmulator, type TuziEmulator } from '../../emulators/tuzi/server.js';
import { API_KEY, REFERENCE_PNG } from './helpers.js';

type Part = [name: string, value: string] | [name: string, file: { bytes: Buffer; filename: string; type: string }];

/** The strict service's rules, checked directly over HTTP. */
describe('emulator validation of POST /v1/videos', () => {
  let emu: TuziEmulator;

  beforeAll(async () => {
    emu = await startTuziEmulator({ apiKey: API_KEY });
  });
  afterAll(async () => {
    await emu.close();
  });
  beforeEach(() => {
    emu.requests.length = 0;
  });

  async function post(
    parts: Part[],
    auth: string | null = `Bearer ${API_KEY}`,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const form = new FormData();
    for (const [name, value] of parts) {
      if (typeof value === 'string') form.append(name, value);
      else form.append(name, new Blob([value.bytes], { type: value.type }), value.filename);
    }
    const res = await request(`${emu.url}/v1/videos`, {
      method: 'POST',
      headers: auth === null ? {} : { authorization: auth },
      body: form,
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  }

  async function postRaw(contentType: string, body: string): Promise<{ status: number; body: unknown }> {
    const res = await request(`${emu.url}/v1/videos`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': contentType },
      body,
    });
    return { status: res.statusCode, body: await res.body.json() };
  }

  const base: Part[] = [
    ['model', 'sora-2'],
    ['prompt', 'p'],
  ];
  const png = { bytes: readFileSync(REFERENCE_PNG), filename: 'r.png', type: 'image/png' };

  it("accepts every model × duration × size of the provider's own list, and nothing else", async () => {
    const allSeconds = [...new Set(DEFAULT_MODELS.flatMap((m) => m.durations))];
    const allSizes = [...new Set(DEFAULT_MODELS.flatMap((m) => m.sizes))];
    expect(emu.models).toEqual(DEFAULT_MODELS);
    for (const model of DEFAULT_MODELS) {
      for (const seconds of allSeconds) {
        const r = await post([
          ['model', model.id],
          ['prompt', 'p'],
          ['seconds', String(seconds)],
        ]);
        expect(r.status, `${model.id} ${seconds}s`).toBe(model.durations.includes(seconds) ? 200 : 400);
      }
      for (const size of allSizes) {
        const r = await post([
          ['model', model.id],
          ['prompt', 'p'],
          ['size', size],
        ]);
        expect(r.status, `${model.id} ${size}`).toBe(model.sizes.includes(size) ? 200 : 400);
      }
    }
  });

  it("serves the seed's sora-1, today's sora-2 and sora-2-pro, and the non-Sora models of Tuzi's tooling", async () => {
    const ids = DEFAULT_MODELS.map((m) => m.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        'sora-1',
        'sora-2',
        'sora-2-pro',
        'veo3',
        'veo3.1',
        'veo3.1-4k',
        'kling-v1-6',
        'seedance-1.5-pro',
      ]),
    );
    // What the bot sends today must keep working: sora-2 10/15 s in the two HD sizes, sora-2-pro up to 25 s and every size.
    const find = (id: string) => DEFAULT_MODELS.find((m) => m.id === id);
    expect(find('sora-2')).toMatchObject({ durations: [10, 15], sizes: ['1280x720', '720x1280'] });
    expect(find('sora-2-pro')).toMatchObject({ durations: [10, 15, 25] });
    expect([...(find('sora-2-pro')?.sizes ?? [])].sort()).toEqual(
      ['1024x1024', '1024x1792', '1280x720', '1792x1024', '720x1280'].sort(),
    );
    const sora1 = await post([
      ['model', 'sora-1'],
      ['prompt', 'p'],
      ['seconds', '15'],
    ]);
    expect(sora1.status).toBe(200);
    expect(sora1.body).toMatchObject({ model: 'sora-1', seconds: '15', size: '1280x720' });
    const veo = await post([
      ['model', 'veo3.1'],
      ['prompt', 'p'],
      ['size', '9:16'],
      ['input_reference', 'https://example.com/a.png'],
    ]);
    expect(veo.status).toBe(200);
    // Omitted seconds take the model's own default, not Sora's 10.
    expect(veo.body).toMatchObject({ model: 'veo3.1', seconds: '8', size: '9:16' });
    expect(String(veo.body.id)).toMatch(/^veo3\.1:task_/);
    const seedance = await post([
      ['model', 'seedance-1.5-pro'],
      ['prompt', 'p'],
      ['size', 'adaptive'],
      ['seconds', '5'],
      ['watermark', 'false'],
    ]);
    expect(seedance.status).toBe(200);
    expect(seedance.body).toMatchObject({ size: 'adaptive', seconds: '5' });
  });

  it('answers a valid request like the seed example', async () => {
    const r = await post([...base, ['seconds', '15']]);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ object: 'video', model: 'sora-2', status: 'queued', progress: 0, seconds: '15' });
    expect(r.body.id).toMatch(/^sora-2:task_[0-9a-z]{26}$/);
    expect(String(r.body.created_at)).toMatch(/^\d{13}$/);
  });

  const cases: Array<[label: string, parts: Part[], status: number, code: string, param?: string]> = [
    ['missing model', [['prompt', 'p']], 400, 'missing_required_parameter', 'model'],
    [
      '25 s on sora-1',
      [
        ['model', 'sora-1'],
        ['prompt', 'p'],
        ['seconds', '25'],
      ],
      400,
      'invalid_value',
      'seconds',
    ],
    [
      'a pixel size on veo3',
      [
        ['model', 'veo3'],
        ['prompt', 'p'],
        ['size', '1280x720'],
      ],
      400,
      'invalid_value',
      'size',
    ],
    [
      '10 s on veo3',
      [
        ['model', 'veo3'],
        ['prompt', 'p'],
        ['seconds', '10'],
      ],
      400,
      'invalid_value',
      'seconds',
    ],
    [
      'a character on veo3',
      [
        ['model', 'veo3'],
        ['prompt', 'p'],
        ['character_url', 'https://example.com/pet.mp4'],
      ],
      400,
      'unsupported_parameter',
      'character_url',
    ],
    [
      "watermark on kling (even 'false')",
      [
        ['model', 'kling-v1-6'],
        ['prompt', 'p'],
        ['watermark', 'false'],
      ],
      400,
      'unsupported_parameter',
      'watermark',
    ],
    [
      'private on seedance',
      [
        ['model', 'seedance-1.5-pro'],
        ['prompt', 'p'],
        ['private', 'true'],
      ],
      400,
      'unsupported_parameter',
      'private',
    ],
    ['missing prompt', [['model', 'sora-2']], 400, 'missing_required_parameter', 'prompt'],
    [
      'blank prompt',
      [
        ['model', 'sora-2'],
        ['prompt', '  '],
      ],
      400,
      'missing_required_parameter',
      'prompt',
    ],
    ['25 s on sora-2', [...base, ['seconds', '25']], 400, 'invalid_value', 'seconds'],
    ['non-numeric seconds', [...base, ['seconds', 'ten']], 400, 'invalid_value', 'seconds'],
    ['OpenAI duration 4', [...base, ['seconds', '4']], 400, 'invalid_value', 'seconds'],
    ['pro size on sora-2', [...base, ['size', '1792x1024']], 400, 'invalid_value', 'size'],
    [
      'unknown size',
      [
        ['model', 'sora-2-pro'],
        ['prompt', 'p'],
        ['size', '640x480'],
      ],
      400,
      'invalid_value',
      'size',
    ],
    ['boolean as yes', [...base, ['watermark', 'yes']], 400, 'invalid_type', 'watermark'],
    ['boolean as 1', [...base, ['private', '1']], 400, 'invalid_type', 'private'],
    ['boolean as True', [...base, ['character_create', 'True']], 400, 'invalid_type', 'character_create'],
    ['timestamps too long', [...base, ['character_timestamps', '1,5']], 400, 'invalid_value', 'character_timestamps'],
    ['timestamps reversed', [...base, ['character_timestamps', '3,1']], 400, 'invalid_value', 'character_timestamps'],
    [
      'timestamps too short',
      [...base, ['character_timestamps', '1,1.5']],
      400,
      'invalid_value',
      'character_timestamps',
    ],
    [
      'timestamps not numbers',
      [...base, ['character_timestamps', 'a,b']],
      400,
      'invalid_value',
      'character_timestamps',
    ],
    [
      'timestamps with a dash',
      [...base, ['character_timestamps', '1-3']],
      400,
      'invalid_value',
      'character_timestamps',
    ],
    ['character_url not http', [...base, ['character_url', 'ftp://x/y.mp4']], 400, 'invalid_value', 'character_url'],
    ['empty character_from_task', [...base, ['character_from_task', ' ']], 400, 'invalid_value', 'character_from_task'],
    [
      'reference URL not http',
      [...base, ['input_reference', 'file:///etc/passwd']],
      400,
      'invalid_value',
      'input_reference',
    ],
    [
      'reference file and URL',
      [...base, ['input_reference', png], ['input_reference[image_url]', 'https://x/y.png']],
      400,
      'invalid_value',
      'input_reference',
    ],
    [
      'reference not an image',
      [...base, ['input_reference', { bytes: Buffer.from('hello'), filename: 'a.txt', type: 'text/plain' }]],
      400,
      'invalid_image',
      'input_reference',
    ],
    [
      'octet-stream that is not an image',
      [...base, ['input_reference', { bytes: Buffer.from('hello'), filename: 'a', type: 'application/octet-stream' }]],
      400,
      'invalid_image',
      'input_reference',
    ],
    ['model sent twice', [...base, ['model', 'sora-2-pro']], 400, 'duplicate_parameter', 'model'],
    [
      'prompt as a file',
      [
        ['model', 'sora-2'],
        ['prompt', { bytes: Buffer.from('p'), filename: 'p.txt', type: 'text/plain' }],
      ],
      400,
      'invalid_type',
      'prompt',
    ],
  ];

  it.each(cases)('rejects %s', async (_label, parts, status, code, param) => {
    const r = await post(parts);
    expect(r.status).toBe(status);
    const error = r.body.error as Record<string, unknown>;
    expect(error).toMatchObject({ type: 'invalid_request_error', code });
    expect(typeof error.message).toBe('string');
    if (param) expect(error.param).toBe(param);
  });

  it('accepts the edge cases a real caller sends', async () => {
    for (const parts of [
      [...base, ['character_timestamps', '0.5,2.5']],
      [...base, ['character_timestamps', '2,3']],
      [...base, ['character_timestamps', '0,3']],
      [...base, ['input_reference', 'https://example.com/a.jpg']],
      [...base, ['input_reference', { ...png, type: 'application/octet-stream' }]],
      [...base, ['unknown_extra_field', 'ignored']],
      [...base, ['watermark', 'true'], ['private', 'false'], ['character_create', 'false']],
    ] as Part[][]) {
      const r = await post(parts);
      expect(r.status, JSON.stringify(parts.slice(2).map((p) => p[0]))).toBe(200);
    }
  });

  it('requires a Bearer key (401 JSON), and only the configured one', async () => {
    const jobsBefore = emu.jobs.size;
    for (const auth of [null, 'Bearer ', 'Basic abc', 'Bearer wrong-key']) {
      const r = await post(base, auth);
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ error: { code: 'invalid_api_key', type: 'invalid_request_error' } });
    }
    expect(emu.requests.every((q) => !q.authorized)).toBe(true);
    expect(emu.requests).toHaveLength(4);
    expect(JSON.stringify(emu.requests)).not.toContain('wrong-key');
    expect(emu.jobs.size).toBe(jobsBefore);
    const res = await request(`${emu.url}/v1/videos/sora-2:task_x`);
    expect(res.statusCode).toBe(401);
    await res.body.dump();
  });

  it('any non-empty key when none is configured', async () => {
    const open = await startTuziEmulator();
    try {
      const form = new FormData();
      form.append('model', 'sora-2');
      form.append('prompt', 'p');
      const ok = await request(`${open.url}/v1/videos`, {
        method: 'POST',
        headers: { authorization: 'Bearer anything' },
        body: form,
      });
      expect(ok.statusCode).toBe(200);
      await ok.body.dump();
      const missing = await request(`${open.url}/v1/videos/x:y`);
      expect(missing.statusCode).toBe(401);
      await missing.body.dump();
    } finally {
      await open.close();
    }
  });

  it('refuses JSON and url-encoded bodies with 415', async () => {
    const jobsBefore = emu.jobs.size;
    const json = await postRaw('application/json', JSON.stringify({ model: 'sora-2', prompt: 'p' }));
    expect(json).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type' } } });
    const urlencoded = await postRaw('application/x-www-form-urlencoded', 'model=sora-2&prompt=p');
    expect(urlencoded).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type' } } });
    const broken = await postRaw('multipart/form-data; boundary=xyz', 'not multipart at all');
    expect(broken).toMatchObject({ status: 400, body: { error: { code: 'invalid_multipart' } } });
    expect(emu.jobs.size).toBe(jobsBefore);
  });

  it('answers unknown routes and wrong methods with JSON errors', async () => {
    const unknown = await request(`${emu.url}/v1/images`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(unknown.statusCode).toBe(404);
    expect(await unknown.body.json()).toMatchObject({ error: { code: 'not_found' } });
    const wrong = await request(`${emu.url}/v1/videos`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(wrong.statusCode).toBe(405);
    await wrong.body.dump();
  });

  it('records requests with the key masked', async () => {
    await post([...base, ['input_reference', png]]);
    const rec = emu.requests[0]!;
    expect(rec.headers.authorization).toBe('Bearer ***');
    expect(rec.authorized).toBe(true);
    expect(JSON.stringify(rec)).not.toContain(API_KEY);
    expect(rec.files).toEqual([
      expect.objectContaining({
        name: 'input_reference',
        filename: 'r.png',
        contentType: 'image/png',
        size: png.bytes.length,
      }),
    ]);
  });

  it('rejects a fault without a route, and count-limited faults disarm', async () => {
    expect(() => emu.injectFault({ kind: 'hang', route: [] })).toThrow(TypeError);
    emu.injectFault({ kind: 'http-error', route: 'create', status: 503, times: 2 });
    expect((await post(base)).status).toBe(503);
    expect((await post(base)).status).toBe(503);
    expect((await post(base)).status).toBe(200);
    expect(emu.requests.map((r) => r.fault)).toEqual(['http-error', 'http-error', undefined]);
  });
});
