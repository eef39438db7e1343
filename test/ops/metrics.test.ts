import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository, type JobStatus } from '../../src/db/jobs-repository.js';
import { DueBacklogQuery, JobStatusCounts } from '../../src/db/ops-queries.js';
import { Metrics, mergeShardMetrics } from '../../src/ops/metrics.js';
import { startOpsServer, type OpsServer } from '../../src/ops/server.js';
import { newJob } from '../../emulators/job-rows.js';
import { get, parseExposition, sample, value } from './helpers.js';

const silent = { warn: () => undefined };
const ok = () => ({ status: 'ok' as const, failed: [], checks: {} });
const servers: OpsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(metrics: Metrics): Promise<string> {
  const server = await startOpsServer({ host: '127.0.0.1', port: 0, health: ok, metrics, log: silent });
  servers.push(server);
  return `http://127.0.0.1:${server.address().port}`;
}

function feed(m: Metrics, times = 1): void {
  for (let i = 0; i < times; i++) {
    m.submission('accepted');
    m.upstreamRequest('retrieve', 200, 120);
  }
  m.submission('rejected');
  m.upstreamRequest('create', 200, 1_800);
  m.upstreamRequest('create', 429, 40);
  m.upstreamRequest('retrieve', 'timeout', 60_000);
  m.discordResponse('patch', '/webhooks/:id/:token/messages/@original', 200);
  m.discordResponse('PATCH', '/webhooks/:id/:token/messages/@original', 429);
  m.discordResponse('post', '/interactions/:id/:token/callback', 204);
  m.discordRateLimit('/channels/:id/messages', false);
  m.stepStarted(1_500);
  m.stepStarted(-20);
  m.delivered('attachment', 8 * 1024 * 1024);
  m.delivered('link', undefined);
  m.reencode('ok');
}

describe('/metrics', () => {
  it('serves the Prometheus text format, with the counters as fed and the gauges read from SQLite', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
    const db = openDatabase(':memory:');
    const jobs = new JobsRepository(db);
    const unlimited = { maxActive: 0, dailyLimit: 0, dayStart: Date.UTC(2026, 0, 1) };
    const put = (status: JobStatus, nextRunAt: number | null) => {
      const r = jobs.insertWithinQuota(newJob(), unlimited, clock.now());
      if (!r.ok) throw new Error('insert refused');
      if (status !== 'waiting') jobs.transition(r.job.id, 'waiting', status, { nextRunAt }, clock.now());
    };
    put('delivered', null);
    put('delivered', null);
    put('failed', null);
    put('queued', clock.now() - 30_000);
    put('in_progress', clock.now() + 60_000);
    put('submitting', null);
    const counts = new JobStatusCounts(db);
    const backlog = new DueBacklogQuery(db);
    const m = new Metrics(
      {
        jobsByStatus: () => counts.counts(),
        dueBacklog: () => backlog.at(clock.now()),
        runningSteps: () => 3,
        upstreamInFlight: () => 2,
        now: () => clock.now(),
      },
      { defaultMetrics: true },
    );
    feed(m, 3);
    const base = await serve(m);

    const res = await get(base, '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const f = parseExposition(res.body);

    expect(value(f, 'sora_submissions_total', { outcome: 'accepted' })).toBe(3);
    expect(value(f, 'sora_submissions_total', { outcome: 'rejected' })).toBe(1);
    expect(value(f, 'sora_upstream_requests_total', { route: 'retrieve', status: '200' })).toBe(3);
    expect(value(f, 'sora_upstream_requests_total', { route: 'create', status: '429' })).toBe(1);
    expect(value(f, 'sora_upstream_requests_total', { route: 'retrieve', status: 'timeout' })).toBe(1);
    const create = sample(f, 'sora_upstream_request_duration_seconds', { route: 'create' });
    expect(f.get('sora_upstream_request_duration_seconds')!.type).toBe('HISTOGRAM');
    expect(Number(create.count)).toBe(2);
    expect(Number(create.sum)).toBeCloseTo(1.84, 6);
    expect(Number(create.buckets!['0.05'])).toBe(1); // the 40 ms 429
    expect(Number(create.buckets!['2.5'])).toBe(2);
    const retrieve = sample(f, 'sora_upstream_request_duration_seconds', { route: 'retrieve' });
    expect(Number(retrieve.buckets!['0.25'])).toBe(3);
    expect(Number(retrieve.buckets!['30'])).toBe(3); // the 60 s timeout is only in the last buckets
    expect(Number(retrieve.buckets!['60'])).toBe(4);

    const edit = { method: 'PATCH', route: '/webhooks/:id/:token/messages/@original' };
    expect(value(f, 'sora_discord_requests_total', { ...edit, status: '200' })).toBe(1);
    expect(value(f, 'sora_discord_requests_total', { ...edit, status: '429' })).toBe(1);
    expect(value(f, 'sora_discord_requests_total', { method: 'POST', status: '204' })).toBe(1);
    expect(value(f, 'sora_discord_rate_limited_total', { route: '/channels/:id/messages', global: 'false' })).toBe(1);

    const delay = sample(f, 'sora_poller_step_delay_seconds');
    expect(Number(delay.count)).toBe(2);
    expect(Number(delay.sum)).toBeCloseTo(1.5, 6); // a negative lateness counts as 0
    expect(value(f, 'sora_deliveries_total', { mode: 'attachment' })).toBe(1);
    expect(value(f, 'sora_deliveries_total', { mode: 'link' })).toBe(1);
    expect(Number(sample(f, 'sora_delivery_bytes', { mode: 'attachment' }).sum)).toBe(8 * 1024 * 1024);
    expect(value(f, 'sora_delivery_reencodes_total', { outcome: 'ok' })).toBe(1);

    expect(value(f, 'sora_jobs', { status: 'delivered' })).toBe(2);
    expect(value(f, 'sora_jobs', { status: 'failed' })).toBe(1);
    expect(value(f, 'sora_jobs', { status: 'queued' })).toBe(1);
    expect(value(f, 'sora_jobs', { status: 'submitting' })).toBe(1);
    expect(value(f, 'sora_jobs', { status: 'timed_out' })).toBe(0);
    expect(value(f, 'sora_poller_due_jobs')).toBe(1); // the leased in_progress job is not waiting
    expect(value(f, 'sora_poller_oldest_due_seconds')).toBe(30);
    expect(value(f, 'sora_poller_running_steps')).toBe(3);
    expect(value(f, 'sora_upstream_in_flight')).toBe(2);
    // Event-loop lag from prom-client's default metrics (perf_hooks monitorEventLoopDelay).
    expect(value(f, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);

    // Gauges are read at scrape time: a change in the database shows on the next scrape.
    clock.set(clock.now() + 10_000);
    put('queued', clock.now() - 1_000);
    const again = parseExposition((await get(base, '/metrics')).body);
    expect(value(again, 'sora_jobs', { status: 'queued' })).toBe(2);
    expect(value(again, 'sora_poller_due_jobs')).toBe(2);
    expect(value(again, 'sora_poller_oldest_due_seconds')).toBe(40);
  });

  it('answers 404 elsewhere, 405 to other methods, and 500 when collection fails', async () => {
    const broken = new Metrics({
      jobsByStatus: () => {
        throw new Error('database closed');
      },
    });
    const base = await serve(broken);
    expect((await get(base, '/nope')).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    const res = await get(base, '/metrics');
    expect(res.status).toBe(500);
    expect(res.body).not.toContain('database closed');
  });
});

describe('mergeShardMetrics', () => {
  it('adds up counters and histograms across shards and does not multiply the shared database gauges', async () => {
    const jobsGauge = () => new Map([['delivered', 7]]);
    const shard0 = new Metrics({ jobsByStatus: jobsGauge, runningSteps: () => 2 });
    const shard1 = new Metrics({ jobsByStatus: jobsGauge, runningSteps: () => 5 });
    feed(shard0, 2);
    feed(shard1, 5);
    shard1.discordResponse('GET', '/gateway/bot', 200);
    shard0.backup(true, Date.UTC(2026, 0, 1));
    shard1.backup(true, Date.UTC(2026, 0, 2));

    const merged = mergeShardMetrics([await shard0.snapshot(), await shard1.snapshot()]);
    const f = parseExposition(await merged.metrics());

    expect(value(f, 'sora_submissions_total', { outcome: 'accepted' })).toBe(7);
    expect(value(f, 'sora_submissions_total', { outcome: 'rejected' })).toBe(2);
    expect(value(f, 'sora_upstream_requests_total', { route: 'retrieve', status: '200' })).toBe(7);
    const retrieve = sample(f, 'sora_upstream_request_duration_seconds', { route: 'retrieve' });
    expect(Number(retrieve.count)).toBe(7 + 2);
    expect(Number(retrieve.buckets!['0.25'])).toBe(7);
    expect(value(f, 'sora_discord_requests_total', { route: '/gateway/bot' })).toBe(1);
    expect(value(f, 'sora_poller_running_steps')).toBe(7); // per process: summed
    expect(value(f, 'sora_jobs', { status: 'delivered' })).toBe(7); // one database: not 14
    expect(value(f, 'sora_backups_total', { outcome: 'ok' })).toBe(2);
    expect(value(f, 'sora_backup_last_success_timestamp_seconds')).toBe(Date.UTC(2026, 0, 2) / 1000);
  });
});
