import Database from 'better-sqlite3';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnShardedBot, startWorld, type ShardedBot, type World } from '../../emulators/world.js';
import type { GuildInfo } from '../../emulators/discord/types.js';
import { shardOfGuild } from '../../src/shard/ownership.js';
import { childrenOf, startConnectionOwners, type ConnectionOwners } from '../shards/connection-owners.js';
import { guildIdFor } from '../shards/helpers.js';

/**
 * The real bot under discord.js's ShardingManager: one manager process, one
 * process per shard, one SQLite file, against the Discord emulator (each
 * shard's session gets only its guilds and their interactions) and the Tuzi
 * emulator behind a relay that tells which process sent each request. Real
 * time with short upstream jobs (3 s).
 */

let w: World | undefined;
let bot: ShardedBot | undefined;
let owners: ConnectionOwners | undefined;
afterEach(async () => {
  await bot?.killAll();
  bot = undefined;
  await owners?.close();
  owners = undefined;
  await w?.close();
  w = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CAP = 50;

interface Server {
  guild: GuildInfo;
  channelId: string;
  userId: string;
}

/** Both emulators, `servers` guilds spread over the shards by id, the relay, and the bot's settings for fast jobs. */
async function setup(servers: number, env: Record<string, string> = {}) {
  w = await startWorld({
    noBot: true,
    env: {
      DEFAULT_MAX_ACTIVE: '0',
      TUZI_MAX_RUNNING_JOBS: String(CAP),
      POLL_MIN_SECONDS: '1',
      POLL_MAX_SECONDS: '2',
      PROGRESS_EDIT_SECONDS: '10',
      METRICS_PORT: '0',
      ...env,
    },
    // Sixteen identifies per 5 s (a large bot's max_concurrency): every shard starts in one round.
    discord: { sharding: { maxConcurrency: 16, recommendedShards: 4 } },
    tuzi: { jobDurationMs: 3_000 },
  });
  const world = w;
  const list: Server[] = Array.from({ length: servers }, (_, i) => {
    const guild = world.discord.createGuild({ id: guildIdFor(i), name: `server ${i}` });
    const channelId = guild.channels[0]!.id;
    const userId = world.discord.createUser({ username: `member${i}`, guildIds: [guild.id] }).id;
    return { guild, channelId, userId };
  });
  // Every request to the provider passes the relay; `bot` is read when a connection opens.
  owners = await startConnectionOwners(world.tuzi.url, () =>
    bot ? [bot.manager.pid!, ...childrenOf(bot.manager.pid!)] : [],
  );
  world.env.TUZI_BASE_URL = owners.url;
  return { world, servers: list };
}

/** `n` /sora commands spread over the servers, `perSecond` at a time; resolves when all were acknowledged. */
async function commands(world: World, servers: Server[], n: number, perSecond = 40, from = 0): Promise<void> {
  const acks: Promise<unknown>[] = [];
  for (let i = from; i < from + n; i++) {
    const s = servers[i % servers.length]!;
    const h = world.discord.invokeSlashCommand({
      guildId: s.guild.id,
      channelId: s.channelId,
      userId: s.userId,
      name: 'sora',
      options: { prompt: `job ${i}` },
    });
    acks.push(h.acknowledged(10_000));
    if ((i + 1) % 10 === 0) await sleep(10_000 / perSecond);
  }
  await Promise.all(acks);
}

interface Row {
  id: number;
  guild_id: string;
  status: string;
  upstream_id: string | null;
  prompt: string;
}

function rows(world: World): Row[] {
  const db = new Database(world.config.databasePath, { readonly: true });
  try {
    return db.prepare('SELECT id, guild_id, status, upstream_id, prompt FROM jobs ORDER BY id').all() as Row[];
  } finally {
    db.close();
  }
}

/** Waits (real time) until `n` jobs exist and every one has ended. */
async function allEnded(world: World, n: number, timeoutMs = 90_000): Promise<Row[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = rows(world);
    const open = r.filter(
      (j) => !['delivered', 'failed', 'delivery_failed', 'submit_failed', 'timed_out'].includes(j.status),
    );
    if (r.length >= n && open.length === 0) return r;
    if (Date.now() > deadline)
      throw new Error(`${open.length} of ${r.length} jobs still open: ${open.slice(0, 5).map((j) => j.status)}`);
    await sleep(250);
  }
}

/** How many times each job's video was posted, over every server's channel. */
function postsPerJob(world: World, servers: Server[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of servers)
    for (const m of world.discord.messages(s.channelId))
      for (const a of m.attachments) {
        const id = /^sora-(\d+)\.mp4$/.exec(a.filename)?.[1];
        if (id) out.set(Number(id), (out.get(Number(id)) ?? 0) + 1);
      }
  return out;
}

/** Upstream status checks of each job, by the process that sent them. */
function pollsByProcess(world: World): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const r of world.tuzi.requests) {
    if (r.route !== 'retrieve' || !r.jobId) continue;
    const pid = owners!.ownerOf(r.remotePort, r.at) ?? -1;
    const per = out.get(r.jobId) ?? new Map<number, number>();
    per.set(pid, (per.get(pid) ?? 0) + 1);
    out.set(r.jobId, per);
  }
  return out;
}

async function scrape(path: string): Promise<{ status: number; body: string }> {
  const line = bot!.logs.find((l) => l.msg === 'health and metrics server listening (all shards)')!;
  const res = await fetch(`http://127.0.0.1:${String(line.port)}${path}`);
  return { status: res.status, body: await res.text() };
}

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const family = parsePrometheusTextFormat(text).find((f) => f.name === name);
  if (!family) return NaN;
  return family.metrics
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((sum, m) => sum + Number((m as { value?: string }).value ?? 0), 0);
}

/** The largest number of jobs running upstream at once, sampled every 20 ms until `stop`. */
function sampleRunning(world: World): { stop(): number } {
  let max = 0;
  const timer = setInterval(() => (max = Math.max(max, world.tuzi.runningJobs())), 20);
  return {
    stop() {
      clearInterval(timer);
      return max;
    },
  };
}

describe('sharding: 4 shard processes on one database', () => {
  it('40 servers, 200 jobs: each polled by exactly its shard’s process, every video posted once, one cap for all', async () => {
    const { world, servers } = await setup(40);
    bot = await spawnShardedBot(world, { shards: 4 });
    const pids = bot.pids();
    expect([...pids.keys()].sort()).toEqual([0, 1, 2, 3]);
    expect(new Set(pids.values()).size).toBe(4);
    // Each shard's session identified as its own shard and got only its guilds.
    const identifies = world.discord.gatewayLog.filter((e) => e.kind === 'identify').map((e) => e.shard);
    expect(identifies.sort()).toEqual([
      [0, 4],
      [1, 4],
      [2, 4],
      [3, 4],
    ]);
    // Commands are registered once, by shard 0.
    expect(world.discord.requests.filter((r) => r.method === 'PUT' && r.route.includes('command'))).toHaveLength(1);
    expect((await scrape('/healthz')).status).toBe(200);

    const running = sampleRunning(world);
    await commands(world, servers, 200);
    const ended = await allEnded(world, 200);
    const maxRunning = running.stop();
    expect(ended.map((j) => j.status)).toEqual(Array(200).fill('delivered'));

    // Every video posted exactly once; one POST upstream per job.
    const posts = postsPerJob(world, servers);
    expect(posts.size).toBe(200);
    for (const [id, n] of posts) expect(n, `posts of job ${id}`).toBe(1);
    const creates = world.tuzi.requests.filter((r) => r.route === 'create');
    expect(creates).toHaveLength(200);

    // Each job's status checks all came from one process: the process of the shard owning its guild.
    expect(owners!.unattributed).toBe(0);
    const polls = pollsByProcess(world);
    for (const job of ended) {
      const by = polls.get(job.upstream_id!);
      expect(by, `job ${job.id} polled`).toBeDefined();
      expect([...by!.keys()], `job ${job.id}`).toEqual([pids.get(shardOfGuild(job.guild_id, 4))]);
    }
    // The provider's running-job cap is the key's: the four shards together never went over it.
    expect(maxRunning).toBeGreaterThan(CAP / 2);
    expect(maxRunning).toBeLessThanOrEqual(CAP);

    // The manager's merged /metrics: counters summed over the shards, the database's gauges once.
    const metrics = await scrape('/metrics');
    expect(metrics.status).toBe(200);
    expect(metricValue(metrics.body, 'sora_shards_up')).toBe(4);
    expect(metricValue(metrics.body, 'sora_deliveries_total')).toBe(200);
    expect(metricValue(metrics.body, 'sora_submissions_total', { outcome: 'accepted' })).toBe(200);
    expect(metricValue(metrics.body, 'sora_jobs', { status: 'delivered' })).toBe(200);
    expect(await bot.stop()).toBe(0);
  }, 150_000);
});
