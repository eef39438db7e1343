import { execFile, spawn } from 'node:child_process';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import OpenAI, { toFile } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTuziEmulator, type TuziEmulator } from '../../emulators/tuzi/server.js';
import { ManualClock } from '../../src/clock.js';
import { API_KEY, REFERENCE_PNG, SAMPLE_MP4, makeTempDir, sha256File } from './helpers.js';

const run = promisify(execFile);

/**
 * Clients nobody here wrote must be accepted: if they are refused, the
 * emulator is wrong, not them.
 */
describe('emulator fidelity: third-party clients', () => {
  let clock: ManualClock;
  let emu: TuziEmulator;

  beforeEach(async () => {
    clock = new ManualClock();
    emu = await startTuziEmulator({ clock, apiKey: API_KEY, jobDurationMs: 1_000 });
  });

  afterEach(async () => {
    await emu.close();
  });

  describe('the official openai package', () => {
    const openai = (): OpenAI => new OpenAI({ apiKey: API_KEY, baseURL: `${emu.url}/v1`, maxRetries: 0 });

    it('create (multipart, with a file), retrieve (colon id), downloadContent (redirect)', async () => {
      const client = openai();
      const created = await client.videos.create({
        model: 'sora-2',
        prompt: '一只狗在海边奔跑',
        // The SDK's types list OpenAI's durations (4/8/12); Tuzi's are 10/15/25.
        seconds: '10' as never,
        size: '720x1280',
        input_reference: await toFile(createReadStream(REFERENCE_PNG), 'ref.png', { type: 'image/png' }),
      });
      expect(created).toMatchObject({ object: 'video', model: 'sora-2', status: 'queued', seconds: '10' });
      const rec = emu.requests[0]!;
      expect(rec.headers['content-type']).toMatch(/^multipart\/form-data/);
      expect(rec.status).toBe(200);
      expect(rec.fields).toMatchObject({ model: 'sora-2', seconds: '10', size: '720x1280' });
      expect(rec.files[0]).toMatchObject({ name: 'input_reference', filename: 'ref.png', contentType: 'image/png' });
      expect(rec.files[0]?.sha256).toBe(sha256File(REFERENCE_PNG));

      await clock.advance(1_000);
      const done = await client.videos.retrieve(created.id);
      expect(done).toMatchObject({ id: created.id, status: 'completed', progress: 100 });
      expect(emu.requests[1]!.rawPath).toBe(`/v1/videos/${created.id}`);

      const content = await client.videos.downloadContent(created.id);
      const bytes = Buffer.from(await content.arrayBuffer());
      expect(bytes.equals(readFileSync(SAMPLE_MP4))).toBe(true);
      expect(emu.requests.slice(2).map((r) => [r.route, r.status])).toEqual([
        ['content', 302],
        ['video', 200],
      ]);
    });

    it('create without a file is still multipart; the object form of input_reference is read as a URL', async () => {
      const client = openai();
      const created = await client.videos.create({
        model: 'sora-2-pro',
        prompt: 'p',
        seconds: '25' as never,
        size: '1792x1024',
        input_reference: { image_url: 'https://example.com/ref.png' },
      });
      expect(created.status).toBe('queued');
      expect(emu.requests[0]!.headers['content-type']).toMatch(/^multipart\/form-data/);
      expect(emu.jobs.get(created.id)?.inputReference).toEqual({ kind: 'url', url: 'https://example.com/ref.png' });
    });

    it('downloadContent in direct mode, and the SDK surfaces the emulator errors as APIError', async () => {
      emu.setContentMode('direct');
      const client = openai();
      const created = await client.videos.create({ model: 'sora-2', prompt: 'p' });
      await clock.advance(1_000);
      const content = await client.videos.downloadContent(created.id);
      expect(Buffer.from(await content.arrayBuffer()).equals(readFileSync(SAMPLE_MP4))).toBe(true);

      const err = await client.videos.create({ model: 'sora-2', prompt: 'p', seconds: '4' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err).toMatchObject({ status: 400, code: 'invalid_value', param: 'seconds' });
    });
  });

  describe('curl -F, as the seed readers would call it', () => {
    it('accepts every seed field, with a file', async () => {
      const { stdout } = await run('curl', [
        '-sS',
        '--fail-with-body',
        '-H',
        `Authorization: Bearer ${API_KEY}`,
        '-F',
        'model=sora-2-pro',
        '-F',
        'prompt=一只猫在月球上跳舞',
        '-F',
        'seconds=15',
        '-F',
        'size=1024x1024',
        '-F',
        `input_reference=@${REFERENCE_PNG}`,
        '-F',
        'watermark=false',
        '-F',
        'private=true',
        '-F',
        'character_url=https://example.com/pet.mp4',
        '-F',
        'character_timestamps=1,3',
        '-F',
        'character_from_task=sora-2:task_01k78gpb3ffrmtywwabcdefghi',
        '-F',
        'character_create=true',
        `${emu.url}/v1/videos`,
      ]);
      const body = JSON.parse(stdout) as Record<string, unknown>;
      expect(body).toMatchObject({
        object: 'video',
        model: 'sora-2-pro',
        status: 'queued',
        progress: 0,
        seconds: '15',
      });
      expect(String(body.created_at)).toHaveLength(13);
      const rec = emu.requests[0]!;
      expect(rec.fields).toMatchObject({ prompt: '一只猫在月球上跳舞', private: 'true', character_timestamps: '1,3' });
      expect(rec.files[0]).toMatchObject({ filename: path.basename(REFERENCE_PNG), contentType: 'image/png' });
    });

    it('a curl with -L downloads the finished video through the redirect', async () => {
      const { stdout } = await run('curl', [
        '-sS',
        '--fail-with-body',
        '-H',
        `Authorization: Bearer ${API_KEY}`,
        '-F',
        'model=sora-2',
        '-F',
        'prompt=p',
        `${emu.url}/v1/videos`,
      ]);
      const id = (JSON.parse(stdout) as { id: string }).id;
      await clock.advance(1_000);
      const { dir, cleanup } = makeTempDir();
      try {
        const out = path.join(dir, 'v.mp4');
        await run('curl', [
          '-sS',
          '--fail',
          '-L',
          '-H',
          `Authorization: Bearer ${API_KEY}`,
          '-o',
          out,
          `${emu.url}/v1/videos/${id}/content`,
        ]);
        expect(sha256File(out)).toBe(sha256File(SAMPLE_MP4));
      } finally {
        cleanup();
      }
    });
  });

  describe('the CLI', () => {
    /** Starts the CLI and resolves its URL (its first stdout line). */
    async function cli(args: string[], env: Record<string, string> = {}): Promise<{ url: string; stop: () => void }> {
      const child = spawn(process.execPath, ['--import', 'tsx', 'emulators/tuzi/cli.ts', '--port', '0', ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`cli exited ${code}`)));
      }).catch((err: unknown) => {
        child.kill('SIGTERM');
        throw err;
      });
      return { url, stop: () => child.kill('SIGTERM') };
    }

    it('prints its URL, honours TUZI_API_KEY and --job-seconds', async () => {
      const { url, stop } = await cli(['--job-seconds', '0'], { TUZI_API_KEY: 'cli-secret-key' });
      try {
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        const post = (key: string): Promise<Response> => {
          const form = new FormData();
          form.append('model', 'sora-2');
          form.append('prompt', 'p');
          return fetch(`${url}/v1/videos`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
        };
        expect((await post('another-key')).status).toBe(401);
        const ok = await post('cli-secret-key');
        expect(ok.status).toBe(200);
        const { id } = (await ok.json()) as { id: string };
        // --job-seconds 0: done at once, on the system clock.
        const status = await fetch(`${url}/v1/videos/${id}`, { headers: { authorization: 'Bearer cli-secret-key' } });
        expect(await status.json()).toMatchObject({ status: 'completed', progress: 100 });
      } finally {
        stop();
      }
    });

    it('takes a models JSON file, a running-jobs cap, a status dialect and the relay answers', async () => {
      const { dir, cleanup } = makeTempDir();
      const file = path.join(dir, 'models.json');
      writeFileSync(file, JSON.stringify([{ id: 'wan-2.5', durations: [5], sizes: ['adaptive'], fields: [] }]));
      const { url, stop } = await cli([
        '--job-seconds',
        '600',
        '--models',
        file,
        '--max-running-jobs',
        '1',
        '--status-dialect',
        'relay-case',
        '--model-not-found',
        'new-api',
        '--unknown-task',
        'new-api',
      ]);
      try {
        const headers = { authorization: 'Bearer any-key' };
        const post = (model: string): Promise<Response> => {
          const form = new FormData();
          form.append('model', model);
          form.append('prompt', 'p');
          return fetch(`${url}/v1/videos`, { method: 'POST', headers, body: form });
        };
        const models = (await (await fetch(`${url}/v1/models`, { headers })).json()) as { data: { id: string }[] };
        expect(models.data.map((m) => m.id)).toEqual(['wan-2.5']);
        expect((await post('sora-2')).status).toBe(503);
        const first = await post('wan-2.5');
        expect(await first.json()).toMatchObject({ model: 'wan-2.5', status: 'Pending', size: 'adaptive' });
        const second = await post('wan-2.5');
        expect(second.status).toBe(429);
        expect(second.headers.get('retry-after')).toBe('30');
        const unknown = await fetch(`${url}/v1/videos/wan-2.5:task_nope`, { headers });
        expect(unknown.status).toBe(400);
        expect(await unknown.json()).toEqual({ code: 'task_not_exist', message: 'task_not_exist', data: null });
      } finally {
        stop();
        cleanup();
      }
    });

    it('exits 2 on a bad models file', async () => {
      const { dir, cleanup } = makeTempDir();
      const file = path.join(dir, 'models.json');
      writeFileSync(file, JSON.stringify([{ id: 'x', durations: [], sizes: [] }]));
      try {
        await expect(cli(['--models', file])).rejects.toThrow('cli exited 2');
      } finally {
        cleanup();
      }
    });
  });
});
