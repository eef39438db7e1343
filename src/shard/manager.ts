import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { REST, Routes, ShardingManager, type RESTGetAPIGatewayBotResult, type Shard } from 'discord.js';
import type { Config } from '../config.js';
import { openDatabase } from '../db/database.js';
import { settleRestoredCopy } from '../db/restored-copy.js';
import type { Logger } from '../logger.js';
import type { HealthReport } from '../ops/health.js';
import type { MetricsSnapshot } from '../ops/metrics.js';
import { startOpsServer, type OpsServer } from '../ops/server.js';
import { mergeShardHealth, ShardManagerMetrics, type ShardReply } from '../ops/shard-view.js';
import { isSoraMessage, type ShardQuestion } from './ipc.js';

/**
 * "max_concurrency: the number of identify requests allowed per 5 seconds"
 * (developers/events/gateway#session-start-limit-object): shards start in
 * rounds of that many, each round 5.5 s after the previous one was ready
 * (discord.js's own `ShardingManager#spawn` spaces shards 5.5 s apart).
 */
const IDENTIFY_WINDOW_MS = 5_500;
/** How long a shard may take from its fork to its gateway READY (discord.js's own default is 30 s). */
const READY_TIMEOUT_MS = 60_000;
/** A shard's own stop has a 15 s hard deadline (src/index.ts); the manager waits a little longer, then kills. */
const SHARD_STOP_MS = 16_000;
/** A scrape's wait for a shard's answer over IPC. */
const ASK_TIMEOUT_MS = 3_000;
/** A shard that dies this often this fast is crash-looping: the manager stops and leaves it to its supervisor. */
const CRASH_LOOP = { deaths: 5, withinMs: 60_000 };

export interface ShardingOptions {
  config: Config;
  log: Logger;
  /** The module each shard process runs (the bot's entry, src/index.ts). */
  entry: string;
}

export interface RunningShards {
  readonly count: number;
  /** Shard id → the pid of its process now (absent while it is down). */
  pids(): Map<number, number>;
  /** Where the merged /healthz and /metrics listen, when METRICS_PORT is set. */
  address(): { host: string; port: number } | undefined;
  /** Stops every shard (each drains its work), then the ops server. */
  stop(): Promise<void>;
  /** Resolves when the manager gave up (a crash loop): its supervisor should restart it. */
  readonly failed: Promise<Error>;
}

/** GET /gateway/bot through the configured REST base (discord.js's own `auto` always asks discord.com). */
async function gatewayBot(config: Config): Promise<RESTGetAPIGatewayBotResult> {
  const rest = new REST(config.discordApiUrl ? { api: config.discordApiUrl } : {}).setToken(config.discordToken);
  return (await rest.get(Routes.gatewayBot())) as RESTGetAPIGatewayBotResult;
}

/**
 * `npm start` with SHARD_COUNT `auto` or above 1: discord.js's ShardingManager
 * runs one process per shard (this same entry), all on the one SQLite file.
 *
 * Before any shard starts, the manager opens the database once: the
 * migrations run in one process (two processes migrating at once would both
 * apply the same step), and a restored backup is settled once
 * (src/db/restored-copy.ts). Each shard then follows only the jobs of its
 * guilds (src/shard/ownership.ts); shard 0 registers the commands and runs
 * the bot-wide chores (image retention, daily backups). A shard that exits
 * is started again by discord.js (`respawn`); its jobs wait in the database
 * and its new process resumes them. With METRICS_PORT set, the manager
 * serves /healthz and /metrics for all of them, asking each over IPC.
 */
export async function startShards({ config, log, entry }: ShardingOptions): Promise<RunningShards> {
  const db = openDatabase(config.databasePath);
  try {
    const restored = settleRestoredCopy(db, Date.now());
    if (restored) log.warn(restored, 'opened a restored backup: unfinished jobs look for their post first');
  } finally {
    db.close();
  }

  const gateway = await gatewayBot(config).catch((err: unknown) => {
    throw new Error('Could not ask Discord for the gateway (GET /gateway/bot): check DISCORD_TOKEN', { cause: err });
  });
  const count = config.shardCount === 'auto' ? Math.max(1, gateway.shards) : config.shardCount;
  const concurrency = Math.max(1, gateway.session_start_limit.max_concurrency);
  if (gateway.session_start_limit.remaining < count)
    log.warn(
      { remaining: gateway.session_start_limit.remaining, resetAfterMs: gateway.session_start_limit.reset_after },
      'Discord allows fewer gateway sessions than there are shards before its limit resets',
    );
  log.info(
    { shards: count, recommended: gateway.shards, maxConcurrency: concurrency },
    config.shardCount === 'auto' ? "sharding: Discord's recommended count" : 'sharding: SHARD_COUNT',
  );

  const manager = new ShardingManager(entry, {
    totalShards: count,
    shardList: [...Array(count).keys()],
    token: config.discordToken,
    mode: 'process',
    respawn: true,
    // Under tsx (npm run dev, the tests) the shards need its loader too.
    execArgv: process.execArgv,
  });
  const metrics = new ShardManagerMetrics(count, { defaultMetrics: config.metricsPort !== undefined });
  let stopping = false;
  let failWith: (err: Error) => void = () => undefined;
  const failed = new Promise<Error>((resolve) => (failWith = resolve));

  // Questions to the shards: one id space, answers matched by id.
  let nextAsk = 1;
  const asking = new Map<number, (reply: ShardReply<unknown>) => void>();
  const ask = <T>(shard: Shard | undefined, what: ShardQuestion): Promise<ShardReply<T>> => {
    if (!shard?.process?.connected) return Promise.resolve({ ok: false, error: 'not running' });
    const id = nextAsk++;
    return new Promise<ShardReply<T>>((resolve) => {
      const timer = setTimeout(
        () => done({ ok: false, error: `no answer within ${ASK_TIMEOUT_MS} ms` }),
        ASK_TIMEOUT_MS,
      );
      const done = (reply: ShardReply<unknown>) => {
        clearTimeout(timer);
        asking.delete(id);
        resolve(reply as ShardReply<T>);
      };
      asking.set(id, done);
      shard.send({ _sora: 'ask', id, what }).catch((err: unknown) => done({ ok: false, error: String(err) }));
    });
  };
  const askAll = <T>(what: ShardQuestion) =>
    Promise.all([...Array(count).keys()].map((id) => ask<T>(manager.shards.get(id), what)));

  const deaths = new Map<number, number[]>();
  manager.on('shardCreate', (shard) => {
    // mode 'process': each is a ChildProcess (never a Worker).
    shard.on('spawn', (child) =>
      log.info({ shard: shard.id, pid: (child as ChildProcess).pid }, 'shard process started'),
    );
    shard.on('death', (worker) => {
      const child = worker as ChildProcess;
      if (stopping) return;
      metrics.shardExited(shard.id);
      log.error(
        { shard: shard.id, pid: child.pid, code: child.exitCode, signal: child.signalCode },
        'shard process exited; starting it again',
      );
      const now = Date.now();
      const recent = [...(deaths.get(shard.id) ?? []), now].filter((t) => now - t < CRASH_LOOP.withinMs);
      deaths.set(shard.id, recent);
      if (recent.length >= CRASH_LOOP.deaths)
        failWith(new Error(`shard ${shard.id} exited ${recent.length} times within ${CRASH_LOOP.withinMs / 1000} s`));
    });
    shard.on('error', (err) => log.error({ err, shard: shard.id }, 'shard error'));
    shard.on('message', (message: unknown) => {
      if (!isSoraMessage(message)) return;
      if (message._sora === 'answer') {
        asking.get(message.id)?.(
          message.error === undefined ? { ok: true, value: message.result } : { ok: false, error: message.error },
        );
      } else if (message._sora === 'line') {
        // A slot freed in one shard may be another's to fill: every other shard looks at the line again.
        for (const other of manager.shards.values())
          if (other !== shard && other.process?.connected) other.send(message).catch(() => undefined);
      }
    });
  });

  let server: OpsServer | undefined;
  if (config.metricsPort !== undefined) {
    server = await startOpsServer({
      host: config.metricsHost,
      port: config.metricsPort,
      health: async () => mergeShardHealth(await askAll<HealthReport>('health')),
      metrics: {
        text: async () => metrics.text(await askAll<MetricsSnapshot>('metrics')),
        get contentType() {
          return metrics.contentType;
        },
      },
      log,
    });
    log.info(server.address(), 'health and metrics server listening (all shards)');
  }

  const stopShard = async (shard: Shard): Promise<void> => {
    const child = shard.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const inTime = await Promise.race([exited.then(() => true), sleep(SHARD_STOP_MS).then(() => false)]);
    if (!inTime) {
      log.error({ shard: shard.id }, 'shard did not stop in time; killing it');
      child.kill('SIGKILL');
      await exited;
    }
  };
  const running: RunningShards = {
    count,
    pids() {
      const out = new Map<number, number>();
      for (const [id, shard] of manager.shards) if (shard.process?.pid) out.set(id, shard.process.pid);
      return out;
    },
    address: () => server?.address(),
    async stop() {
      if (stopping) return;
      stopping = true;
      // Read by each Shard when its process exits: none is started again.
      manager.respawn = false;
      await Promise.all([...manager.shards.values()].map(stopShard));
      await server?.close();
      log.info('every shard stopped');
    },
    failed,
  };

  // Rounds of `concurrency` shards identify together; the next round waits for the identify window.
  for (let first = 0; first < count && !stopping; first += concurrency) {
    const round = [...Array(Math.min(concurrency, count - first)).keys()].map((i) => first + i);
    await Promise.all(
      round.map((id) =>
        manager
          .createShard(id)
          .spawn(READY_TIMEOUT_MS)
          // A shard that dies before READY is started again by discord.js; one that is slow keeps going.
          .catch((err: unknown) => log.error({ err, shard: id }, 'shard did not become ready')),
      ),
    );
    // Counted from READY, which comes after the round's identifies, so no two rounds share a window.
    if (first + concurrency < count) await sleep(IDENTIFY_WINDOW_MS);
  }
  log.info({ shards: count }, 'all shards spawned');
  return running;
}
