import fs from 'node:fs';
import path from 'node:path';
import { Events } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../emulators/world.js';
import type { HealthReport } from '../../src/ops/health.js';
import { MINUTE, sora, videoMessages, world } from '../e2e/helpers.js';
import { get, parseExposition, value } from './helpers.js';

let w: World;
afterEach(async () => {
  await w?.close();
});

function base(w: World): string {
  const address = w.app!.ops.address();
  expect(address?.host).toBe('127.0.0.1');
  return `http://127.0.0.1:${address!.port}`;
}

describe('ops in the running bot (real discord.js against the Discord emulator)', () => {
  it('serves /healthz and counts Discord responses, 429s included, and jobs by status', async () => {
    w = await world({ env: { METRICS_PORT: '0' } });
    const health = await get(base(w), '/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok', failed: [] });

    // Discord answers the first reply edit with a 429; discord.js waits and sends it again.
    w.discord.injectFault({ route: 'webhook_edit', status: 429, retryAfterMs: 50 });
    await sora(w, w.users.alice, { prompt: 'a corgi surfing' });
    await w.advanceUntil(() => videoMessages(w).length === 1, 10 * MINUTE);
    await w.settle();

    const f = parseExposition((await get(base(w), '/metrics')).body);
    // The route as discord.js keys its buckets: ids and the token replaced, `@` percent-encoded.
    const edit = { method: 'PATCH', route: '/webhooks/:id/:token/messages/%40original' };
    expect(value(f, 'sora_discord_requests_total', { ...edit, status: '429' })).toBe(1);
    const editsSeen = w.discord.requests.filter((r) => r.route === 'webhook_edit').length;
    const edits200 = value(f, 'sora_discord_requests_total', { ...edit, status: '200' });
    expect(edits200 + 1).toBe(editsSeen);
    // After the 429, discord.js held the retry for the bucket's reset: its `rateLimited` event.
    expect(value(f, 'sora_discord_rate_limited_total', { route: edit.route, global: 'false' })).toBe(1);
    const callbacks = f
      .get('sora_discord_requests_total')!
      .metrics.filter((m) => m.labels?.route === '/interactions/:id/:token/callback');
    expect(callbacks.reduce((n, m) => n + Number(m.value), 0)).toBe(1);
    expect(value(f, 'sora_jobs', { status: 'delivered' })).toBe(1);
    expect(value(f, 'sora_jobs', { status: 'queued' })).toBe(0);
    expect(value(f, 'sora_poller_due_jobs')).toBe(0);
    expect(value(f, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    // Every request the Tuzi emulator answered, counted by operation and status.
    const upstream = f.get('sora_upstream_requests_total')!.metrics;
    const counted = (route: string) =>
      upstream.filter((m) => m.labels?.route === route).reduce((n, m) => n + Number(m.value), 0);
    expect(counted('create')).toBe(w.tuzi.requests.filter((r) => r.route === 'create').length);
    expect(counted('retrieve')).toBe(w.tuzi.requests.filter((r) => r.route === 'retrieve').length);
    expect(counted('create')).toBe(1);
  });

  it('reads "gateway connected" from the client: failed while the shard reconnects, ok once it resumed', async () => {
    w = await world({ env: { METRICS_PORT: '0' } });
    const app = w.app!;
    const seen: Array<{ event: string; report: HealthReport }> = [];
    // Read synchronously inside discord.js's own events: the state at that moment, not after a race.
    app.client.on(Events.ShardReconnecting, () => seen.push({ event: 'reconnecting', report: app.ops.health() }));
    const resumed = new Promise<void>((resolve) =>
      app.client.once(Events.ShardResume, () => {
        seen.push({ event: 'resumed', report: app.ops.health() });
        resolve();
      }),
    );
    expect(w.discord.disconnectGateway()).toBe(1);
    await resumed;
    expect(seen.map((s) => s.event)).toEqual(['reconnecting', 'resumed']);
    expect(seen[0]!.report.failed).toEqual(['gateway']);
    expect(seen[0]!.report.checks.gateway!.detail).toMatch(/shard 0 Connecting/);
    expect(seen[1]!.report).toMatchObject({ status: 'ok', failed: [] });
    expect((await get(base(w), '/healthz')).status).toBe(200);
  });

  it('takes the daily backup on the injected clock and counts it', async () => {
    const dataDir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'ops-world-'));
    const backupDir = path.join(dataDir, 'backups');
    w = await world({ dataDir, env: { METRICS_PORT: '0', BACKUP_DIR: backupDir, BACKUP_KEEP: '2' } });
    await w.advance(10 * MINUTE, 60_000);
    await w.app!.ops.backups!.whenIdle();
    const files = fs.readdirSync(backupDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^bot-\d{8}T\d{9}Z\.db$/);
    const f = parseExposition((await get(base(w), '/metrics')).body);
    expect(value(f, 'sora_backups_total', { outcome: 'ok' })).toBe(1);
    expect(value(f, 'sora_backup_last_success_timestamp_seconds')).toBeGreaterThan(0);
  });

  it('refuses to start when the metrics port is taken, naming it', async () => {
    w = await world({ env: { METRICS_PORT: '0' } });
    const port = w.app!.ops.address()!.port;
    await w.stopBot();
    const net = await import('node:net');
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const { createApp } = await import('../../src/app.js');
      const { parseConfig } = await import('../../src/config.js');
      const app = createApp(parseConfig({ ...w.env, METRICS_PORT: String(port) }), { clock: w.clock });
      await expect(app.start()).rejects.toThrow(
        new RegExp(`could not listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`),
      );
      await app.stop(1_000);
    } finally {
      blocker.close();
    }
  });
});
