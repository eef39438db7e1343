import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DestinationStream } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_MODELS } from '../../emulators/tuzi/server.js';
import type { World } from '../../emulators/world.js';
import { bigVideo, ffprobe } from '../support/video-tools.js';
import { command, creates, embedText, FIXTURE_SHA, MINUTE, sora, videoMessages, world } from './helpers.js';

/**
 * The provider as it really is (issue #14): a catalogue operators change, the
 * provider's own model list, every status and error relays send, videos with
 * no link or expiring ones, and videos over the upload limit.
 */
let w: World;
afterEach(async () => {
  await w?.close();
});

const MiB = 1024 * 1024;
const ephemeral = (id: string | null) =>
  w.discord.messages(w.channelId, { includeEphemeral: true }).find((m) => m.id === id);
const replyOf = (jobId: number) =>
  w.discord.messages(w.channelId).find((m) => m.id === w.app!.jobs.get(jobId)!.messageId)!;
const status = (jobId: number) => w.app!.jobs.get(jobId)?.status;

/** A catalogue file with Sora 2 and a non-Sora model: 8 s, aspect ratios, no character fields. */
function veoCatalogue(): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'models-')), 'models.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      default: 'sora-2',
      models: [
        {
          id: 'sora-2',
          name: 'Sora 2',
          durations: [10, 15],
          sizes: ['1280x720', '720x1280'],
          fields: [
            'input_reference',
            'character_url',
            'character_timestamps',
            'character_from_task',
            'watermark',
            'private',
          ],
        },
        { id: 'veo3.1', name: 'Veo 3.1', durations: [8], sizes: ['16:9', '9:16'], fields: ['input_reference'] },
      ],
    }),
  );
  return file;
}

/** Log lines the bot wrote, parsed. */
function logSink(): { stream: DestinationStream; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { lines, stream: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } };
}

describe('the model catalogue, end to end', () => {
  it('a non-Sora model registers its choices, refuses a character option privately with zero upstream requests, and works', async () => {
    w = await world({ env: { MODELS_FILE: veoCatalogue() } });
    const sora = w.discord.commands().find((c) => c.name === 'sora')!;
    const option = (name: string) => sora.options!.find((o) => o.name === name)!;
    expect(option('model').choices!.map((c) => c.value)).toEqual(['sora-2', 'veo3.1']);
    expect(option('duration').choices!.map((c) => c.value)).toEqual([8, 10, 15]);
    expect(option('size').choices!.map((c) => c.value)).toEqual(['1280x720', '720x1280', '16:9', '9:16']);

    await w.app!.modelsChecked();
    const before = w.tuzi.requests.length;
    const refused = await soraCommand({
      prompt: 'a fox',
      model: 'veo3.1',
      character_url: 'https://example.com/pet.mp4',
    });
    expect(refused.ack?.type).toBe(4);
    const text = ephemeral(refused.originalMessageId)!;
    expect(text.flags).toBe(64);
    expect(text.content).toBe('`veo3.1` does not take `character_url`. Models that do: `sora-2`.');
    expect(w.tuzi.requests).toHaveLength(before);
    expect(w.app!.jobs.get(1)).toBeUndefined();

    // The server's watermark and private defaults are off: the model has no such fields, so none are sent.
    await soraCommand({ prompt: 'a fox in the snow', model: 'veo3.1', size: '9:16' });
    expect(creates(w)).toHaveLength(1);
    expect(creates(w)[0]!.fields).toEqual({ model: 'veo3.1', prompt: 'a fox in the snow', seconds: '8', size: '9:16' });
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    expect(status(1)).toBe('delivered');
  });

  it('sora-1 works end to end with the built-in catalogue', async () => {
    w = await world();
    await sora(w, w.users.alice, { prompt: 'an old film', model: 'sora-1', duration: 15, size: '720x1280' });
    expect(creates(w)[0]!.fields).toMatchObject({ model: 'sora-1', seconds: '15', size: '720x1280' });
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    const entry = w.discord.timeline(w.channelId).find((e) => e.attachments.some((a) => a.filename.endsWith('.mp4')));
    expect(entry?.attachments[0]!.sha256).toBe(FIXTURE_SHA);
    expect(w.tuzi.jobs.values().next().value?.model).toBe('sora-1');
  });
});

async function soraCommand(options: Record<string, string | number | boolean>) {
  return sora(w, w.users.alice, options);
}

describe('the provider’s own model list', () => {
  it('moderators see which catalogue models the provider does not list', async () => {
    const models = DEFAULT_MODELS.map((m) => (m.id === 'sora-1' ? { ...m, listed: false } : m));
    w = await world({ tuzi: { models } });
    await w.app!.modelsChecked();
    expect(w.tuzi.requests.filter((r) => r.route === 'models')).toHaveLength(1);
    const show = await command(w, w.users.mod, 'sora-config', { subcommand: 'show' });
    const text = embedText(ephemeral(show.originalMessageId)!);
    expect(text).toContain('The video service does not list `sora-1`');
    expect(text).not.toContain('`sora-2-pro`: members');
  });

  it.each(['missing', 'error', 'hang'] as const)('a model list that is %s never blocks the start', async (mode) => {
    const sink = logSink();
    w = await world({ tuzi: { modelsEndpoint: mode }, logDestination: sink.stream });
    // The bot is up and takes commands while the look is still under way (hang) or failed.
    await sora(w, w.users.alice, { prompt: 'still works' });
    expect(creates(w)).toHaveLength(1);
    if (mode !== 'hang') {
      await w.app!.modelsChecked();
      expect(sink.lines.some((l) => String(l.msg).startsWith('could not read the provider’s model list'))).toBe(true);
      const show = await command(w, w.users.mod, 'sora-config', { subcommand: 'show' });
      expect(embedText(ephemeral(show.originalMessageId)!)).not.toContain('does not list');
    }
  });

  it.each(['openai', 'new-api'] as const)(
    'a create refused as model-not-found (%s) tells the member, and moderators what to change',
    async (style) => {
      const sink = logSink();
      const models = DEFAULT_MODELS.map((m) => (m.id === 'sora-2-pro' ? { ...m, served: false } : m));
      w = await world({ tuzi: { models, modelNotFound: style }, logDestination: sink.stream });
      await sora(w, w.users.li, { prompt: '一只猫', model: 'sora-2-pro' }, { locale: 'zh-CN' });
      expect(status(1)).toBe('submit_failed');
      expect(w.app!.jobs.get(1)!.errorCode).toBe('model_unavailable');
      expect(embedText(replyOf(1))).toContain('视频服务目前不提供 `sora-2-pro`');
      const logged = sink.lines.find((l) => l.level === 50 && l.model === 'sora-2-pro');
      expect(String(logged?.msg)).toContain('remove it from MODELS_FILE');
      const show = await command(w, w.users.mod, 'sora-config', { subcommand: 'show' });
      expect(embedText(ephemeral(show.originalMessageId)!)).toContain('refused `sora-2-pro` as unavailable');
    },
  );
});

describe('every status and error a relay sends', () => {
  it.each(['relay', 'relay-alt', 'relay-case'] as const)(
    'the %s dialect: queued, running, done, delivered',
    async (dialect) => {
      w = await world({ tuzi: { statuses: dialect } });
      await sora(w, w.users.alice, { prompt: dialect });
      await w.advanceUntil(() => status(1) === 'in_progress', 5 * MINUTE);
      await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
      expect(status(1)).toBe('delivered');
    },
  );

  it.each([
    ['error', { failed: 'error' }, 'The video was blocked by moderation. (`content_policy_violation`)'],
    ['failure', { failed: 'failure' }, 'The video was blocked by moderation. (`content_policy_violation`)'],
    ['Failed', { failed: 'Failed' }, 'The video was blocked by moderation. (`content_policy_violation`)'],
  ])('a failure spelled %s ends the job with the upstream reason', async (_name, statuses, reason) => {
    w = await world({ tuzi: { statuses } });
    w.tuzi.injectFault({
      kind: 'job-failure',
      atProgress: 40,
      code: 'content_policy_violation',
      message: 'The video was blocked by moderation.',
    });
    await sora(w, w.users.alice, { prompt: 'blocked' });
    await w.advanceUntil(() => status(1) === 'failed', 5 * MINUTE);
    expect(embedText(replyOf(1))).toContain(reason);
  });

  it.each([
    ['cancelled', 'cancelled'],
    ['canceled', 'canceled'],
  ])('a job the provider stops as %s ends at once, saying so', async (_name, spelling) => {
    w = await world({ tuzi: { statuses: { cancelled: spelling } } });
    await sora(w, w.users.alice, { prompt: 'stopped' });
    await w.advance(30_000);
    const started = w.clock.now();
    w.tuzi.cancelJob([...w.tuzi.jobs.keys()][0]!);
    await w.advanceUntil(() => status(1) === 'failed', MINUTE);
    expect(w.clock.now() - started).toBeLessThan(MINUTE);
    expect(embedText(replyOf(1))).toContain('The video service cancelled this video.');
  });

  it('an `expired` status ends the job with the upstream reason', async () => {
    w = await world();
    await sora(w, w.users.alice, { prompt: 'expires' });
    await w.advance(30_000);
    w.tuzi.expireJob([...w.tuzi.jobs.keys()][0]!, { as: 'status' });
    await w.advanceUntil(() => status(1) === 'failed', MINUTE);
    expect(w.app!.jobs.get(1)!.errorCode).toBe('expired');
    expect(embedText(replyOf(1))).toContain('async task result has been deleted (`expired`)');
  });

  it('an unknown status is logged once per job with its raw value, and the job still completes', async () => {
    const sink = logSink();
    w = await world({ tuzi: { statuses: { in_progress: 'moderating' } }, logDestination: sink.stream });
    await sora(w, w.users.alice, { prompt: 'odd words' });
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    const polls = w.tuzi.requests.filter((r) => r.route === 'retrieve').length;
    const logged = sink.lines.filter((l) => l.msg === 'unknown upstream status; still polling');
    expect(polls).toBeGreaterThan(3);
    expect(logged).toEqual([expect.objectContaining({ jobId: 1, status: 'moderating' })]);
  });

  it('a 400 task_not_exist mid-job ends the job in under a minute of simulated time', async () => {
    w = await world({ tuzi: { unknownTask: 'new-api', jobDurationMs: 10 * MINUTE } });
    await sora(w, w.users.alice, { prompt: 'forgotten' });
    await w.advance(2 * MINUTE);
    expect(status(1)).toBe('in_progress');
    const forgotten = w.clock.now();
    [...w.tuzi.jobs.values()][0]!.markDeleted(forgotten);
    await w.advanceUntil(() => status(1) === 'failed', MINUTE);
    expect(w.clock.now() - forgotten).toBeLessThan(MINUTE);
    const answered = w.tuzi.requests.filter((r) => r.route === 'retrieve' && r.at >= forgotten);
    expect(answered.map((r) => r.status)).toEqual([400]);
    expect(w.app!.jobs.get(1)!.errorCode).toBe('task_not_exist');
    expect(embedText(replyOf(1))).toContain('The video service no longer knows this task');
  });

  it('a 410 for a deleted result ends the job at once, saying so', async () => {
    w = await world({ tuzi: { jobDurationMs: 10 * MINUTE } });
    await sora(w, w.users.alice, { prompt: 'deleted' });
    await w.advance(MINUTE);
    const deleted = w.clock.now();
    w.tuzi.expireJob([...w.tuzi.jobs.keys()][0]!);
    await w.advanceUntil(() => status(1) === 'failed', MINUTE);
    expect(w.clock.now() - deleted).toBeLessThan(MINUTE);
    expect(embedText(replyOf(1))).toContain('The video service deleted this video before it could be posted.');
  });
});

describe('videos with no link, or links that expire', () => {
  it('OpenAI’s shape (no video_url): the video comes through /content', async () => {
    w = await world({ tuzi: { videoShape: 'openai' } });
    await sora(w, w.users.alice, { prompt: 'no link' });
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    expect(w.tuzi.requests.some((r) => r.route === 'content' && r.status === 302)).toBe(true);
    const entry = w.discord.timeline(w.channelId).find((e) => e.attachments.some((a) => a.filename.endsWith('.mp4')));
    expect(entry?.attachments[0]!.sha256).toBe(FIXTURE_SHA);
  });

  it('a link that expires is never posted as the only copy without saying until when', async () => {
    w = await world({ tuzi: { assetTtlMs: 60 * MINUTE } });
    // Over the channel's 10 MiB and not a decodable video: no re-encode can help, so the link is all there is.
    w.tuzi.injectFault({ kind: 'oversized', route: ['video', 'content'], bytes: 12 * MiB, times: Infinity });
    await sora(w, w.users.alice, { prompt: 'big' });
    await w.advanceUntil(() => status(1) === 'delivered', 10 * MINUTE);
    const job = w.app!.jobs.get(1)!;
    const expiresAt = Math.floor((w.tuzi.jobs.values().next().value!.completedAt! + 60 * MINUTE) / 1000);
    const posted = w.discord.messages(w.channelId).find((m) => m.id === job.deliveredMessageId)!;
    expect(job.deliveryMode).toBe('link');
    expect(posted.content).toContain(job.videoUrl!);
    expect(posted.content).toContain(`The video service keeps this link until <t:${expiresAt}:f>`);
  });

  it('a link that already expired is not posted at all', async () => {
    w = await world({ tuzi: { assetTtlMs: 0 } });
    await sora(w, w.users.alice, { prompt: 'too late' });
    await w.advanceUntil(() => status(1) === 'delivery_failed', 10 * MINUTE);
    const job = w.app!.jobs.get(1)!;
    expect(videoMessages(w)).toHaveLength(0);
    expect(w.discord.messages(w.channelId).some((m) => m.content.includes(job.videoUrl!))).toBe(false);
    expect(embedText(replyOf(1))).toContain('the video service’s link to it expired before it could be posted');
    expect(embedText(replyOf(1))).not.toContain(job.videoUrl!);
  });
});

describe('a video over the upload limit', () => {
  it('a 30 MiB video in a 10 MiB channel arrives as a playable MP4 under the limit, in one message', async () => {
    const input = await bigVideo();
    const inputBytes = fs.statSync(input).size;
    expect(inputBytes).toBeGreaterThanOrEqual(30 * MiB);
    w = await world({ tuzi: { videoFile: input }, discord: { defaultUploadLimitBytes: 10 * MiB } });
    await sora(w, w.users.alice, { prompt: 'a noisy sea' }, { attachmentSizeLimit: 10 * MiB });
    // The encode runs in real time (a child process): each step waits for it.
    for (let spent = 0; status(1) !== 'delivered'; spent += 5_000) {
      if (spent > 10 * MINUTE) throw new Error(`not delivered: ${status(1)}`);
      await w.manualClock!.advance(5_000);
      await w.settle(180_000);
    }
    const videos = videoMessages(w);
    expect(videos).toHaveLength(1);
    const message = videos[0]!;
    const attachment = message.attachments[0]!;
    expect(attachment.size).toBeLessThanOrEqual(10 * MiB);
    const saved = path.join(w.dataDir, 'posted.mp4');
    fs.writeFileSync(saved, w.discord.attachmentData(attachment.id)!);
    const probed = await ffprobe(saved);
    expect(probed.formatName).toContain('mp4');
    expect(probed.durationS).toBeCloseTo(4, 0);
    expect(probed.streams.map((s) => s.codecType)).toEqual(['video', 'audio']);
    // It says it was re-encoded, and links the original.
    const job = w.app!.jobs.get(1)!;
    expect(message.content).toContain(
      `The video (${(inputBytes / MiB).toFixed(1)} MiB) is larger than this channel’s upload limit (10.0 MiB), so it was re-encoded`,
    );
    expect(message.content).toContain(`The original: ${job.videoUrl}`);
    // Nothing is left in the temp folder.
    expect(fs.readdirSync(w.config.tempDir)).toEqual([]);
  }, 300_000);
});
