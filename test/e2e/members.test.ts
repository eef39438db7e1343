import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Routes } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../emulators/world.js';
import { command, creates, embedText, MINUTE, sora, videoMessages, world } from './helpers.js';

let w: World;
afterEach(async () => {
  await w?.close();
});

const ephemeralText = (id: string | null) =>
  w.discord.messages(w.channelId, { includeEphemeral: true }).find((m) => m.id === id);

describe('moderators and members (end to end)', () => {
  it('/sora-config set changes the upstream request; locks override the member', async () => {
    w = await world();
    const set = await command(w, w.users.mod, 'sora-config', {
      subcommand: 'set',
      options: { private: true, lock_private: true, watermark: true },
    });
    expect(ephemeralText(set.originalMessageId)?.flags).toBe(64);
    await sora(w, w.users.alice, { prompt: 'a', private: false });
    expect(creates(w)[0]!.fields).toMatchObject({ private: 'true', watermark: 'true' });
    expect(w.app!.jobs.get(1)!.overrides).toEqual(['private']);
    const reply = w.discord.messages(w.channelId).find((m) => m.id === w.app!.jobs.get(1)!.messageId)!;
    expect(embedText(reply)).toContain('Server setting applied: private.');
  });

  it('refuses /sora-config without Manage Server even when the command is visible, and changes nothing', async () => {
    w = await world();
    const h = await command(w, w.users.alice, 'sora-config', {
      subcommand: 'set',
      options: { daily_limit: 1 },
      permissionOverride: true,
    });
    const reply = ephemeralText(h.originalMessageId)!;
    expect(reply.flags).toBe(64);
    expect(reply.content).toContain('Manage Server');
    expect(w.app!.jobs.get(1)).toBeUndefined();
    await sora(w, w.users.alice, { prompt: 'one' });
    await sora(w, w.users.alice, { prompt: 'two' });
    expect(creates(w)).toHaveLength(2);
  });

  it('max_active 2: 20 simultaneous /sora from one member start exactly 2 jobs', async () => {
    w = await world();
    await command(w, w.users.mod, 'sora-config', { subcommand: 'set', options: { max_active: 2 } });
    const handles = Array.from({ length: 20 }, (_, i) =>
      w.discord.invokeSlashCommand({
        guildId: w.guildId,
        channelId: w.channelId,
        userId: w.users.alice,
        name: 'sora',
        options: { prompt: `burst ${i}` },
      }),
    );
    await Promise.all(handles.map((h) => h.acknowledged()));
    await w.settle();
    expect(creates(w)).toHaveLength(2);
    const refusals = handles.filter((h) => ephemeralText(h.originalMessageId)?.content.includes('limit 2 at once'));
    expect(refusals).toHaveLength(18);
  });

  it('the daily limit resets at UTC midnight', async () => {
    w = await world({ env: { DEFAULT_DAILY_LIMIT: '1', DEFAULT_MAX_ACTIVE: '0' } });
    await sora(w, w.users.alice, { prompt: 'today' });
    const refused = await sora(w, w.users.alice, { prompt: 'again' });
    expect(ephemeralText(refused.originalMessageId)?.content).toContain('today’s limit of 1');
    const now = w.clock.now();
    const nextMidnight = Date.UTC(
      new Date(now).getUTCFullYear(),
      new Date(now).getUTCMonth(),
      new Date(now).getUTCDate() + 1,
    );
    await w.advance(nextMidnight - now + 1_000, 30 * MINUTE);
    await sora(w, w.users.alice, { prompt: 'tomorrow' });
    expect(creates(w)).toHaveLength(2);
  });

  it('zh-CN member: the whole happy path in Chinese', async () => {
    w = await world();
    const h = await sora(w, w.users.li, { prompt: '一只柯基在日落时冲浪' }, { locale: 'zh-CN' });
    await w.advance(30_000);
    const reply = w.discord.messages(w.channelId).find((m) => m.id === h.originalMessageId)!;
    expect(embedText(reply)).toContain('Sora 视频');
    expect(embedText(reply)).toMatch(/排队中|生成中/);
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    expect(videoMessages(w)[0]!.content).toContain('你的视频已生成');
    expect(JSON.stringify(videoMessages(w)[0]!.components)).toContain('重新生成');
  });

  it('buttons work after a restart: Re-roll charges the clicker, Details answers privately', async () => {
    w = await world({ env: { DEFAULT_MAX_ACTIVE: '0' } });
    await sora(w, w.users.alice, { prompt: 'original', model: 'sora-2-pro', duration: 15 });
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    const video = videoMessages(w)[0]!;
    await w.stopBot();
    await w.startBot();
    const reroll = w.discord.clickButton({ messageId: video.id, customId: 'sora:reroll:1', userId: w.users.li });
    await reroll.acknowledged();
    await w.settle();
    expect(creates(w)).toHaveLength(2);
    expect(creates(w)[1]!.fields).toMatchObject({ prompt: 'original', model: 'sora-2-pro', seconds: '15' });
    expect(w.app!.jobs.get(2)!.userId).toBe(w.users.li);
    const details = w.discord.clickButton({ messageId: video.id, customId: 'sora:details:1', userId: w.users.li });
    await details.acknowledged();
    await w.settle();
    expect(ephemeralText(details.originalMessageId)?.flags).toBe(64);
  });

  it('Re-roll resends the reference image while it is kept, and asks for it once it was removed', async () => {
    w = await world({ env: { DEFAULT_MAX_ACTIVE: '0', IMAGE_RETENTION_DAYS: '7' } });
    const png = fs.readFileSync(new URL('../../emulators/fixtures/reference.png', import.meta.url));
    await sora(
      w,
      w.users.alice,
      { prompt: 'from a picture', image: 'ref.png' },
      { attachments: [{ filename: 'ref.png', contentType: 'image/png', data: png }] },
    );
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    const video = videoMessages(w)[0]!;
    const first = w.discord.clickButton({ messageId: video.id, customId: 'sora:reroll:1', userId: w.users.alice });
    await first.acknowledged();
    await w.settle();
    expect(creates(w)).toHaveLength(2);
    const resent = creates(w)[1]!.files.find((f) => f.name === 'input_reference');
    expect(resent?.sha256).toBe(createHash('sha256').update(png).digest('hex'));

    // Eight days later the sweep has removed both jobs' images.
    await w.advance(8 * 24 * 60 * MINUTE, 6 * 60 * MINUTE);
    expect(w.app!.jobs.get(1)!.imagePath).toBeNull();
    expect(fs.readdirSync(path.join(w.dataDir, 'images'))).toEqual([]);
    const late = w.discord.clickButton({ messageId: video.id, customId: 'sora:reroll:1', userId: w.users.li });
    await late.acknowledged();
    await w.settle();
    expect(ephemeralText(late.originalMessageId)?.flags).toBe(64);
    expect(ephemeralText(late.originalMessageId)?.content).toContain('7 天');
    expect(creates(w)).toHaveLength(2);
  });

  it('Use as character: the modal submits a job with character_from_task', async () => {
    w = await world({ env: { DEFAULT_MAX_ACTIVE: '0' } });
    await sora(w, w.users.alice, { prompt: 'my cat' });
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    const video = videoMessages(w)[0]!;
    const click = w.discord.clickButton({ messageId: video.id, customId: 'sora:character:1', userId: w.users.alice });
    await click.acknowledged();
    expect(click.ack?.type).toBe(9);
    const submit = w.discord.submitModal({
      customId: 'sora:charmodal:1',
      userId: w.users.alice,
      fields: { prompt: 'the cat on the moon', timestamps: '1,3' },
      from: click,
    });
    await submit.acknowledged();
    await w.settle();
    expect(creates(w)[1]!.fields).toMatchObject({
      prompt: 'the cat on the moon',
      character_from_task: w.app!.jobs.get(1)!.upstreamId,
      character_timestamps: '1,3',
    });
  });

  it('autocomplete offers the member’s own finished videos, filtered', async () => {
    w = await world({ env: { DEFAULT_MAX_ACTIVE: '0' } });
    await sora(w, w.users.alice, { prompt: 'red fox' });
    await sora(w, w.users.alice, { prompt: 'blue whale' });
    await w.advanceUntil(() => videoMessages(w).length === 2, 10 * MINUTE);
    const ac = w.discord.autocomplete({
      guildId: w.guildId,
      channelId: w.channelId,
      userId: w.users.alice,
      name: 'sora',
      options: { prompt: 'x', character_from_task: 'fox' },
      focused: 'character_from_task',
    });
    const choices = await ac.choices();
    expect(choices).toHaveLength(1);
    expect(choices[0]!.value).toBe(w.app!.jobs.get(1)!.upstreamId);
    const other = w.discord.autocomplete({
      guildId: w.guildId,
      channelId: w.channelId,
      userId: w.users.li,
      name: 'sora',
      options: { prompt: 'x', character_from_task: '' },
      focused: 'character_from_task',
    });
    expect(await other.choices()).toEqual([]);
  });

  it('/sora-jobs lists the member’s jobs privately', async () => {
    w = await world({ env: { DEFAULT_MAX_ACTIVE: '0' } });
    await sora(w, w.users.alice, { prompt: 'first' });
    const h = await command(w, w.users.alice, 'sora-jobs');
    const list = ephemeralText(h.originalMessageId)!;
    expect(list.flags).toBe(64);
    expect(embedText(list)).toContain('first');
  });

  it('/sora-jobs pages with buttons', async () => {
    w = await world({ env: { DEFAULT_MAX_ACTIVE: '0' } });
    for (let i = 0; i < 12; i++) await sora(w, w.users.alice, { prompt: `job ${i}` });
    const h = await command(w, w.users.alice, 'sora-jobs');
    const first = ephemeralText(h.originalMessageId)!;
    expect(embedText(first)).toContain('Page 1 of 2');
    const next = w.discord.clickButton({
      messageId: first.id,
      customId: `jobs:page:${w.users.alice}:1`,
      userId: w.users.alice,
    });
    await next.acknowledged();
    await w.settle();
    expect(next.ack?.type).toBe(7);
    expect(embedText(ephemeralText(h.originalMessageId)!)).toContain('Page 2 of 2');
  });

  it('/sora-config show lists settings, today’s usage and who changed what', async () => {
    w = await world();
    await command(w, w.users.mod, 'sora-config', {
      subcommand: 'set',
      options: { daily_limit: 3, allowed_models: 'sora-2' },
    });
    await sora(w, w.users.alice, { prompt: 'counted' });
    const show = await command(w, w.users.mod, 'sora-config', { subcommand: 'show' });
    const text = embedText(ephemeralText(show.originalMessageId)!);
    expect(text).toContain('Videos per member per UTC day: **3**');
    expect(text).toContain('1 video(s) started, 1 in progress');
    expect(text).toContain(`<@${w.users.mod}>`);
    expect(text).toContain('dailyLimit=3');
  });

  it('a button this bot does not know (an older version’s) is answered privately, in the member’s language', async () => {
    w = await world();
    // A message an earlier version of the bot left in the channel, with a button this version dropped.
    const old = (await w.app!.client.rest.post(Routes.channelMessages(w.channelId), {
      body: {
        content: 'an old message',
        components: [{ type: 1, components: [{ type: 2, style: 2, label: 'Remix', custom_id: 'sora:remix:1' }] }],
      },
    })) as { id: string };
    const click = w.discord.clickButton({ messageId: old.id, customId: 'sora:remix:1', userId: w.users.li });
    await click.acknowledged();
    await w.settle();
    const answer = w.discord
      .messages(w.channelId, { includeEphemeral: true })
      .find((m) => m.flags === 64 && m.content.includes('旧版本'));
    expect(answer).toBeDefined();
    expect(creates(w)).toHaveLength(0);
  });
});
