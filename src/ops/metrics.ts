import type { Job } from '../db/jobs-repository.js';
import type { JobStatus } from '../jobs/lifecycle.js';
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';

/** What the gauges read at scrape time; each is optional so a test (or a shard) can leave one out. */
export interface MetricSources {
  /** Jobs per status (SQL). */
  jobsByStatus?: () => ReadonlyMap<string, number>;
  /** Jobs due whose step has not started, and the oldest due time (ms). */
  dueBacklog?: () => { jobs: number; oldestDueAt: number | null };
  /** Poller steps running now. */
  runningSteps?: () => number;
  /** Upstream requests holding a concurrency slot now. */
  upstreamInFlight?: () => number;
  /** Whether the line for upstream capacity is paused (the provider refuses every job). */
  linePaused?: () => boolean;
  /** "Now" for ages, from the injected clock. */
  now?: () => number;
}

export interface MetricsOptions {
  /**
   * Node's own metrics (event-loop lag from perf_hooks' monitorEventLoopDelay,
   * heap, GC, CPU). Off unless something serves them: each registry starts
   * its own event-loop sampler, and tests build many apps.
   */
  defaultMetrics?: boolean;
  /** Labels on every series, e.g. `{ shard: '0' }`. */
  labels?: Record<string, string>;
}

/** A snapshot of one registry, as a shard process would send it to the manager. */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

const SECONDS = (ms: number) => ms / 1000;
const MiB = 1024 * 1024;

/**
 * The bot's Prometheus metrics: one registry per process, no module-level
 * state (prom-client's global registry is never used), so a sharded bot has
 * one per shard and `mergeShardMetrics` builds the manager's view.
 *
 * Services record through the methods below; the values read from SQL or
 * from live objects are gauges computed at scrape time.
 *
 * Aggregation across shards (prom-client `aggregator`): counters and
 * histograms add up; gauges over the shared database (jobs, backlog, last
 * backup) take the max, since every shard reads the same rows.
 */
export class Metrics {
  readonly registry: Registry;

  private readonly submissions: Counter;
  private readonly upstreamDuration: Histogram;
  private readonly upstreamRequests: Counter;
  private readonly discordRequests: Counter;
  private readonly discordRateLimited: Counter;
  private readonly stepDelay: Histogram;
  private readonly lineWait: Histogram;
  private readonly deliveries: Counter;
  private readonly deliveryBytes: Histogram;
  private readonly reencodes: Counter;
  private readonly backups: Counter;
  private readonly lastBackup: Gauge;

  constructor(sources: MetricSources = {}, options: MetricsOptions = {}) {
    const registry = new Registry();
    if (options.labels) registry.setDefaultLabels(options.labels);
    this.registry = registry;
    const registers = [registry];
    const now = sources.now ?? Date.now;

    this.submissions = new Counter({
      name: 'sora_submissions_total',
      help: 'Video submissions upstream by outcome (accepted, rejected, unavailable, unknown, interrupted).',
      labelNames: ['outcome'],
      registers,
    });
    this.upstreamDuration = new Histogram({
      name: 'sora_upstream_request_duration_seconds',
      help: 'Time of one Tuzi HTTP request until its response headers (or its failure), by route.',
      labelNames: ['route'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.upstreamRequests = new Counter({
      name: 'sora_upstream_requests_total',
      help: 'Tuzi HTTP requests by route and status: the HTTP status, or the transport failure (timeout, network…).',
      labelNames: ['route', 'status'],
      registers,
    });
    this.discordRequests = new Counter({
      name: 'sora_discord_requests_total',
      help: 'Discord REST responses by method, rate-limit route and HTTP status (429s included).',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.discordRateLimited = new Counter({
      name: 'sora_discord_rate_limited_total',
      help: 'Times discord.js held a request for a rate limit, by route and whether the limit was global.',
      labelNames: ['route', 'global'],
      registers,
    });
    this.stepDelay = new Histogram({
      name: 'sora_poller_step_delay_seconds',
      help: 'How long a job waited between falling due and its step starting.',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.lineWait = new Histogram({
      name: 'sora_line_wait_seconds',
      help: 'How long a job waited in the line for upstream capacity, from its command to its POST.',
      buckets: [0.1, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    this.deliveries = new Counter({
      name: 'sora_deliveries_total',
      help: 'Videos delivered, by mode (attachment or link).',
      labelNames: ['mode'],
      registers,
    });
    this.deliveryBytes = new Histogram({
      name: 'sora_delivery_bytes',
      help: 'Size of delivered videos whose size is known, by mode (attachment or link).',
      labelNames: ['mode'],
      buckets: [1, 5, 10, 25, 50, 100, 250, 500].map((n) => n * MiB),
      registers,
    });
    this.reencodes = new Counter({
      name: 'sora_delivery_reencodes_total',
      help: 'Videos re-encoded to fit an upload limit, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.backups = new Counter({
      name: 'sora_backups_total',
      help: 'Automatic database backups by outcome (ok, failed).',
      labelNames: ['outcome'],
      registers,
    });
    this.lastBackup = new Gauge({
      name: 'sora_backup_last_success_timestamp_seconds',
      help: 'When the last automatic backup succeeded (Unix time).',
      aggregator: 'max',
      registers,
    });

    const jobsByStatus = sources.jobsByStatus;
    if (jobsByStatus) {
      new Gauge({
        name: 'sora_jobs',
        help: 'Jobs in the database by status.',
        labelNames: ['status'],
        aggregator: 'max',
        registers,
        collect() {
          for (const [status, n] of jobsByStatus()) this.set({ status }, n);
        },
      });
    }
    const dueBacklog = sources.dueBacklog;
    if (dueBacklog) {
      new Gauge({
        name: 'sora_poller_due_jobs',
        help: 'Jobs due for a poll or a delivery whose step has not started (the queue).',
        aggregator: 'max',
        registers,
        collect() {
          this.set(dueBacklog().jobs);
        },
      });
      new Gauge({
        name: 'sora_poller_oldest_due_seconds',
        help: 'How long the oldest due job has been waiting for its step (0 when none).',
        aggregator: 'max',
        registers,
        collect() {
          const { oldestDueAt } = dueBacklog();
          this.set(oldestDueAt === null ? 0 : Math.max(0, SECONDS(now() - oldestDueAt)));
        },
      });
    }
    const runningSteps = sources.runningSteps;
    if (runningSteps) {
      new Gauge({
        name: 'sora_poller_running_steps',
        help: 'Job steps (a poll, a delivery) running now.',
        registers,
        collect() {
          this.set(runningSteps());
        },
      });
    }
    const upstreamInFlight = sources.upstreamInFlight;
    if (upstreamInFlight) {
      new Gauge({
        name: 'sora_upstream_in_flight',
        help: 'Tuzi requests holding a concurrency slot now.',
        registers,
        collect() {
          this.set(upstreamInFlight());
        },
      });
    }
    const linePaused = sources.linePaused;
    if (linePaused) {
      new Gauge({
        name: 'sora_line_paused',
        help: '1 while the line is paused because the provider refuses every job (no balance, key refused).',
        aggregator: 'max',
        registers,
        collect() {
          this.set(linePaused() ? 1 : 0);
        },
      });
    }
    if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  }

  /** A job left the line for its POST after `ms` (from its command). */
  leftLine(ms: number): void {
    this.lineWait.observe(SECONDS(ms));
  }

  /** A submission ended: `accepted`, `requeued` (a refusal that made nothing), or the failure code. */
  submission(outcome: string): void {
    this.submissions.inc({ outcome });
  }

  /**
   * One Tuzi HTTP request (one attempt; a retry is another call). `status`
   * is the HTTP status, or for a request that got none the failure kind
   * (`timeout`, `network`, `aborted`…). `ms` runs from sending to the
   * response headers or the failure.
   */
  upstreamRequest(route: string, status: number | string, ms: number): void {
    this.upstreamDuration.observe({ route }, SECONDS(ms));
    this.upstreamRequests.inc({ route, status: String(status) });
  }

  /** A Discord REST response (discord.js `response` event). */
  discordResponse(method: string, route: string, status: number): void {
    this.discordRequests.inc({ method: method.toUpperCase(), route, status: String(status) });
  }

  /** discord.js held a request for a rate limit (its `rateLimited` event). */
  discordRateLimit(route: string, global: boolean): void {
    this.discordRateLimited.inc({ route, global: String(global) });
  }

  /** A poller step started `lateMs` after its job fell due. */
  stepStarted(lateMs: number): void {
    this.stepDelay.observe(SECONDS(Math.max(0, lateMs)));
  }

  /** A video was delivered: as an attachment of `bytes`, or as a link (bytes known or not). */
  delivered(mode: 'attachment' | 'link', bytes: number | undefined): void {
    this.deliveries.inc({ mode });
    if (bytes !== undefined) this.deliveryBytes.observe({ mode }, bytes);
  }

  /** A re-encode to fit an upload limit ended (`ok`, `too_large`, `failed`…). */
  reencode(outcome: string): void {
    this.reencodes.inc({ outcome });
  }

  /** An automatic backup ended. */
  backup(ok: boolean, at: number): void {
    this.backups.inc({ outcome: ok ? 'ok' : 'failed' });
    if (ok) this.lastBackup.set(SECONDS(at));
  }

  /** The Prometheus text exposition of this registry. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** This registry as JSON, for a sharding manager to merge. */
  snapshot(): Promise<MetricsSnapshot> {
    return this.registry.getMetricsAsJSON();
  }
}

/**
 * The sharding manager's view: every shard's snapshot merged into one
 * registry (prom-client's AggregatorRegistry), each metric by its own
 * aggregator — counters and histograms summed, database gauges maxed.
 */
export function mergeShardMetrics(snapshots: readonly MetricsSnapshot[]): Registry {
  return AggregatorRegistry.aggregate([...snapshots]);
}

/**
 * What the metrics hear of the lifecycle (plugged into JobEvents' observer):
 * a job leaving the line, and how each POST ended.
 */
export function lifecycleMetrics(metrics: Metrics, now: () => number): (job: Job, from: JobStatus) => void {
  return (job, from) => {
    if (from === 'waiting' && job.status === 'submitting') metrics.leftLine(now() - job.createdAt);
    else if (from === 'submitting')
      metrics.submission(
        job.status === 'waiting'
          ? 'requeued'
          : job.status === 'submit_failed'
            ? (job.errorCode ?? 'failed')
            : 'accepted',
      );
  };
}
