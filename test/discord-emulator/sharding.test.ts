import { Client, Events, GatewayIntentBits, type ChatInputCommandInteraction } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DISCORD_EPOCH } from '../../emulators/discord/snowflake.js';
import { startDiscordEmulator, type DiscordEmulator, type GuildInfo } from '../../emulators/discord/index.js';
import { SORA_COMMAND } from './helpers.js';

let discord: DiscordEmulator | undefined;
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
  await discord?.close();
  discord = undefined;
});

/** A guild id whose shard under `count` shards is `ms % count` (the shard formula takes the timestamp bits). */
function guildId(ms: number): string {
  return ((BigInt(Date.UTC(2026, 0, 1) - DISCORD_EPOCH + ms) << 22n) | 5n).toString();
}

async function login(d: DiscordEmulator, extra: { shards?: number | 'auto'; shardCount?: number } = {}) {
  const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: d.apiUrl }, ...extra });
  clients.push(client);
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(d.botToken);
  await ready;
  return client;
}

function closeCode(url: string, identify: Record<string, unknown>): Promise<number> {
  const ws = new WebSocket(url);
  return new Promise((resolve) => {
    ws.on('open', () => ws.send(JSON.stringify({ op: 2, d: identify })));
    ws.on('close', (code) => resolve(code));
  });
}

describe('Discord emulator: sharding', () => {
  it('recommends ceil(guilds / 1000) shards, or the forced count, in GET /gateway/bot', async () => {
    discord = await startDiscordEmulator({ sharding: { guildsPerShard: 2, maxConcurrency: 4 } });
    for (let i = 0; i < 3; i++) discord.createGuild({ id: guildId(i) });
    const res = await fetch(`${discord.apiUrl}/v10/gateway/bot`, {
      headers: { authorization: `Bot ${discord.botToken}` },
    });
    expect(await res.json()).toMatchObject({ shards: 2, session_start_limit: { max_concurrency: 4 } });
    await discord.close();
    discord = await startDiscordEmulator({ sharding: { recommendedShards: 4 } });
    const forced = await fetch(`${discord.apiUrl}/v10/gateway/bot`, {
      headers: { authorization: `Bot ${discord.botToken}` },
    });
    expect(await forced.json()).toMatchObject({ shards: 4 });
  });

  it("gives each shard only its guilds, and a guild's interactions go to its shard (discord.js shards: 'auto')", async () => {
    discord = await startDiscordEmulator({ sharding: { recommendedShards: 2, maxConcurrency: 2 } });
    const guilds: GuildInfo[] = [0, 1, 2, 3].map((i) => discord!.createGuild({ id: guildId(i), name: `g${i}` }));
    const user = discord.createUser({ username: 'member' });
    discord.registerCommands([SORA_COMMAND]);
    const client = await login(discord, { shards: 'auto' });
    const identifies = discord.gatewayLog.filter((e) => e.kind === 'identify');
    expect(identifies.map((e) => e.shard).sort()).toEqual([
      [0, 2],
      [1, 2],
    ]);
    expect([...client.guilds.cache.keys()].sort()).toEqual(guilds.map((g) => g.id).sort());
    // Each guild was sent once, to its own shard's session: two each.
    const sessionOf = new Map(identifies.map((e) => [e.sessionId, e.shard![0]]));
    const creates = discord.gatewayLog.filter((e) => e.kind === 'dispatch' && e.t === 'GUILD_CREATE');
    expect(creates.map((e) => sessionOf.get(e.sessionId)).sort()).toEqual([0, 0, 1, 1]);
    for (const g of guilds) expect(client.guilds.cache.get(g.id)?.shardId).toBe((BigInt(g.id) >> 22n) & 1n ? 1 : 0);

    const arriving = new Promise<ChatInputCommandInteraction>((resolve) =>
      client.once(Events.InteractionCreate, (i) => resolve(i as ChatInputCommandInteraction)),
    );
    const handle = discord.invokeSlashCommand({
      guildId: guilds[3]!.id,
      channelId: guilds[3]!.channels[0]!.id,
      userId: user.id,
      name: 'sora',
      options: { prompt: 'p' },
    });
    expect(handle.deliveredTo).toBe(1);
    const interaction = await arriving;
    expect(interaction.guild?.shardId).toBe(1);
    const dispatched = discord.gatewayLog.find((e) => e.kind === 'dispatch' && e.t === 'INTERACTION_CREATE');
    expect(sessionOf.get(dispatched!.sessionId)).toBe(1);
  });

  it('serves one process per shard (ShardingManager style): separate connections, disjoint guilds', async () => {
    discord = await startDiscordEmulator({ sharding: { maxConcurrency: 2 } });
    const even = [0, 2].map((i) => discord!.createGuild({ id: guildId(i) }).id);
    const odd = [1, 3].map((i) => discord!.createGuild({ id: guildId(i) }).id);
    const [zero, one] = await Promise.all([
      login(discord, { shards: 0, shardCount: 2 }),
      login(discord, { shards: 1, shardCount: 2 }),
    ]);
    expect([...zero.guilds.cache.keys()].sort()).toEqual(even.sort());
    expect([...one.guilds.cache.keys()].sort()).toEqual(odd.sort());
    expect(discord.gatewaySessions).toBe(2);
    // A guild joined later is announced on its own shard only.
    const late = guildId(5);
    const joined = new Promise<string>((resolve) => one.once(Events.GuildCreate, (g) => resolve(g.id)));
    discord.createGuild({ id: late });
    expect(await joined).toBe(late);
    expect(zero.guilds.cache.has(late)).toBe(false);
  });

  it('closes an unsharded (or under-sharded) session above the guild threshold with 4011, a bad shard with 4010', async () => {
    discord = await startDiscordEmulator({ sharding: { maxGuildsPerShard: 2 } });
    for (const i of [0, 1, 2]) discord.createGuild({ id: guildId(i) });
    const url = `${discord.gatewayUrl}?v=10&encoding=json`;
    const identify = (shard?: unknown) => ({
      token: discord!.botToken,
      intents: 1,
      properties: {},
      ...(shard === undefined ? {} : { shard }),
    });
    expect(await closeCode(url, identify())).toBe(4011);
    expect(await closeCode(url, identify([0, 1]))).toBe(4011);
    for (const bad of [[2, 2], [0, 0], [-1, 2], ['0', 2], [0]]) expect(await closeCode(url, identify(bad))).toBe(4010);
    // Two shards hold 2 and 1 guilds: accepted.
    const ws = new WebSocket(url);
    const ready = await new Promise<{ d: { guilds: unknown[]; shard: number[] } }>((resolve) => {
      ws.on('open', () => ws.send(JSON.stringify({ op: 2, d: identify([0, 2]) })));
      ws.on('message', (data) => {
        const p = JSON.parse(String(data)) as { t?: string; d: { guilds: unknown[]; shard: number[] } };
        if (p.t === 'READY') resolve(p);
      });
    });
    expect(ready.d.shard).toEqual([0, 2]);
    expect(ready.d.guilds).toHaveLength(2);
    ws.close(1000);
  });
});
