import { createHash } from 'node:crypto';
import {
  AttachmentBuilder,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  MessageFlags,
  PermissionFlagsBits,
  Routes,
  type APIMessage,
  type ChatInputCommandInteraction,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { SORA_COMMAND, caught, harness, type Harness } from './helpers.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

function invoke(x: Harness, extra: Partial<Parameters<Harness['discord']['invokeSlashCommand']>[0]> = {}) {
  return x.discord.invokeSlashCommand({
    guildId: x.guild.id,
    channelId: x.channel.id,
    userId: x.user.id,
    name: 'sora',
    options: { prompt: 'a corgi surfing' },
    ...extra,
  });
}

function apiError(err: unknown): DiscordAPIError {
  expect(err).toBeInstanceOf(DiscordAPIError);
  return err as DiscordAPIError;
}

describe('Discord emulator: interactions', () => {
  it('delivers a slash command with typed options and an attachment as a ChatInputCommandInteraction', async () => {
    h = await harness();
    const client = await h.login();
    const png = Buffer.concat([
      Buffer.from('89504e470d0a1a0a0000000d49484452000000400000003008060000', 'hex'),
      Buffer.alloc(64),
    ]);
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const handle = invoke(h, {
      options: { prompt: 'a corgi surfing', seconds: 8, private: true, image: 'ref image.png' },
      attachments: [{ filename: 'ref image.png', contentType: 'image/png', data: png }],
      locale: 'zh-CN',
      attachmentSizeLimit: 25 * 1024 * 1024,
      permissions: (PermissionFlagsBits.ViewChannel | PermissionFlagsBits.ManageGuild).toString(),
    });
    const interaction = await arriving;

    expect(interaction.isChatInputCommand()).toBe(true);
    expect(interaction.id).toBe(handle.id);
    expect(interaction.id).toMatch(/^\d{17,19}$/);
    expect(interaction.commandName).toBe('sora');
    expect(interaction.options.getString('prompt')).toBe('a corgi surfing');
    expect(interaction.options.getInteger('seconds')).toBe(8);
    expect(interaction.options.getBoolean('private')).toBe(true);
    expect(interaction.locale).toBe('zh-CN');
    expect(interaction.guildLocale).toBe('en-US');
    expect(interaction.attachmentSizeLimit).toBe(25 * 1024 * 1024);
    expect(interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)).toBe(true);
    expect(interaction.memberPermissions?.has(PermissionFlagsBits.Administrator)).toBe(false);
    expect(interaction.appPermissions.has(PermissionFlagsBits.AttachFiles)).toBe(true);
    expect(interaction.channelId).toBe(h.channel.id);
    expect(interaction.user.id).toBe(h.user.id);

    const image = interaction.options.getAttachment('image', true);
    expect(image.name).toBe('ref_image.png');
    expect(image.contentType).toBe('image/png');
    expect(image.size).toBe(png.length);
    expect(image.width).toBe(64);
    expect(image.url).toMatch(/\/cdn\/ephemeral-attachments\/.+\?ex=[0-9a-f]+&is=[0-9a-f]+&hm=[0-9a-f]{64}&$/);
    const res = await fetch(image.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
  });

  it('shows a deferral as loading, then the edited reply with its upload, in the timeline', async () => {
    h = await harness();
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const handle = invoke(h);
    const interaction = await arriving;
    await interaction.deferReply();
    expect((await handle.acknowledged()).type).toBe(5);
    const video = Buffer.alloc(4096, 7);
    const reply = await interaction.editReply({
      content: 'Done',
      embeds: [{ title: 'A corgi', description: 'surfing', footer: { text: 'job #1' } }],
      files: [new AttachmentBuilder(video, { name: 'sora.mp4' })],
    });
    expect(reply.id).toBe(handle.originalMessageId);
    expect(reply.attachments.first()?.contentType).toBe('video/mp4');

    const timeline = h.discord.timeline(h.channel.id);
    expect(timeline.map((e) => [e.kind, e.via, e.loading])).toEqual([
      ['create', 'callback', true],
      ['edit', 'webhook', false],
    ]);
    const shown = timeline[1]!;
    expect(shown.content).toBe('Done');
    expect(shown.embeds).toEqual([
      { type: 'rich', title: 'A corgi', description: 'surfing', footer: { text: 'job #1' } },
    ]);
    expect(shown.attachments).toEqual([
      {
        id: expect.any(String),
        filename: 'sora.mp4',
        size: 4096,
        sha256: createHash('sha256').update(video).digest('hex'),
        content_type: 'video/mp4',
      },
    ]);
    const message = h.discord.message(reply.id)!;
    expect(message).toMatchObject({
      channel_id: h.channel.id,
      author: { id: h.discord.botUserId, bot: true },
      webhook_id: h.discord.applicationId,
      type: 20,
      edited_timestamp: null,
      pinned: false,
      tts: false,
      mentions: [],
      mention_roles: [],
      interaction_metadata: { id: handle.id, type: 2, user: { id: h.user.id }, name: 'sora' },
    });
    // A second identical edit is recorded but marked as nothing new for members.
    await interaction.editReply({ content: 'Done' });
    expect(h.discord.timeline(h.channel.id).at(-1)).toMatchObject({ kind: 'edit', changed: false });
  });

  it('refuses a callback that comes after the 3-second window with 10062 (measured on the injected clock)', async () => {
    const clock = new ManualClock();
    h = await harness({ clock });
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const handle = invoke(h);
    const interaction = await arriving;
    await clock.advance(3_001);
    const err = apiError(await caught(interaction.deferReply()));
    expect(err.code).toBe(10062);
    expect(err.status).toBe(404);
    expect(handle.ack).toBeNull();
    expect(handle.callbackErrors).toEqual([{ at: clock.now(), status: 404, code: 10062 }]);
  });

  it('times an interaction and its callback on a real sub-millisecond clock besides the emulator clock (latency figures)', async () => {
    const clock = new ManualClock();
    h = await harness({ clock });
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const before = performance.now();
    const handle = invoke(h);
    const interaction = await arriving;
    await interaction.deferReply();
    const after = performance.now();
    // The injected clock never moved: the acknowledgement took 0 ms on it.
    expect(handle.ack?.afterMs).toBe(0);
    const callback = h.discord.requests.find((r) => r.route === 'callback' && r.interactionId === handle.id);
    expect(callback?.status).toBe(204);
    expect(handle.createdHr).toBeGreaterThanOrEqual(before);
    expect(callback!.arrivedHr).toBeGreaterThan(handle.createdHr);
    expect(callback!.arrivedHr).toBeLessThanOrEqual(after);
  });

  it('answers 50027 on webhook routes once the token expired, while the channel route still edits a public reply', async () => {
    const clock = new ManualClock();
    h = await harness({ clock });
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const handle = invoke(h);
    const interaction = await arriving;
    await interaction.deferReply();
    await interaction.editReply('Queued');
    await clock.advance(15 * 60_000);

    const err = apiError(await caught(interaction.editReply('Too late')));
    expect(err.code).toBe(50027);
    expect(err.status).toBe(401);
    expect(apiError(await caught(interaction.followUp('Also too late'))).code).toBe(50027);

    // A webhook 401 must not cost the bot its token: the bot route still works.
    const edited = (await client.rest.patch(Routes.channelMessage(h.channel.id, handle.originalMessageId!), {
      body: { content: 'Finished' },
    })) as APIMessage;
    expect(edited.content).toBe('Finished');
    expect(edited.edited_timestamp).not.toBeNull();
    expect(h.discord.timeline(h.channel.id).at(-1)).toMatchObject({
      kind: 'edit',
      via: 'channel',
      content: 'Finished',
    });
  });

  it('lets a token expire at a configured lifetime (tokenLifetimeMs)', async () => {
    const clock = new ManualClock();
    h = await harness({ clock, tokenLifetimeMs: 60_000 });
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    invoke(h);
    const interaction = await arriving;
    await interaction.reply('hi');
    await clock.advance(59_999);
    await interaction.editReply('still fine');
    await clock.advance(1);
    expect(apiError(await caught(interaction.editReply('expired'))).code).toBe(50027);
  });

  it('refuses a second acknowledgement with 40060 (two bot processes answering the same interaction)', async () => {
    h = await harness();
    const a = await h.login();
    const b = await h.login();
    const gotA = h.next<ChatInputCommandInteraction>(a);
    const gotB = h.next<ChatInputCommandInteraction>(b);
    const handle = invoke(h);
    expect(handle.deliveredTo).toBe(2);
    const [ia, ib] = await Promise.all([gotA, gotB]);
    const results = await Promise.allSettled([ia.deferReply(), ib.deferReply()]);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const err = apiError(refused[0]!.reason);
    expect(err.code).toBe(40060);
    expect(err.status).toBe(400);
    expect(h.discord.timeline(h.channel.id)).toHaveLength(1);
  });

  it('answers 10008 Unknown Message for a deleted reply, through @original and the channel route', async () => {
    h = await harness();
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const handle = invoke(h);
    const interaction = await arriving;
    await interaction.reply('Working…');
    h.discord.deleteMessage(h.channel.id, handle.originalMessageId!);

    expect(apiError(await caught(interaction.editReply('Done'))).code).toBe(10008);
    expect(apiError(await caught(interaction.fetchReply())).code).toBe(10008);
    const viaChannel = apiError(
      await caught(
        client.rest.patch(Routes.channelMessage(h.channel.id, handle.originalMessageId!), { body: { content: 'x' } }),
      ),
    );
    expect(viaChannel.code).toBe(10008);
    expect(viaChannel.status).toBe(404);
    expect(h.discord.timeline(h.channel.id).map((e) => e.kind)).toEqual(['create', 'delete']);
  });

  it('keeps ephemeral replies out of reach of channel routes (10008) and out of the channel history', async () => {
    h = await harness();
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const handle = invoke(h);
    const interaction = await arriving;
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const reply = await interaction.editReply('Only you');
    expect(reply.flags.has(MessageFlags.Ephemeral)).toBe(true);

    expect(apiError(await caught(client.rest.get(Routes.channelMessage(h.channel.id, reply.id)))).code).toBe(10008);
    expect(
      apiError(
        await caught(client.rest.patch(Routes.channelMessage(h.channel.id, reply.id), { body: { content: 'x' } })),
      ).code,
    ).toBe(10008);
    const history = (await client.rest.get(Routes.channelMessages(h.channel.id))) as APIMessage[];
    expect(history.map((m) => m.id)).not.toContain(reply.id);
    expect(h.discord.messages(h.channel.id)).toHaveLength(0);
    expect(h.discord.timeline(h.channel.id).every((e) => e.ephemeral && e.visibleTo === h!.user.id)).toBe(true);
    // The webhook route is the way to it.
    expect((await interaction.fetchReply()).id).toBe(handle.originalMessageId);
  });

  it("refuses an upload over the interaction's attachment_size_limit with 413 / 40005, and over the guild limit on channel routes", async () => {
    h = await harness();
    const small = h.discord.createGuild({ name: 'Small', uploadLimitBytes: 2048 });
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    invoke(h, { attachmentSizeLimit: 1024 });
    const interaction = await arriving;
    expect(interaction.attachmentSizeLimit).toBe(1024);
    await interaction.deferReply();
    const err = apiError(
      await caught(interaction.editReply({ files: [new AttachmentBuilder(Buffer.alloc(1025), { name: 'big.mp4' })] })),
    );
    expect(err.code).toBe(40005);
    expect(err.status).toBe(413);
    await interaction.editReply({ files: [new AttachmentBuilder(Buffer.alloc(1024), { name: 'fits.mp4' })] });

    const form = new FormData();
    form.append('payload_json', JSON.stringify({ content: 'video', attachments: [{ id: 0, filename: 'big.mp4' }] }));
    form.append('files[0]', new Blob([Buffer.alloc(4096)], { type: 'video/mp4' }), 'big.mp4');
    const viaChannel = apiError(
      await caught(
        client.rest.post(Routes.channelMessages(small.channels[0]!.id), { body: form, passThroughBody: true }),
      ),
    );
    expect(viaChannel.code).toBe(40005);
    expect(h.discord.messages(small.channels[0]!.id)).toHaveLength(0);
  });

  it('accepts a multipart callback (reply with a file) and checks the size limit there too', async () => {
    h = await harness();
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const handle = invoke(h, { attachmentSizeLimit: 100 });
    const interaction = await arriving;
    const tooBig = apiError(
      await caught(interaction.reply({ files: [new AttachmentBuilder(Buffer.alloc(101), { name: 'x.png' })] })),
    );
    expect(tooBig.code).toBe(40005);
    expect(handle.ack).toBeNull();
    await interaction.reply({
      content: 'here',
      files: [new AttachmentBuilder(Buffer.alloc(100, 1), { name: 'x.png' })],
    });
    expect(handle.ack?.type).toBe(4);
    const request = h.discord.requests.filter((r) => r.route === 'callback').at(-1)!;
    expect(request.files).toEqual([expect.objectContaining({ field: 'files[0]', filename: 'x.png', size: 100 })]);
    // Discord types the file itself rather than trusting the part header.
    expect(h.discord.timeline(h.channel.id)[0]?.attachments[0]).toMatchObject({
      filename: 'x.png',
      size: 100,
      content_type: 'image/png',
    });
  });

  it('turns a follow-up right after a deferral into the completion of the loading message (keeping its visibility)', async () => {
    h = await harness();
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const handle = invoke(h);
    const interaction = await arriving;
    await interaction.deferReply();
    const first = await interaction.followUp({ content: 'Not allowed here', flags: MessageFlags.Ephemeral });
    expect(first.id).toBe(handle.originalMessageId);
    expect(first.flags.has(MessageFlags.Ephemeral)).toBe(false);
    const second = await interaction.followUp({ content: 'Really private', flags: MessageFlags.Ephemeral });
    expect(second.id).not.toBe(handle.originalMessageId);
    expect(second.flags.has(MessageFlags.Ephemeral)).toBe(true);
    expect(h.discord.timeline(h.channel.id).map((e) => [e.kind, e.ephemeral])).toEqual([
      ['create', false],
      ['edit', false],
      ['create', true],
    ]);
  });

  it('answers ?with_response=true with the interaction callback object and the created message', async () => {
    h = await harness();
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const handle = invoke(h);
    const interaction = await arriving;
    const response = await interaction.reply({ content: 'Hello', withResponse: true });
    expect(response.interaction.id).toBe(handle.id);
    expect(response.interaction.responseMessageId).toBe(handle.originalMessageId);
    expect(response.interaction.responseMessageLoading).toBe(false);
    expect(response.resource?.message?.content).toBe('Hello');
    expect(h.discord.requests.find((r) => r.route === 'callback')).toMatchObject({
      status: 200,
      query: '?with_response=true',
    });
  });

  it('decodes percent-encoded interaction tokens in paths', async () => {
    h = await harness();
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    invoke(h, { token: 'aW50ZXJhY3Rpb24+/=:odd token' });
    const interaction = await arriving;
    await interaction.deferReply();
    await interaction.editReply('decoded');
    const calls = h.discord.requests.filter((r) => r.route === 'callback' || r.route === 'webhook_edit');
    expect(calls.map((r) => r.status)).toEqual([204, 200]);
    expect(calls.every((r) => r.path.includes(':token') && !r.path.includes('odd'))).toBe(true);
  });

  it('does not dispatch commands a member cannot see, unless an admin override is simulated', async () => {
    h = await harness();
    // A bulk overwrite: what is not in the list is gone.
    h.discord.registerCommands(
      [
        SORA_COMMAND,
        {
          name: 'admin',
          description: 'Settings',
          default_member_permissions: PermissionFlagsBits.ManageGuild.toString(),
        },
      ],
      h.guild.id,
    );
    expect(() =>
      h!.discord.invokeSlashCommand({
        guildId: h!.guild.id,
        channelId: h!.channel.id,
        userId: h!.user.id,
        name: 'jobs',
        subcommand: 'list',
      }),
    ).toThrow(/not registered/);
    expect(() =>
      h!.discord.invokeSlashCommand({
        guildId: h!.guild.id,
        channelId: h!.channel.id,
        userId: h!.user.id,
        name: 'admin',
      }),
    ).toThrow(/hidden/);
    expect(() =>
      h!.discord.invokeSlashCommand({
        guildId: h!.guild.id,
        channelId: h!.channel.id,
        userId: h!.user.id,
        name: 'unknown',
      }),
    ).toThrow(/not registered/);
    expect(() => invoke(h!, { options: { prompt: 'x', seconds: 5 } })).toThrow(/not one of the choices/);
    expect(() => invoke(h!, { options: {} })).toThrow(/required/);
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    h.discord.invokeSlashCommand({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'admin',
      permissionOverride: true,
    });
    const interaction = await arriving;
    expect(interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)).toBe(false);
  });

  it('sends subcommands in the nested option shape discord.js reads', async () => {
    h = await harness();
    const client = await h.login();
    const arriving = h.next<ChatInputCommandInteraction>(client);
    h.discord.invokeSlashCommand({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'jobs',
      subcommand: 'list',
      options: { page: 2 },
    });
    const interaction = await arriving;
    expect(interaction.options.getSubcommand()).toBe('list');
    expect(interaction.options.getInteger('page')).toBe(2);
  });
});

describe('Discord emulator: interaction clients', () => {
  it('keeps working when a second client logs in with the same token', async () => {
    h = await harness();
    await h.login();
    const other = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: h.discord.apiUrl } });
    h.clients.push(other);
    const ready = new Promise<void>((resolve) => other.once(Events.ClientReady, () => resolve()));
    await other.login(h.discord.botToken);
    await ready;
    expect(h.discord.gatewaySessions).toBe(2);
  });
});
