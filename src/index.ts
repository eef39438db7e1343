import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import type { RunningShards } from './shard/manager.js';

/** The manager waits up to 16 s for its shards (src/shard/manager.ts); compose.yaml gives 20 s. */
const MANAGER_DEADLINE_MS = 19_000;

/**
 * Process entry: configuration, then one of three roles.
 * - SHARD_COUNT=1 (the default): the whole bot in this process.
 * - SHARD_COUNT>1 or `auto`: discord.js's ShardingManager, which runs this
 *   same file once per shard.
 * - Spawned by that manager (it sets SHARDING_MANAGER and SHARDS): one shard.
 * Everything else is built in app.ts and src/shard/.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (config.shard === undefined && config.shardCount !== 1) return runManager(config);
  return runBot(config);
}

// Each role loads only its own modules: the manager never builds the bot (nor holds its memory).
async function runBot(config: Config): Promise<void> {
  const { createApp } = await import('./app.js');
  const { ShardLink } = await import('./shard/ipc.js');
  const link = config.shard ? new ShardLink() : undefined;
  const logger = config.shard
    ? createLogger({ level: config.logLevel, secrets: [config.discordToken, config.tuziApiKey] }).child({
        shard: config.shard.id,
      })
    : undefined;
  const app = createApp(config, { ...(logger ? { logger } : {}), ...(link ? { peers: link } : {}) });
  link?.serve({
    metrics: () => app.metrics.snapshot(),
    health: () => app.ops.health(),
    lineMoved: () => app.lineMoved(),
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    // A hard deadline: a hung request must not keep the process alive.
    setTimeout(() => process.exit(1), 15_000).unref();
    app.stop(10_000).then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // A shard whose manager is gone (killed, crashed) stops too, rather than run on unsupervised beside a new one.
  if (link) process.on('disconnect', () => shutdown('manager gone'));
  process.on('unhandledRejection', (err) => app.log.error({ err }, 'unhandled rejection'));
  try {
    await app.start();
  } catch (err) {
    app.log.fatal({ err }, 'start failed');
    await app.stop(2_000).catch(() => undefined);
    process.exit(1);
  }
}

async function runManager(config: Config): Promise<void> {
  const { startShards } = await import('./shard/manager.js');
  const log = createLogger({ level: config.logLevel, secrets: [config.discordToken, config.tuziApiKey] }).child({
    role: 'manager',
  });
  let running: RunningShards | undefined;
  let stopping = false;
  const shutdown = (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'shutting down every shard');
    setTimeout(() => process.exit(1), MANAGER_DEADLINE_MS).unref();
    // Before the shards exist there is nothing to drain; shards that did start stop when the IPC channel closes.
    (running?.stop() ?? Promise.resolve()).then(
      () => process.exit(code),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT', 0));
  process.on('SIGTERM', () => shutdown('SIGTERM', 0));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  try {
    running = await startShards({ config, log, entry: fileURLToPath(import.meta.url) });
  } catch (err) {
    log.fatal({ err }, 'sharding manager failed to start');
    process.exit(1);
  }
  void running.failed.then((err) => {
    log.fatal({ err }, 'a shard keeps crashing; stopping so the supervisor can restart the bot');
    shutdown('crash loop', 1);
  });
  log.info({ shards: running.count }, 'sharding manager ready');
}

void main();
