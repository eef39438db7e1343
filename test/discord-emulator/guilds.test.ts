import {
  AttachmentBuilder,
  ChannelType,
  DiscordAPIError,
  Events,
  PermissionFlagsBits,
  PermissionsBitField,
  Routes,
  type APIMessage,
  type ChatInputCommandInteraction,
  type Client,
  type GuildTextBasedChannel,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { caught, harness, type Harness } from './helpers.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

const MiB = 1024 * 1024;
const P = PermissionFlagsBits;

function apiError(err: unknown): DiscordAPIError {
  expect(err).toBeInstanceOf(DiscordAPIError);
  return err as DiscordAPIError;
}

function fileForm(bytes: number[], content = 'video'): FormData {
  const form = new FormData();
  form.append(
    'payload_json',
    JSON.stringify({ content, attachments: bytes.map((_, i) => ({ id: String(i), filename: `clip${i}.mp4` })) }),
  );
  bytes.forEach((n, i) =>
    form.append(`files[${i}]`, new Blob([Buffer.alloc(n)], { type: 'video/mp4' }), `clip${i}.mp4`),
  );
  return form;
}

async function command(x: Harness, client: Client, channelId: string, extra: { userId?: string } = {}) {
  const arriving = x.next<ChatInputCommandInteraction>(client);
  const handle = x.discord.invokeSlashCommand({
    guildId: x.guild.id,
    channelId,
    userId: extra.userId ?? x.user.id,
    name: 'sora',
    options: { prompt: 'p' },
  });
  return { handle, interaction: await arriving };
}

describe('Discord emulator: boost tiers and Nitro upload limits', () => {
  it('reports premium_tier in GUILD_CREATE and applies its per-file limit on channel routes', async () => {
    h = await harness();
    const tiers = ([0, 1, 2, 3] as const).map((t) => h!.discord.createGuild({ name: `tier ${t}`, premiumTier: t }));
    expect(tiers.map((g) => g.uploadLimitBytes / MiB)).toEqual([10, 10, 50, 100]);
    const client = await h.login();
    expect(tiers.map((g) => client.guilds.cache.get(g.id)?.premiumTier)).toEqual([0, 1, 2, 3]);

    const tier0 = tiers[0]!.channels[0]!.id;
    const post = (channelId: string, form: FormData) =>
      client.rest.post(Routes.channelMessages(channelId), { body: form, passThroughBody: true });
    const over = apiError(await caught(post(tier0, fileForm([10 * MiB + 1]))));
    expect([over.status, over.code]).toEqual([413, 40005]);
    // The limit is per file: two files of 6 MiB fit in a 10 MiB guild.
    const two = (await post(tier0, fileForm([6 * MiB, 6 * MiB]))) as APIMessage;
    expect(two.attachments.map((a) => a.size)).toEqual([6 * MiB, 6 * MiB]);
    // Level 2 takes the 10 MiB + 1 file.
    await post(tiers[2]!.channels[0]!.id, fileForm([10 * MiB + 1]));
  });

  it('follows boosts coming and going: GUILD_UPDATE, and the new limit', async () => {
    h = await harness();
    const client = await h.login();
    const updated = new Promise<number>((resolve) =>
      client.once(Events.GuildUpdate, (_old, g) => resolve(g.premiumTier)),
    );
    h.discord.setGuildPremiumTier(h.guild.id, 2);
    expect(await updated).toBe(2);
    expect(h.guild.uploadLimitBytes).toBe(50 * MiB);
    await client.rest.post(Routes.channelMessages(h.channel.id), { body: fileForm([20 * MiB]), passThroughBody: true });
    h.discord.setGuildPremiumTier(h.guild.id, 0);
    const err = apiError(
      await caught(
        client.rest.post(Routes.channelMessages(h.channel.id), { body: fileForm([20 * MiB]), passThroughBody: true }),
      ),
    );
    expect(err.code).toBe(40005);
  });

  it("gives a Nitro member's interaction a 500 MiB attachment_size_limit in a tier-0 guild; channel routes keep 10 MiB", async () => {
    h = await harness();
    const nitro = h.discord.createUser({ username: 'nitro', premiumType: 2 });
    const client = await h.login();
    const { interaction } = await command(h, client, h.channel.id, { userId: nitro.id });
    expect(interaction.attachmentSizeLimit).toBe(500 * MiB);
    await interaction.deferReply();
    const big = new AttachmentBuilder(Buffer.alloc(12 * MiB), { name: 'big.mp4' });
    const edited = await interaction.editReply({ files: [big] });
    expect(edited.attachments.first()?.size).toBe(12 * MiB);
    const viaChannel = apiError(
      await caught(
        client.rest.post(Routes.channelMessages(h.channel.id), { body: fileForm([12 * MiB]), passThroughBody: true }),
      ),
    );
    expect([viaChannel.status, viaChannel.code]).toEqual([413, 40005]);
    // Without Nitro the interaction carries the guild's limit.
    const { interaction: plain } = await command(h, client, h.channel.id);
    expect(plain.attachmentSizeLimit).toBe(10 * MiB);
  });
});

describe('Discord emulator: channel permission overwrites', () => {
  it("computes app_permissions the documented way: @everyone, then roles, then the member's overwrite", async () => {
    h = await harness();
    const g = h.guild;
    const channel = h.discord.createChannel(g.id, {
      name: 'staff',
      permissionOverwrites: [
        { id: g.everyoneRoleId, type: 'role', deny: String(P.ViewChannel | P.SendMessages) },
        // The bot's role gets the channel back…
        { id: g.botRoleId, type: 'role', allow: String(P.ViewChannel | P.SendMessages) },
        // …but the bot itself may not attach files here.
        { id: h.discord.botUserId, type: 'member', deny: String(P.AttachFiles) },
      ],
    });
    const client = await h.login();
    const expected = BigInt(h.discord.botPermissionsIn(channel.id));
    expect(expected & P.ViewChannel).toBe(P.ViewChannel);
    expect(expected & P.SendMessages).toBe(P.SendMessages);
    expect(expected & P.AttachFiles).toBe(0n);
    const cached = client.channels.cache.get(channel.id) as GuildTextBasedChannel;
    expect(cached.permissionsFor(client.user!)?.bitfield).toBe(expected);

    const { interaction } = await command(h, client, channel.id);
    expect(interaction.appPermissions.bitfield).toBe(expected);
    // The member is denied by @everyone: their `permissions` say so too.
    expect(interaction.memberPermissions?.has(P.ViewChannel)).toBe(false);

    await client.rest.post(Routes.channelMessages(channel.id), { body: { content: 'text is fine' } });
    const noFiles = apiError(
      await caught(
        client.rest.post(Routes.channelMessages(channel.id), { body: fileForm([10]), passThroughBody: true }),
      ),
    );
    expect([noFiles.status, noFiles.code]).toEqual([403, 50013]);
  });

  it('applies overwrites changed at run time and tells the bot (CHANNEL_UPDATE)', async () => {
    h = await harness();
    const client = await h.login();
    const updated = new Promise<void>((resolve) => client.once(Events.ChannelUpdate, () => resolve()));
    h.discord.setPermissionOverwrite(h.channel.id, {
      id: h.guild.botRoleId,
      type: 'role',
      deny: String(P.ViewChannel),
    });
    await updated;
    const cached = client.channels.cache.get(h.channel.id) as GuildTextBasedChannel;
    expect(cached.permissionsFor(client.user!)?.has(P.ViewChannel)).toBe(false);
    const hidden = apiError(
      await caught(client.rest.post(Routes.channelMessages(h.channel.id), { body: { content: 'x' } })),
    );
    expect(hidden.code).toBe(50001);
    h.discord.deletePermissionOverwrite(h.channel.id, h.guild.botRoleId);
    await client.rest.post(Routes.channelMessages(h.channel.id), { body: { content: 'back' } });
  });

  it('without Embed Links: an embed-only post is refused (50013), otherwise embeds are dropped silently', async () => {
    h = await harness();
    const channel = h.discord.createChannel(h.guild.id, {
      name: 'no-embeds',
      permissionOverwrites: [{ id: h.guild.botRoleId, type: 'role', deny: String(P.EmbedLinks) }],
    });
    const client = await h.login();
    const post = (body: object) =>
      client.rest.post(Routes.channelMessages(channel.id), { body }) as Promise<APIMessage>;
    const embedOnly = apiError(await caught(post({ embeds: [{ title: 'progress' }] })));
    expect([embedOnly.status, embedOnly.code]).toEqual([403, 50013]);
    const withText = await post({ content: 'progress', embeds: [{ title: 'hidden' }] });
    expect(withText.embeds).toEqual([]);
    expect(h.discord.message(withText.id)?.embeds).toEqual([]);
    // An edit's embeds are ignored; with nothing else left the message would be empty (50006).
    const edited = (await client.rest.patch(Routes.channelMessage(channel.id, withText.id), {
      body: { embeds: [{ title: 'again' }] },
    })) as APIMessage;
    expect(edited.embeds).toEqual([]);
    expect(edited.content).toBe('progress');
    const empty = apiError(
      await caught(
        client.rest.patch(Routes.channelMessage(channel.id, withText.id), {
          body: { content: '', embeds: [{ title: 'x' }] },
        }),
      ),
    );
    expect(empty.code).toBe(50006);
    // The interaction webhook is not bound by the channel's permissions.
    const { interaction } = await command(h, client, channel.id);
    await interaction.reply({ embeds: [{ title: 'shown' }] });
    expect((await interaction.fetchReply()).embeds[0]?.title).toBe('shown');
  });

  it('without Read Message History: history comes back empty and a single message is 50001', async () => {
    h = await harness();
    const client = await h.login();
    const m = (await client.rest.post(Routes.channelMessages(h.channel.id), { body: { content: 'x' } })) as APIMessage;
    h.discord.setPermissionOverwrite(h.channel.id, {
      id: h.discord.botUserId,
      type: 'member',
      deny: String(P.ReadMessageHistory),
    });
    expect(await client.rest.get(Routes.channelMessages(h.channel.id))).toEqual([]);
    const single = apiError(await caught(client.rest.get(Routes.channelMessage(h.channel.id, m.id))));
    expect([single.status, single.code]).toEqual([403, 50001]);
    const reply = apiError(
      await caught(
        client.rest.post(Routes.channelMessages(h.channel.id), {
          body: { content: 'reply', message_reference: { message_id: m.id } },
        }),
      ),
    );
    expect(reply.code).toBe(50013);
    // Posting needs no history.
    await client.rest.post(Routes.channelMessages(h.channel.id), { body: { content: 'still posts' } });
  });
});

describe('Discord emulator: threads', () => {
  it('lists active threads in GUILD_CREATE and lets a command run in one (channel with thread_metadata)', async () => {
    h = await harness();
    const active = h.discord.createThread(h.channel.id, { name: 'renders' });
    const archived = h.discord.createThread(h.channel.id, { name: 'old', archived: true });
    const client = await h.login();
    const thread = client.channels.cache.get(active.id);
    expect(thread?.type).toBe(ChannelType.PublicThread);
    expect(thread?.isThread() && thread.archived).toBe(false);
    expect(client.channels.cache.has(archived.id)).toBe(false);

    const { handle, interaction } = await command(h, client, active.id);
    expect(handle.payload.channel).toMatchObject({
      id: active.id,
      type: 11,
      parent_id: h.channel.id,
      thread_metadata: { archived: false, locked: false, auto_archive_duration: 1440 },
    });
    expect(interaction.channel?.isThread()).toBe(true);
    expect(interaction.appPermissions.has(P.SendMessagesInThreads)).toBe(true);
    await interaction.reply('in the thread');
    expect(h.discord.messages(active.id).map((m) => m.content)).toEqual(['in the thread']);
    // Nobody can use a command in an archived thread.
    expect(() =>
      h!.discord.invokeSlashCommand({
        guildId: h!.guild.id,
        channelId: archived.id,
        userId: h!.user.id,
        name: 'sora',
        options: { prompt: 'p' },
      }),
    ).toThrow(/archived/);
  });

  it('refuses edits in an archived thread (400 / 50083); a new message unarchives it (THREAD_UPDATE)', async () => {
    h = await harness();
    const t = h.discord.createThread(h.channel.id);
    const client = await h.login();
    const { interaction } = await command(h, client, t.id);
    await interaction.deferReply();
    const progress = (await client.rest.post(Routes.channelMessages(t.id), { body: { content: '10%' } })) as APIMessage;
    const archivedEvent = new Promise<boolean>((resolve) =>
      client.once(Events.ThreadUpdate, (_old, thread) => resolve(thread.archived ?? false)),
    );
    h.discord.updateThread(t.id, { archived: true });
    expect(await archivedEvent).toBe(true);

    const viaChannel = apiError(
      await caught(client.rest.patch(Routes.channelMessage(t.id, progress.id), { body: { content: '20%' } })),
    );
    expect([viaChannel.status, viaChannel.code, viaChannel.message]).toEqual([400, 50083, 'Thread is archived']);
    const viaWebhook = apiError(await caught(interaction.editReply('done')));
    expect([viaWebhook.status, viaWebhook.code]).toEqual([400, 50083]);

    const unarchived = new Promise<boolean>((resolve) =>
      client.once(Events.ThreadUpdate, (_old, thread) => resolve(thread.archived ?? true)),
    );
    await client.rest.post(Routes.channelMessages(t.id), { body: { content: 'the video, in a new message' } });
    expect(await unarchived).toBe(false);
    expect(h.discord.threadState(t.id).archived).toBe(false);
    await client.rest.patch(Routes.channelMessage(t.id, progress.id), { body: { content: 'edits work again' } });
  });

  it('keeps a bot without Manage Threads out of a locked thread (403 / 50083); with it, a post unarchives', async () => {
    h = await harness();
    const t = h.discord.createThread(h.channel.id);
    const client = await h.login();
    const m = (await client.rest.post(Routes.channelMessages(t.id), { body: { content: 'x' } })) as APIMessage;
    h.discord.updateThread(t.id, { archived: true, locked: true });
    const post = () => client.rest.post(Routes.channelMessages(t.id), { body: { content: 'y' } });
    const refused = apiError(await caught(post()));
    expect([refused.status, refused.code]).toEqual([403, 50083]);
    const unarchive = apiError(await caught(client.rest.patch(Routes.channel(t.id), { body: { archived: false } })));
    expect(unarchive.code).toBe(50013);
    // Deleting in a locked archived thread also needs Manage Threads.
    expect(apiError(await caught(client.rest.delete(Routes.channelMessage(t.id, m.id)))).code).toBe(50083);

    h.discord.setPermissionOverwrite(h.channel.id, {
      id: h.discord.botUserId,
      type: 'member',
      allow: String(P.ManageThreads),
    });
    await post();
    expect(h.discord.threadState(t.id)).toMatchObject({ archived: false, locked: true });
  });

  it('archives a thread after auto_archive_duration without a new message (edits are no activity)', async () => {
    const clock = new ManualClock();
    h = await harness({ clock });
    const t = h.discord.createThread(h.channel.id, { autoArchiveDurationMinutes: 60 });
    const client = await h.login();
    const m = (await client.rest.post(Routes.channelMessages(t.id), { body: { content: '0%' } })) as APIMessage;
    await clock.advance(40 * 60_000);
    await client.rest.patch(Routes.channelMessage(t.id, m.id), { body: { content: '50%' } });
    await clock.advance(21 * 60_000);
    const err = apiError(
      await caught(client.rest.patch(Routes.channelMessage(t.id, m.id), { body: { content: '90%' } })),
    );
    expect(err.code).toBe(50083);
    expect(h.discord.threadState(t.id)).toMatchObject({ archived: true, locked: false });
    // The bot may unarchive an unlocked thread it is in.
    await client.rest.patch(Routes.channel(t.id), { body: { archived: false } });
    await client.rest.patch(Routes.channelMessage(t.id, m.id), { body: { content: '100%' } });
  });

  it('needs Send Messages in Threads (not Send Messages) to post in a thread; private threads only to members', async () => {
    h = await harness();
    const t = h.discord.createThread(h.channel.id);
    const secret = h.discord.createThread(h.channel.id, { type: 12, botIsMember: false });
    h.discord.setPermissionOverwrite(h.channel.id, {
      id: h.guild.botRoleId,
      type: 'role',
      deny: String(P.SendMessagesInThreads),
    });
    const client = await h.login();
    expect(client.channels.cache.has(secret.id)).toBe(false);
    await client.rest.post(Routes.channelMessages(h.channel.id), { body: { content: 'parent is fine' } });
    const err = apiError(await caught(client.rest.post(Routes.channelMessages(t.id), { body: { content: 'x' } })));
    expect(err.code).toBe(50013);
    expect(apiError(await caught(client.rest.get(Routes.channelMessages(secret.id)))).code).toBe(50001);
    expect(new PermissionsBitField(BigInt(h.discord.botPermissionsIn(t.id))).has(P.SendMessagesInThreads)).toBe(false);
  });
});
