import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { CheckResult, HealthReport } from './health.js';
import { mergeShardMetrics, type MetricsSnapshot } from './metrics.js';

/** One shard's answer to the manager, or why there is none (not running, no answer in time). */
export type ShardReply<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * The manager's /healthz: healthy only when every shard process answered
 * and every one of its checks passed. Each check keeps its shard in its
 * name (`shard 2 gateway`), so the body says which process to look at.
 */
export function mergeShardHealth(replies: readonly ShardReply<HealthReport>[]): HealthReport {
  const checks: Record<string, CheckResult> = {};
  replies.forEach((reply, id) => {
    if (!reply.ok) {
      checks[`shard ${id}`] = { ok: false, detail: reply.error };
      return;
    }
    for (const [name, result] of Object.entries(reply.value.checks)) checks[`shard ${id} ${name}`] = result;
  });
  if (replies.length === 0) checks.shards = { ok: false, detail: 'no shard spawned yet' };
  const failed = Object.keys(checks).filter((n) => !checks[n]!.ok);
  return { status: failed.length === 0 ? 'ok' : 'fail', failed, checks };
}

/**
 * The manager's own series, merged with every shard's snapshot for the
 * manager's /metrics: counters and histograms summed across shards, gauges
 * over the shared database maxed (src/ops/metrics.ts). A shard that does
 * not answer is left out of that scrape — its counters then dip, which
 * Prometheus's rate() reads as a counter reset — and `sora_shards_up` says so.
 */
export class ShardManagerMetrics {
  readonly registry = new Registry();
  private readonly restarts: Counter;
  private readonly up: Gauge;

  constructor(shardCount: number, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    new Gauge({
      name: 'sora_shards',
      help: 'Shard processes the manager runs.',
      registers,
    }).set(shardCount);
    this.up = new Gauge({
      name: 'sora_shards_up',
      help: 'Shard processes that answered this scrape.',
      registers,
    });
    this.restarts = new Counter({
      name: 'sora_shard_restarts_total',
      help: 'Shard processes that exited and were started again by the manager, by shard.',
      labelNames: ['shard'],
      registers,
    });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, labels: { process: 'manager' } });
  }

  /** A shard process exited (the manager respawns it). */
  shardExited(id: number): void {
    this.restarts.inc({ shard: String(id) });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The merged exposition: this registry and every snapshot that came back. */
  async text(replies: readonly ShardReply<MetricsSnapshot>[]): Promise<string> {
    const snapshots = replies.flatMap((r) => (r.ok ? [r.value] : []));
    this.up.set(snapshots.length);
    return mergeShardMetrics([...snapshots, await this.registry.getMetricsAsJSON()]).metrics();
  }
}
