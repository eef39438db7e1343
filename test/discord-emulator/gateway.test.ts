import {
  ChannelType,
  Client,
  Events,
  GatewayIntentBits,
  PermissionFlagsBits,
  type ChatInputCommandInteraction,
} from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { caught, harness, type Harness } from './helpers.js';

/** A raw gateway connection that records every payload and the close code. */
function rawGateway(url: string) {
  const ws = new WebSocket(url);
  const received: { op: number; t?: string | null; s?: number | null; d?: unknown }[] = [];
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (data) => received.push(JSON.parse(String(data)) as (typeof received)[number]));
  const opened = new Promise<void>((resolve) => ws.on('open', () => resolve()));
  const waitFor = async (pred: (p: (typeof received)[number]) => boolean) => {
    for (let i = 0; i < 200; i++) {
      const hit = received.find(pred);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('payload never came');
  };
  return { ws, received, closed, opened, waitFor };
}

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('Discord emulator: gateway', () => {
  it('logs the real client in: READY, one GUILD_CREATE per guild, clientReady with the guild cache filled', async () => {
    h = await harness();
    const second = h.discord.createGuild({ name: 'Second' });
    const client = await h.login();

    expect(client.user?.id).toBe(h.discord.botUserId);
    expect(client.user?.bot).toBe(true);
    expect(client.application?.id).toBe(h.discord.applicationId);
    expect([...client.guilds.cache.keys()].sort()).toEqual([h.guild.id, second.id].sort());
    const guild = client.guilds.cache.get(h.guild.id)!;
    expect(guild.available).toBe(true);
    expect(guild.name).toBe('Test Server');
    expect(guild.channels.cache.get(h.channel.id)?.type).toBe(ChannelType.GuildText);
    expect(guild.members.me?.id).toBe(h.discord.botUserId);
    expect(guild.members.me?.permissions.has(PermissionFlagsBits.AttachFiles)).toBe(true);
    const log = h.discord.gatewayLog.filter((e) => e.kind === 'dispatch').map((e) => e.t);
    expect(log).toEqual(['READY', 'GUILD_CREATE', 'GUILD_CREATE']);
    const app = await client.application!.fetch();
    expect(app.id).toBe(h.discord.applicationId);
    expect(h.discord.requests.find((r) => r.route === 'application_me')?.status).toBe(200);
    // Never gzip or zlib: the client asked for plain JSON text frames.
    expect(h.discord.requests.find((r) => r.route === 'gateway_bot')?.status).toBe(200);
  });

  it('answers heartbeats from the real client with op 11 (discord.js measures its ping from them)', async () => {
    h = await harness({ heartbeatIntervalMs: 50 });
    const client = await h.login();
    await h.discord.waitFor(() => h!.discord.stats().gateway.heartbeats >= 2 && client.ws.ping >= 0, {
      what: 'two heartbeats',
    });
  });

  it('speaks the protocol on a raw socket: HELLO, heartbeat ACK, and Discord close codes for bad sessions', async () => {
    h = await harness({ heartbeatIntervalMs: 45_000 });
    const url = `${h.discord.gatewayUrl}?v=10&encoding=json`;

    const a = rawGateway(url);
    await a.opened;
    expect(await a.waitFor((p) => p.op === 10)).toMatchObject({ d: { heartbeat_interval: 45_000 } });
    a.ws.send(JSON.stringify({ op: 1, d: null }));
    await a.waitFor((p) => p.op === 11);
    a.ws.send(JSON.stringify({ op: 2, d: { token: 'wrong', intents: 1, properties: {} } }));
    expect(await a.closed).toBe(4004);

    const b = rawGateway(url);
    await b.opened;
    b.ws.send(JSON.stringify({ op: 3, d: {} }));
    expect(await b.closed).toBe(4003);

    const c = rawGateway(`${h.discord.gatewayUrl}?v=9&encoding=json`);
    expect(await c.closed).toBe(4012);

    // Privileged intents the app has not enabled (GuildMembers).
    const d = rawGateway(url);
    await d.opened;
    d.ws.send(JSON.stringify({ op: 2, d: { token: h.discord.botToken, intents: 1 << 1, properties: {} } }));
    expect(await d.closed).toBe(4014);

    // A resume of an unknown session gets op 9 with d: false.
    const e = rawGateway(url);
    await e.opened;
    e.ws.send(JSON.stringify({ op: 6, d: { token: h.discord.botToken, session_id: 'nope', seq: 3 } }));
    expect(await e.waitFor((p) => p.op === 9)).toMatchObject({ d: false });
    e.ws.close();

    const f = rawGateway(url);
    await f.opened;
    f.ws.send(JSON.stringify({ op: 2, d: { token: h.discord.botToken, intents: 1, properties: {} } }));
    const ready = await f.waitFor((p) => p.t === 'READY');
    expect(ready).toMatchObject({
      op: 0,
      s: 1,
      d: { v: 10, guilds: [{ id: h.guild.id, unavailable: true }], application: { id: h.discord.applicationId } },
    });
    expect(await f.waitFor((p) => p.t === 'GUILD_CREATE')).toMatchObject({
      s: 2,
      d: { id: h.guild.id, unavailable: false },
    });
    f.ws.close(1000);
    await f.closed;
  });

  it('refuses a wrong token on bot routes with 401 code 0, and discord.js gives up the login', async () => {
    h = await harness();
    const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: h.discord.apiUrl } });
    h.clients.push(client);
    const err = await caught(client.login('not-the-token'));
    expect(err).toBeInstanceOf(Error);
    const refused = h.discord.requests.find((r) => r.route === 'gateway_bot');
    expect(refused).toMatchObject({ status: 401, code: 0, auth: 'invalid' });
    // The token never lands in the request log.
    expect(JSON.stringify(h.discord.requests)).not.toContain(h.discord.botToken);
  });

  it('resumes after a disconnect and replays the interaction sent while the socket was down', async () => {
    h = await harness();
    const client = await h.login();
    const resumed = new Promise<void>((resolve) => client.once(Events.ShardResume, () => resolve()));

    expect(h.discord.disconnectGateway()).toBe(1);
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const missed = h.discord.invokeSlashCommand({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'sora',
      options: { prompt: 'while away' },
    });
    expect(missed.deliveredTo).toBe(1);

    await resumed;
    const interaction = await arriving;
    expect(interaction.id).toBe(missed.id);
    await interaction.reply('caught up');
    const log = h.discord.gatewayLog;
    expect(log.some((e) => e.kind === 'resume')).toBe(true);
    expect(log.find((e) => e.kind === 'dispatch' && e.t === 'INTERACTION_CREATE' && e.replayed)).toBeDefined();
    // The client used resume_gateway_url, not the gateway URL.
    expect(log.find((e) => e.kind === 'resume')?.path).toBe('/resume');
    expect(log.filter((e) => e.kind === 'identify')).toHaveLength(1);

    const later = h.next<ChatInputCommandInteraction>(client);
    const second = h.discord.invokeSlashCommand({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'sora',
      options: { prompt: 'later' },
    });
    const laterInteraction = await later;
    expect(laterInteraction.id).toBe(second.id);
    expect(laterInteraction.options.getString('prompt')).toBe('later');
  });

  it('makes the client identify again when the session is invalidated, losing what happened in between', async () => {
    h = await harness();
    const client = await h.login();
    const readyAgain = new Promise<void>((resolve) => client.once(Events.ShardReady, () => resolve()));
    h.discord.disconnectGateway({ resumable: false });
    const lost = h.discord.invokeSlashCommand({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'sora',
      options: { prompt: 'lost' },
    });
    expect(lost.deliveredTo).toBe(0);
    await readyAgain;
    expect(h.discord.gatewayLog.filter((e) => e.kind === 'identify')).toHaveLength(2);
    const arriving = h.next<ChatInputCommandInteraction>(client);
    const after = h.discord.invokeSlashCommand({
      guildId: h.guild.id,
      channelId: h.channel.id,
      userId: h.user.id,
      name: 'sora',
      options: { prompt: 'after' },
    });
    expect((await arriving).id).toBe(after.id);
  });
});
