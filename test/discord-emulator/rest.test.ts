import {
  DiscordAPIError,
  HTTPError,
  REST,
  Routes,
  type APIMessage,
  type ChatInputCommandInteraction,
  type RateLimitData,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { startDiscordEmulator, type DiscordEmulator } from '../../emulators/discord/index.js';
import { snowflakeTime } from '../../emulators/discord/snowflake.js';
import { SORA_COMMAND, caught, harness, type Harness } from './helpers.js';

let h: Harness | undefined;
let bare: DiscordEmulator | undefined;

afterEach(async () => {
  await h?.close();
  await bare?.close();
  h = undefined;
  bare = undefined;
});

async function deferred(x: Harness): Promise<ChatInputCommandInteraction> {
  const client = x.clients[0] ?? (await x.login());
  const arriving = x.next<ChatInputCommandInteraction>(client);
  x.discord.invokeSlashCommand({
    guildId: x.guild.id,
    channelId: x.channel.id,
    userId: x.user.id,
    name: 'sora',
    options: { prompt: 'p' },
  });
  const interaction = await arriving;
  await interaction.deferReply();
  return interaction;
}

function statuses(x: Harness, route: string): number[] {
  return x.discord.requests.filter((r) => r.route === route).map((r) => r.status);
}

describe('Discord emulator: REST faults and rate limits', () => {
  it('answers an injected 429 with Retry-After; discord.js waits and retries until it succeeds', async () => {
    h = await harness();
    const client = await h.login();
    const limited: RateLimitData[] = [];
    client.rest.on('rateLimited', (info) => limited.push(info));
    const interaction = await deferred(h);
    h.discord.injectFault({ route: 'webhook_edit', status: 429, retryAfterMs: 120 });
    await interaction.editReply('after the wait');
    expect(statuses(h, 'webhook_edit')).toEqual([429, 200]);
    expect(limited).toHaveLength(1);
    expect(limited[0]!.retryAfter).toBeGreaterThanOrEqual(120);
    expect(h.discord.stats()).toMatchObject({ status429: 1, invalidRequests: 1, injectedFaults: 1 });
  });

  it('sends the 429 shape Discord uses: {message, retry_after, global} plus Retry-After and X-RateLimit-* headers', async () => {
    bare = await startDiscordEmulator();
    bare.injectFault({ route: 'users_me', status: 429, retryAfterMs: 1500 });
    const res = await fetch(`${bare.apiUrl}/v10/users/@me`, { headers: { authorization: `Bot ${bare.botToken}` } });
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({ message: 'You are being rate limited.', retry_after: 1.5, global: false });
    expect(res.headers.get('retry-after')).toBe('1.5');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(res.headers.get('x-ratelimit-reset-after')).toBe('1.500');
    expect(res.headers.get('x-ratelimit-scope')).toBe('user');
    // discord.js treats any X-RateLimit-Global header as global, so it is only sent when true.
    expect(res.headers.has('x-ratelimit-global')).toBe(false);
  });

  it('enforces a real per-message edit bucket that discord.js can be measured against', async () => {
    h = await harness({
      rateLimit: { buckets: [{ routes: ['channel_edit'], limit: 2, windowMs: 300, per: 'message' }] },
    });
    const client = await h.login();
    const interaction = await deferred(h);
    const reply = await interaction.editReply('v0');

    // Raw requests see the bucket run dry.
    const edit = (content: string) =>
      fetch(`${h!.discord.apiUrl}/v10/channels/${h!.channel.id}/messages/${reply.id}`, {
        method: 'PATCH',
        headers: { authorization: `Bot ${h!.discord.botToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content }),
      });
    const first = await edit('v1');
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    expect(first.headers.get('x-ratelimit-bucket')).toMatch(/^[0-9a-f]{32}$/);
    await edit('v2');
    const third = await edit('v3');
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await third.json()).toMatchObject({ message: 'You are being rate limited.', global: false });

    // discord.js reads X-RateLimit-Remaining / Reset-After and waits on its own: every edit lands without a 429.
    await new Promise((r) => setTimeout(r, 320));
    const before = h.discord.requests.length;
    for (let i = 0; i < 5; i++)
      await client.rest.patch(Routes.channelMessage(h.channel.id, reply.id), { body: { content: `d${i}` } });
    const fromClient = h.discord.requests.slice(before).filter((r) => r.route === 'channel_edit');
    expect(fromClient.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(h.discord.message(reply.id)?.content).toBe('d4');
  });

  it('lets discord.js retry injected 5xx answers, and give up with HTTPError after its retries', async () => {
    h = await harness();
    const interaction = await deferred(h);
    h.discord.injectFault({ route: 'webhook_edit', status: 502, times: 2 });
    await interaction.editReply('made it');
    expect(statuses(h, 'webhook_edit')).toEqual([502, 502, 200]);

    h.discord.injectFault({ route: 'webhook_edit', status: 503, times: 10 });
    const err = await caught(interaction.editReply('gives up'));
    expect(err).toBeInstanceOf(HTTPError);
    expect((err as HTTPError).status).toBe(503);
    expect(statuses(h, 'webhook_edit').slice(3)).toEqual([503, 503, 503, 503]);
    expect(h.discord.messages(h.channel.id).at(-1)?.content).toBe('made it');
  });

  it('returns the first message for a repeated nonce with enforce_nonce, even after a lost response', async () => {
    h = await harness();
    const client = await h.login();
    const post = (body: object) =>
      client.rest.post(Routes.channelMessages(h!.channel.id), { body }) as Promise<APIMessage>;
    const a = await post({ content: 'video', nonce: 'job-1', enforce_nonce: true });
    const b = await post({ content: 'video again', nonce: 'job-1', enforce_nonce: true });
    expect(b.id).toBe(a.id);
    expect(b.content).toBe('video');
    // Without enforce_nonce the nonce is only echoed.
    const c = await post({ content: 'dup', nonce: 'job-2' });
    const d = await post({ content: 'dup', nonce: 'job-2' });
    expect(c.id).not.toBe(d.id);

    // The post lands but its answer is lost (502 after the fact); discord.js retries.
    h.discord.injectFault({ route: 'channel_create', status: 502, when: 'after' });
    const e = await post({ content: 'once', nonce: 'job-3', enforce_nonce: true });
    h.discord.injectFault({ route: 'channel_create', status: 502, when: 'after' });
    await post({ content: 'twice', nonce: 'job-4' });
    const contents = h.discord.messages(h.channel.id).map((m) => m.content);
    expect(contents.filter((x) => x === 'once')).toHaveLength(1);
    expect(contents.filter((x) => x === 'twice')).toHaveLength(2);
    expect(e.content).toBe('once');
  });

  it('validates command registration like Discord (50035 with the field path), and keeps ids across re-registration', async () => {
    h = await harness();
    const client = await h.login();
    const app = h.discord.applicationId;
    const put = (body: unknown, guildId?: string) =>
      client.rest.put(guildId ? Routes.applicationGuildCommands(app, guildId) : Routes.applicationCommands(app), {
        body,
      });
    const refused = async (body: unknown): Promise<Record<string, unknown>> => {
      const err = await caught(put(body));
      expect(err).toBeInstanceOf(DiscordAPIError);
      expect((err as DiscordAPIError).code).toBe(50035);
      expect((err as DiscordAPIError).status).toBe(400);
      return ((err as DiscordAPIError).rawError as { errors: Record<string, unknown> }).errors;
    };
    expect(await refused([{ name: 'Sora', description: 'x' }])).toMatchObject({
      0: { name: { _errors: [{ code: 'APPLICATION_COMMAND_INVALID_NAME' }] } },
    });
    expect(await refused([{ name: 'has space', description: 'x' }])).toHaveProperty('0.name');
    expect(await refused([{ name: 'a'.repeat(33), description: 'x' }])).toHaveProperty('0.name');
    expect(await refused([{ name: 'sora', description: 'd'.repeat(101) }])).toHaveProperty('0.description');
    expect(await refused([{ name: 'sora', description: '' }])).toHaveProperty('0.description');
    const opts = Array.from({ length: 26 }, (_, i) => ({ type: 3, name: `o${i}`, description: 'x' }));
    expect(await refused([{ name: 'sora', description: 'x', options: opts }])).toHaveProperty('0.options._errors');
    const choices = Array.from({ length: 26 }, (_, i) => ({ name: `c${i}`, value: `v${i}` }));
    expect(
      await refused([
        { name: 'sora', description: 'x', options: [{ type: 3, name: 'model', description: 'x', choices }] },
      ]),
    ).toHaveProperty('0.options.0.choices');
    expect(
      await refused([
        {
          name: 'sora',
          description: 'x',
          options: [
            { type: 3, name: 'a', description: 'x' },
            { type: 3, name: 'b', description: 'x', required: true },
          ],
        },
      ]),
    ).toHaveProperty('0.options.1.required');
    expect(
      await refused([
        {
          name: 'sora',
          description: 'x',
          options: [
            { type: 1, name: 'a', description: 'x' },
            { type: 3, name: 'b', description: 'x' },
          ],
        },
      ]),
    ).toHaveProperty('0.options._errors');
    expect(await refused([{ name: 'sora', description: 'x', name_localizations: { 'zh-CN': 'Sora' } }])).toHaveProperty(
      '0.name_localizations.zh-CN',
    );

    const first = (await put([
      SORA_COMMAND,
      { name: 'sora-jobs', description: 'Jobs', name_localizations: { 'zh-CN': '任务' } },
    ])) as { id: string; name: string; version: string }[];
    expect(first.map((c) => c.name)).toEqual(['sora', 'sora-jobs']);
    expect(first.every((c) => /^\d{17,19}$/.test(c.id))).toBe(true);
    const again = (await put([SORA_COMMAND, { name: 'sora-jobs', description: 'Changed' }])) as {
      id: string;
      version: string;
    }[];
    expect(again.map((c) => c.id)).toEqual(first.map((c) => c.id));
    expect(again[0]!.version).toBe(first[0]!.version);
    expect(again[1]!.version).not.toBe(first[1]!.version);
    expect((await client.rest.get(Routes.applicationCommands(app))) as unknown[]).toHaveLength(2);

    const guildScoped = (await put([SORA_COMMAND], h.guild.id)) as { guild_id: string }[];
    expect(guildScoped[0]!.guild_id).toBe(h.guild.id);
    expect(h.discord.commands(h.guild.id).map((c) => c.name)).toEqual(['sora']);
  });

  it('requires the bot token on bot routes only (webhook routes take none)', async () => {
    h = await harness();
    const interaction = await deferred(h);
    const wrong = new REST({ api: h.discord.apiUrl, retries: 0 }).setToken('wrong');
    const err = await caught(wrong.get(Routes.user('@me')));
    expect((err as DiscordAPIError).status).toBe(401);
    expect((err as DiscordAPIError).rawError).toEqual({ message: '401: Unauthorized', code: 0 });
    const anonymous = new REST({ api: h.discord.apiUrl, retries: 0 });
    const edited = (await anonymous.patch(Routes.webhookMessage(h.discord.applicationId, interaction.token), {
      body: { content: 'no auth needed' },
      auth: false,
    })) as APIMessage;
    expect(edited.content).toBe('no auth needed');
    expect(h.discord.requests.find((r) => r.route === 'users_me')?.auth).toBe('invalid');
  });

  it('pages channel history newest first with limit, before and after', async () => {
    h = await harness();
    const client = await h.login();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(
        ((await client.rest.post(Routes.channelMessages(h.channel.id), { body: { content: `m${i}` } })) as APIMessage)
          .id,
      );
    h.discord.postUserMessage(h.channel.id, h.user.id, 'from alice');
    const get = async (query: Record<string, string>) =>
      (
        (await client.rest.get(Routes.channelMessages(h!.channel.id), {
          query: new URLSearchParams(query),
        })) as APIMessage[]
      ).map((m) => m.content);
    expect(await get({ limit: '2' })).toEqual(['from alice', 'm4']);
    expect(await get({ after: ids[0]!, limit: '2' })).toEqual(['m2', 'm1']);
    expect(await get({ before: ids[3]!, limit: '2' })).toEqual(['m2', 'm1']);
    expect(((await caught(get({ limit: '101' }))) as DiscordAPIError).code).toBe(50035);

    await client.rest.delete(Routes.channelMessage(h.channel.id, ids[4]!));
    expect(
      ((await caught(client.rest.get(Routes.channelMessage(h.channel.id, ids[4]!)))) as DiscordAPIError).code,
    ).toBe(10008);
    const alices = h.discord.messages(h.channel.id).find((m) => m.author.id === h!.user.id)!;
    // Someone else's message: no editing ever, no deleting without MANAGE_MESSAGES.
    expect(
      (
        (await caught(
          client.rest.patch(Routes.channelMessage(h.channel.id, alices.id), { body: { content: 'x' } }),
        )) as DiscordAPIError
      ).code,
    ).toBe(50005);
    expect(
      ((await caught(client.rest.delete(Routes.channelMessage(h.channel.id, alices.id)))) as DiscordAPIError).code,
    ).toBe(50013);
  });

  it("enforces the bot's channel permissions: 50001 without View Channel, 50013 without Send Messages or Attach Files", async () => {
    h = await harness();
    const hidden = h.discord.createChannel(h.guild.id, { name: 'hidden', botPermissions: '0' });
    const readOnly = h.discord.createChannel(h.guild.id, {
      name: 'read-only',
      botPermissions: String((1 << 10) | (1 << 16)),
    });
    const noFiles = h.discord.createChannel(h.guild.id, {
      name: 'no-files',
      botPermissions: String((1 << 10) | (1 << 11) | (1 << 16)),
    });
    const client = await h.login();
    expect(client.channels.cache.get(readOnly.id)).toBeDefined();
    const post = (channelId: string, body: object | FormData) =>
      client.rest.post(
        Routes.channelMessages(channelId),
        body instanceof FormData ? { body, passThroughBody: true } : { body },
      );
    expect(((await caught(post(hidden.id, { content: 'x' }))) as DiscordAPIError).code).toBe(50001);
    expect(((await caught(post(readOnly.id, { content: 'x' }))) as DiscordAPIError).code).toBe(50013);
    await post(noFiles.id, { content: 'text is fine' });
    const form = new FormData();
    form.append('payload_json', JSON.stringify({ content: 'file' }));
    form.append('files[0]', new Blob([Buffer.from('x')]), 'a.txt');
    expect(((await caught(post(noFiles.id, form))) as DiscordAPIError).code).toBe(50013);

    // The interaction webhook needs no channel permission: the way out for a bot that cannot post.
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const handle = h.discord.invokeSlashCommand({
      guildId: h.guild.id,
      channelId: hidden.id,
      userId: h.user.id,
      name: 'sora',
      options: { prompt: 'p' },
    });
    const interaction = await arriving;
    expect(interaction.appPermissions.bitfield).toBe(0n);
    await interaction.deferReply();
    await interaction.followUp('delivered anyway');
    expect(h.discord.message(handle.originalMessageId!)?.content).toBe('delivered anyway');
  });

  it('serves attachments from signed CDN URLs that expire on the emulator clock', async () => {
    const clock = new ManualClock();
    h = await harness({ clock, attachmentUrlLifetimeMs: 60_000 });
    const client = await h.login();
    const form = new FormData();
    form.append(
      'payload_json',
      JSON.stringify({ content: 'file', attachments: [{ id: 0, filename: 'clip.mp4', description: 'a clip' }] }),
    );
    form.append(
      'files[0]',
      new Blob([Buffer.from('not really a video')], { type: 'application/octet-stream' }),
      'clip.mp4',
    );
    const message = (await client.rest.post(Routes.channelMessages(h.channel.id), {
      body: form,
      passThroughBody: true,
    })) as APIMessage;
    const attachment = message.attachments[0]!;
    expect(attachment).toMatchObject({
      filename: 'clip.mp4',
      size: 18,
      content_type: 'video/mp4',
      description: 'a clip',
    });
    expect((await fetch(attachment.url)).status).toBe(200);
    expect((await fetch(attachment.proxy_url)).status).toBe(200);
    expect((await fetch(attachment.url.replace(/hm=[0-9a-f]{64}/, `hm=${'0'.repeat(64)}`))).status).toBe(404);
    await clock.advance(60_000);
    const expired = await fetch(attachment.url);
    expect(expired.status).toBe(404);
    expect(await expired.text()).toBe('This content is no longer available.');
    // A fresh fetch of the message hands out a freshly signed URL.
    const refreshed = (await client.rest.get(Routes.channelMessage(h.channel.id, message.id))) as APIMessage;
    expect((await fetch(refreshed.attachments[0]!.url)).status).toBe(200);
  });

  it('makes realistic snowflakes from the clock', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    bare = await startDiscordEmulator({ clock });
    const guild = bare.createGuild();
    const user = bare.createUser();
    for (const id of [bare.applicationId, guild.id, guild.channels[0]!.id, user.id]) {
      expect(id).toMatch(/^\d{17,19}$/);
      expect(snowflakeTime(id)).toBe(Date.UTC(2026, 0, 1));
    }
    expect(new Set([guild.id, guild.channels[0]!.id, user.id]).size).toBe(3);
  });
});
