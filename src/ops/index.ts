import path from 'node:path';
import type { Client, REST } from 'discord.js';
import type { Clock, Timers } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import { DueBacklogQuery, JobStatusCounts } from '../db/ops-queries.js';
import type { Logger } from '../logger.js';
import { BackupService } from './backup-service.js';
import { observeDiscordRest } from './discord-rest.js';
import {
  databaseCheck,
  gatewayCheck,
  runChecks,
  type Heartbeat,
  type HealthCheck,
  type HealthReport,
} from './health.js';
import { Metrics } from './metrics.js';
import { startOpsServer, type OpsServer } from './server.js';

export { Heartbeat } from './health.js';
export { Metrics, mergeShardMetrics } from './metrics.js';

/**
 * The poller arms its timer at least once a minute (its idle check) and
 * after every step; five minutes without a beat is five missed checks, or
 * every slot held by a step that long — worth a restart either way.
 */
export const POLLER_STALE_MS = 5 * 60_000;

const DAY_MS = 24 * 60 * 60_000;

/** The bot's metrics: the recording methods plus gauges over its database and live objects. */
export function createBotMetrics(
  config: Config,
  db: Db,
  clock: Clock,
  live: { runningSteps: () => number; upstreamInFlight: () => number; linePaused: () => boolean },
): Metrics {
  const counts = new JobStatusCounts(db);
  const backlog = new DueBacklogQuery(db);
  return new Metrics(
    {
      jobsByStatus: () => counts.counts(),
      dueBacklog: () => backlog.at(clock.now()),
      runningSteps: live.runningSteps,
      upstreamInFlight: live.upstreamInFlight,
      linePaused: live.linePaused,
      now: () => clock.now(),
    },
    { defaultMetrics: config.metricsPort !== undefined },
  );
}

export interface OpsDeps {
  config: Config;
  db: Db;
  client: Client;
  clock: Clock;
  timers: Timers;
  log: Logger;
  metrics: Metrics;
  /** The poller's heartbeat (its Timers wrapped with `heartbeat.wrap`). */
  heartbeat: Heartbeat;
  /** REST instances besides the client's own whose traffic is counted (the bot's channel routes). */
  rests?: REST[];
  /**
   * Whether this process opens METRICS_PORT itself (default true). A shard
   * of a sharding manager does not: it still records, and answers the
   * manager's questions over IPC (src/shard/ipc.ts), and the manager serves
   * the merged view on the port.
   */
  serve?: boolean;
}

/**
 * Health, the metrics endpoint and daily backups, started and stopped by
 * the composition root. Each part is off unless configured: no METRICS_PORT,
 * no server; no BACKUP_DIR, no backups.
 */
export class Ops {
  readonly backups: BackupService | undefined;
  private readonly checks: Record<string, HealthCheck>;
  private readonly unobserve: () => void;
  private server: OpsServer | undefined;

  constructor(private readonly deps: OpsDeps) {
    const { config, db, client, clock, timers, log, metrics, heartbeat } = deps;
    this.checks = {
      gateway: gatewayCheck(client),
      database: databaseCheck(db, clock),
      poller: heartbeat.check(POLLER_STALE_MS),
    };
    // Only when someone can read them: a `response` listener makes discord.js clone every Response.
    const watched = [client.rest, ...(deps.rests ?? [])];
    const unobserve = config.metricsPort !== undefined ? watched.map((r) => observeDiscordRest(r, metrics)) : [];
    this.unobserve = () => unobserve.forEach((u) => u());
    this.backups = config.backupDir
      ? new BackupService(
          db,
          clock,
          timers,
          log,
          {
            dir: config.backupDir,
            keep: config.backupKeep,
            everyMs: DAY_MS,
            firstDelayMs: 10 * 60_000,
            retryMs: 60 * 60_000,
            prefix: path.basename(config.databasePath).replace(/\.[^.]*$/, '') || 'sora-bot',
          },
          (o) => metrics.backup(o.ok, o.at),
        )
      : undefined;
  }

  /** Every check, run now. */
  health(): HealthReport {
    return runChecks(this.checks);
  }

  /** Where the health/metrics server listens, once started. */
  address(): { host: string; port: number } | undefined {
    return this.server?.address();
  }

  /** Opens the health/metrics port. Fails (and so the start fails) when the port is taken. */
  async startServer(): Promise<void> {
    const { config, metrics, log } = this.deps;
    if (config.metricsPort === undefined || this.server || this.deps.serve === false) return;
    try {
      this.server = await startOpsServer({
        host: config.metricsHost,
        port: config.metricsPort,
        health: () => this.health(),
        metrics,
        log,
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new Error(
        `The health/metrics server could not listen on ${config.metricsHost}:${config.metricsPort} (${code})`,
        {
          cause: err,
        },
      );
    }
    log.info(this.server.address(), 'health and metrics server listening');
  }

  startBackups(): void {
    this.backups?.start();
  }

  /** Closes the port and waits for a backup in progress; call before the database closes. */
  async stop(): Promise<void> {
    this.unobserve();
    await Promise.allSettled([this.server?.close(), this.backups?.stop()]);
    this.server = undefined;
  }
}
