import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../emulators/world.js';
import { t } from '../../src/ui/i18n.js';
import { creates, embedText, FIXTURE_SHA, MINUTE, sora, videoMessages, world } from './helpers.js';

const PNG = fs.readFileSync(new URL('../../emulators/fixtures/reference.png', import.meta.url));
let w: World;
afterEach(async () => {
  await w?.close();
});

/** `n` new members each run /sora at the same moment (prompts `${prompt} 0…`); resolves once all are handled. */
async function atOnce(n: number, prompt: string) {
  const handles = Array.from({ length: n }, (_, i) =>
    w.discord.invokeSlashCommand({
      guildId: w.guildId,
      channelId: w.channelId,
      userId: w.discord.createUser({ username: `${prompt}${i}`, guildIds: [w.guildId] }).id,
      name: 'sora',
      options: { prompt: `${prompt} ${i}` },
    }),
  );
  await Promise.all(handles.map((h) => h.acknowledged()));
  await w.settle();
  return handles;
}

describe('/sora end to end (real discord.js, Discord and Tuzi emulators)', () => {
  it('happy path with every option: one POST with every field, live progress, one video, buttons', async () => {
    w = await world();
    const h = await sora(
      w,
      w.users.alice,
      {
        prompt: '  a corgi surfing @everyone  ',
        model: 'sora-2-pro',
        duration: 25,
        size: '1792x1024',
        image: 'ref.png',
        watermark: true,
        private: true,
        character_url: 'https://example.com/pet.mp4',
        character_timestamps: '1,3',
        character_create: true,
      },
      { attachments: [{ filename: 'ref.png', contentType: 'image/png', data: PNG }] },
    );
    expect(h.ack?.type).toBe(5);
    const posts = creates(w);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.fields).toMatchObject({
      model: 'sora-2-pro',
      prompt: 'a corgi surfing @everyone',
      seconds: '25',
      size: '1792x1024',
      watermark: 'true',
      private: 'true',
      character_url: 'https://example.com/pet.mp4',
      character_timestamps: '1,3',
      character_create: 'true',
    });
    // The image reached upstream byte-identical.
    const file = posts[0]!.files.find((f) => f.name === 'input_reference');
    expect(file?.sha256).toBe(createHashHex(PNG));
    expect(file?.contentType).toBe('image/png');

    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    await w.advance(10_000);
    const videos = videoMessages(w);
    expect(videos).toHaveLength(1);
    expect(videos[0]!.attachments[0]!.size).toBeGreaterThan(0);
    const entry = w.discord.timeline(w.channelId).find((e) => e.attachments.some((a) => a.filename.endsWith('.mp4')));
    expect(entry?.attachments[0]!.sha256).toBe(FIXTURE_SHA);
    expect(videos[0]!.content).toContain(`<@${w.users.alice}>`);
    expect(JSON.stringify(videos[0]!.components)).toContain('sora:reroll:');
    // The reply showed at least two different percentages before the video.
    const percents = new Set(
      w.discord
        .timeline(w.channelId)
        .filter((e) => e.messageId === h.originalMessageId)
        .flatMap((e) => [...embedText(e).matchAll(/(\d+)%/g)].map((m) => m[1])),
    );
    expect(percents.size).toBeGreaterThanOrEqual(2);
    // Progress edits only when something visible changed, and at least PROGRESS_EDIT_SECONDS apart.
    const edits = w.discord
      .timeline(w.channelId)
      .filter((e) => e.messageId === h.originalMessageId && e.kind === 'edit' && !e.loading);
    expect(edits.every((e) => e.changed)).toBe(true);
    const progressEdits = edits.filter((e) => /\d+%/.test(embedText(e)));
    progressEdits.slice(1).forEach((e, i) => expect(e.at - progressEdits[i]!.at).toBeGreaterThanOrEqual(5_000));
    expect(creates(w)).toHaveLength(1);
    expect(w.app!.jobs.get(1)?.status).toBe('delivered');
  });

  it('refuses invalid input privately, with zero upstream requests and nothing public', async () => {
    w = await world();
    await w.app!.modelsChecked();
    const before = w.discord.messages(w.channelId).length;
    const h = await sora(w, w.users.alice, { prompt: 'x', duration: 25 });
    expect(h.ack?.type).toBe(4);
    const reply = w.discord.messages(w.channelId, { includeEphemeral: true }).find((m) => m.id === h.originalMessageId);
    expect(reply?.flags ?? 0).toBe(64);
    expect(reply?.content).toContain('sora-2-pro');
    const zh = await sora(w, w.users.li, { prompt: 'x', size: '1024x1024' }, { locale: 'zh-CN' });
    expect(
      w.discord.messages(w.channelId, { includeEphemeral: true }).find((m) => m.id === zh.originalMessageId)?.content,
    ).toContain('尺寸');
    // The one upstream request is the start-up look at the provider's model list.
    expect(w.tuzi.requests.map((r) => r.route)).toEqual(['models']);
    expect(w.discord.messages(w.channelId)).toHaveLength(before);
  });

  it('an attachment that is not an image: the public deferral is withdrawn, the member told privately, nothing sent', async () => {
    w = await world();
    await w.app!.modelsChecked();
    const h = await sora(
      w,
      w.users.alice,
      { prompt: 'a fake picture', image: 'fake.png' },
      { attachments: [{ filename: 'fake.png', contentType: 'image/png', data: Buffer.from('not an image at all') }] },
    );
    // Deferred publicly before the image was read…
    expect(h.ack?.type).toBe(5);
    const entries = w.discord.timeline(w.channelId).filter((e) => e.messageId === h.originalMessageId);
    expect(entries[0]).toMatchObject({ kind: 'create', ephemeral: false, loading: true });
    // …and that "thinking" reply is removed once the image turns out unreadable; the reason goes to the member alone.
    expect(entries.at(-1)?.kind).toBe('delete');
    const notices = w.discord
      .messages(w.channelId, { includeEphemeral: true })
      .filter((m) => m.flags === 64 && m.content === t('en-US', 'sora.image_unreadable'));
    expect(notices).toHaveLength(1);
    expect(w.tuzi.requests.map((r) => r.route)).toEqual(['models']);
    expect(w.app!.jobs.get(1)).toMatchObject({ status: 'submit_failed', errorCode: 'image_unreadable' });
  });

  it('shows a failed job with the upstream reason', async () => {
    w = await world();
    w.tuzi.injectFault({
      kind: 'job-failure',
      atProgress: 92,
      code: 'content_policy_violation',
      message: 'The video was blocked by moderation.',
    });
    const h = await sora(w, w.users.alice, { prompt: 'something' });
    await w.advanceUntil(() => w.app!.jobs.get(1)?.status === 'failed', 10 * MINUTE);
    await w.settle();
    const reply = w.discord.messages(w.channelId).find((m) => m.id === h.originalMessageId)!;
    expect(embedText(reply)).toContain('The video was blocked by moderation.');
    expect(embedText(reply)).toContain('content_policy_violation');
    expect(videoMessages(w)).toHaveLength(0);
  });

  it('estimates the time left from the run, not from the queue before it', async () => {
    w = await world();
    // Four minutes in the provider's queue, then two minutes of steady progress.
    w.tuzi.setJobPlan({ durationMs: 6 * MINUTE, queuedFraction: 2 / 3, curve: 'linear' });
    const h = await sora(w, w.users.alice, { prompt: 'a long queue first' });
    await w.advance(5 * MINUTE + 10_000, 1_000);
    const end = [...w.tuzi.jobs.values()][0]!.createdAt + 6 * MINUTE;
    const shown = w.discord
      .timeline(w.channelId)
      .filter((e) => e.messageId === h.originalMessageId)
      .map((e) => ({ at: e.at, eta: /about (\d+) s/.exec(embedText(e))?.[1] }))
      .filter((e) => e.eta !== undefined)
      .at(-1);
    // Counted from submission, half-way through the run would read "about 5 min".
    expect(shown).toBeDefined();
    expect(Math.abs(Number(shown!.eta) * 1000 - (end - shown!.at))).toBeLessThanOrEqual(15_000);
  });

  it('rides out a flaky upstream: 5xx, 429 and resets never fail the job', async () => {
    w = await world();
    w.tuzi.injectFault({ kind: 'http-error', route: 'retrieve', status: 503, times: 3 });
    w.tuzi.injectFault({ kind: 'http-error', route: 'retrieve', status: 429, retryAfter: '5' });
    w.tuzi.injectFault({ kind: 'reset', route: 'retrieve', times: 2 });
    w.tuzi.injectFault({ kind: 'truncate', route: ['video', 'content'] });
    await sora(w, w.users.alice, { prompt: 'flaky' });
    await w.advanceUntil(() => videoMessages(w).length === 1, 15 * MINUTE);
    expect(creates(w)).toHaveLength(1);
    expect(w.app!.jobs.get(1)?.status).toBe('delivered');
  });

  it('posts a link when the video is over the upload limit', async () => {
    w = await world();
    // Over the channel route's 10 MiB (a tier-0 server), and not a video any re-encode could read.
    w.tuzi.injectFault({ kind: 'oversized', route: ['video', 'content'], bytes: 12 * 1024 * 1024, times: Infinity });
    await sora(w, w.users.alice, { prompt: 'big' });
    await w.advanceUntil(() => w.app!.jobs.get(1)?.status === 'delivered', 10 * MINUTE);
    const job = w.app!.jobs.get(1)!;
    expect(job.deliveryMode).toBe('link');
    const posted = w.discord.messages(w.channelId).find((m) => m.id === job.deliveredMessageId)!;
    expect(posted.attachments).toHaveLength(0);
    expect(posted.content).toContain(job.videoUrl!);
    expect(posted.content).toContain('larger than this channel’s upload limit (10.0 MiB)');
    expect(videoMessages(w)).toHaveLength(0);
  });

  it('keeps showing progress after the 15-minute token expires, through the channel route', async () => {
    w = await world({ tuzi: { jobDurationMs: 25 * MINUTE } });
    const h = await sora(w, w.users.alice, { prompt: 'long one' });
    await w.advanceUntil(() => videoMessages(w).length === 1, 40 * MINUTE, 5_000);
    const late = w.discord
      .timeline(w.channelId)
      .filter((e) => e.messageId === h.originalMessageId && e.kind === 'edit' && e.at - h.createdAt > 15 * MINUTE);
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((e) => e.via === 'channel')).toBe(true);
    const stats = w.discord.requests.filter((r) => r.status === 401);
    expect(stats).toHaveLength(0);
    expect(videoMessages(w)).toHaveLength(1);
  });

  it('when the reply is deleted mid-job, the video still arrives once, mentioning the member', async () => {
    w = await world();
    const h = await sora(w, w.users.alice, { prompt: 'deleted' });
    await w.advance(20_000);
    w.discord.deleteMessage(w.channelId, h.originalMessageId!);
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    await w.advance(30_000);
    expect(videoMessages(w)).toHaveLength(1);
    expect(videoMessages(w)[0]!.content).toContain(`<@${w.users.alice}>`);
    expect(w.app!.jobs.get(1)?.messageGone).toBe(true);
  });

  it('acknowledges a lone /sora with its first reply itself, a burst with deferrals; every reply shows its job', async () => {
    w = await world({ env: { DEFAULT_MAX_ACTIVE: '0' } });
    const lone = await sora(w, w.users.alice, { prompt: 'a lone fox' });
    // One request: the callback carries the first reply (public), and Discord's answer names the message.
    expect(lone.ack?.type).toBe(4);
    const entries = w.discord.timeline(w.channelId).filter((e) => e.messageId === lone.originalMessageId);
    expect(entries[0]).toMatchObject({ kind: 'create', via: 'callback', loading: false, ephemeral: false });
    expect(embedText(entries[0]!)).toContain('a lone fox');
    expect(w.app!.jobs.get(1)?.messageId).toBe(lone.originalMessageId);

    const burst = await atOnce(10, 'burst');
    // While one acknowledgement is pending the others defer (the cheapest answer), so none waits on a reply's rendering.
    const types = burst.map((h) => h.ack?.type);
    expect(types.filter((t) => t === 5).length).toBeGreaterThanOrEqual(9);
    // Whichever way each was acknowledged, its reply ends showing its own job, and the job knows its message.
    for (const [i, h] of burst.entries()) {
      const reply = w.discord.messages(w.channelId).find((m) => m.id === h.originalMessageId);
      expect(embedText(reply!)).toContain(`burst ${i}`);
      expect(w.app!.jobs.getByInteraction(h.id)?.messageId).toBe(h.originalMessageId);
    }
  });

  it.each([20, 50])('%i members at once: one POST and one video each, no duplicates', async (n) => {
    w = await world({ env: { DEFAULT_MAX_ACTIVE: '0' } });
    await atOnce(n, 'video');
    await w.advanceUntil(() => videoMessages(w).length === n, 15 * MINUTE);
    await w.advance(30_000);
    expect(creates(w)).toHaveLength(n);
    expect(videoMessages(w)).toHaveLength(n);
    expect(new Set(videoMessages(w).map((m) => m.content)).size).toBe(n);
  });
});

import { createHash } from 'node:crypto';
function createHashHex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
