import type { DiscordAPIError } from 'discord.js';
import { ActionRowBuilder, ButtonBuilder, ButtonStyle, EmbedBuilder, Routes } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startDiscordEmulator, type DiscordEmulator } from '../../emulators/discord/index.js';
import { caught, harness, type Harness } from './helpers.js';

let h: Harness | undefined;
let bare: DiscordEmulator | undefined;

afterEach(async () => {
  await h?.close();
  await bare?.close();
  h = undefined;
  bare = undefined;
});

function post(d: DiscordEmulator, channelId: string, body: unknown): Promise<Response> {
  return fetch(`${d.apiUrl}/v10/channels/${channelId}/messages`, {
    method: 'POST',
    headers: { authorization: `Bot ${d.botToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe("Discord emulator: request bodies against Discord's OpenAPI description", () => {
  it('answers a body the spec rejects with 400 / 50035 and the field tree, and records it', async () => {
    bare = await startDiscordEmulator({ openApiValidation: true });
    const channel = bare.createGuild().channels[0]!;
    // The emulator's own checks do not look at allowed_mentions; the spec does.
    const res = await post(bare, channel.id, { content: 'hi', allowed_mentions: { parse: ['everybody'] } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      message: 'Invalid Form Body',
      code: 50035,
      errors: {
        allowed_mentions: { parse: { 0: { _errors: [{ code: 'BASE_TYPE_CHOICES', message: expect.any(String) }] } } },
      },
    });
    const [v] = bare.specViolations();
    expect(v).toMatchObject({
      route: 'channel_create',
      operation: 'POST /channels/{channel_id}/messages',
      errors: [{ path: 'allowed_mentions.parse.0', keyword: 'enum' }],
      body: { content: 'hi' },
    });
    expect(bare.requests.at(-1)).toMatchObject({ status: 400, code: 50035, fault: 'spec_violation' });
    expect(bare.messages(channel.id)).toHaveLength(0);
    bare.clearSpecViolations();
    expect(bare.specViolations()).toHaveLength(0);
  });

  it('reports only the component branch the body chose (tagged unions), with its field path', async () => {
    bare = await startDiscordEmulator({ openApiValidation: true });
    const channel = bare.createGuild().channels[0]!;
    const res = await post(bare, channel.id, {
      content: 'x',
      components: [{ type: 1, components: [{ type: 2, style: 1, label: 'Go', custom_id: '' }] }],
    });
    expect(res.status).toBe(400);
    expect(bare.specViolations()[0]!.errors).toEqual([
      { path: 'components.0.components.0.custom_id', keyword: 'minLength', message: expect.any(String) },
    ]);
    // An unknown component type is one error on `type`, not one per branch.
    await post(bare, channel.id, { content: 'x', components: [{ type: 99 }] });
    expect(bare.specViolations()[1]!.errors.map((e) => e.path)).toEqual(['components.0.type']);
  });

  it('checks the payload_json of multipart bodies, and follows the docs where the spec is stricter', async () => {
    bare = await startDiscordEmulator({ openApiValidation: true });
    const channel = bare.createGuild().channels[0]!;
    const form = (payload: unknown) => {
      const f = new FormData();
      f.append('payload_json', JSON.stringify(payload));
      f.append('files[0]', new Blob([Buffer.from('x')]), 'a.txt');
      return f;
    };
    const send = (payload: unknown) =>
      fetch(`${bare!.apiUrl}/v10/channels/${channel.id}/messages`, {
        method: 'POST',
        headers: { authorization: `Bot ${bare!.botToken}` },
        body: form(payload),
      });
    // The docs' own example numbers the attachment placeholder (`"id": 0`); the spec wants a string.
    expect((await send({ content: 'ok', attachments: [{ id: 0, filename: 'a.txt' }] })).status).toBe(200);
    const bad = await send({ content: 'x', attachments: [{ filename: 'a.txt' }] });
    expect(bad.status).toBe(400);
    expect(bare.specViolations()[0]!.errors).toEqual([
      { path: 'attachments.0.id', keyword: 'required', message: expect.any(String) },
    ]);
  });

  it("lets the real discord.js client's traffic through: login, commands, replies, components, edits", async () => {
    h = await harness({ openApiValidation: true });
    const client = await h.login();
    await client.application!.commands.set(
      [{ name: 'sora', description: 'Make a video', options: [{ type: 3, name: 'prompt', description: 'p' }] }],
      h.guild.id,
    );
    const arriving = h.next(client);
    h.discord.invokeSlashCommand({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'sora',
      options: { prompt: 'p' },
    });
    const interaction = await arriving;
    if (!interaction.isChatInputCommand()) throw new Error('expected a slash command');
    await interaction.deferReply();
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId('reroll').setLabel('Re-roll').setStyle(ButtonStyle.Primary),
    );
    await interaction.editReply({ embeds: [new EmbedBuilder().setTitle('50%')], components: [row] });
    await interaction.followUp({ content: 'done', ephemeral: true });
    const m = await client.rest.post(Routes.channelMessages(h.channel.id), {
      body: { content: 'video', nonce: 'job-1', enforce_nonce: true, allowed_mentions: { users: [h.user.id] } },
    });
    expect(m).toBeDefined();
    expect(h.discord.specViolations()).toEqual([]);
    // …and refuses what it should, through the real client too.
    const err = await caught(
      client.rest.post(Routes.channelMessages(h.channel.id), { body: { content: 'x', tts: 'yes' } }),
    );
    expect((err as DiscordAPIError).code).toBe(50035);
    expect(h.discord.specViolations()).toHaveLength(1);
  });

  it('stays out of the way when turned off', async () => {
    bare = await startDiscordEmulator({ openApiValidation: false });
    const channel = bare.createGuild().channels[0]!;
    expect((await post(bare, channel.id, { content: 'hi', allowed_mentions: { parse: ['everybody'] } })).status).toBe(
      200,
    );
    expect(bare.specViolations()).toEqual([]);
  });
});
