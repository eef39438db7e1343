import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { Heartbeat, databaseCheck, runChecks, type CheckResult, type HealthReport } from '../../src/ops/health.js';
import { Metrics } from '../../src/ops/metrics.js';
import { startOpsServer, type OpsServer } from '../../src/ops/server.js';
import { get } from './helpers.js';

const servers: OpsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function tempDbFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'healthz-')), 'bot.db');
}

async function healthz(base: string): Promise<{ status: number; report: HealthReport }> {
  const res = await get(base, '/healthz');
  expect(res.type).toBe('application/json');
  return { status: res.status, report: JSON.parse(res.body) as HealthReport };
}

/** The three checks the bot runs: a fake gateway state, a real SQLite file, the poller's heartbeat. */
async function setup() {
  const clock = new ManualClock();
  const file = tempDbFile();
  const db = openDatabase(file);
  let gateway: CheckResult = { ok: true, detail: '1 shard(s) ready' };
  const heartbeat = new Heartbeat(clock);
  const checks = {
    gateway: () => gateway,
    database: databaseCheck(db, clock),
    poller: heartbeat.check(5 * 60_000),
  };
  const server = await startOpsServer({
    host: '127.0.0.1',
    port: 0,
    health: () => runChecks(checks),
    metrics: new Metrics(),
    log: { warn: () => undefined },
  });
  servers.push(server);
  return {
    clock,
    file,
    db,
    heartbeat,
    base: `http://127.0.0.1:${server.address().port}`,
    setGateway(r: CheckResult) {
      gateway = r;
    },
  };
}

describe('/healthz', () => {
  it('is 200 when the gateway is connected, the database writable and the poller alive', async () => {
    const s = await setup();
    s.heartbeat.beat();
    const { status, report } = await healthz(s.base);
    expect(status).toBe(200);
    expect(report).toMatchObject({ status: 'ok', failed: [] });
    expect(Object.keys(report.checks).sort()).toEqual(['database', 'gateway', 'poller']);
  });

  it('goes 503 naming the gateway when it drops, and back to 200 when it returns', async () => {
    const s = await setup();
    s.heartbeat.beat();
    s.setGateway({ ok: false, detail: 'shard 0 Reconnecting' });
    const down = await healthz(s.base);
    expect(down.status).toBe(503);
    expect(down.report.failed).toEqual(['gateway']);
    expect(down.report.checks.gateway).toEqual({ ok: false, detail: 'shard 0 Reconnecting' });
    s.setGateway({ ok: true, detail: '1 shard(s) ready' });
    expect((await healthz(s.base)).status).toBe(200);
  });

  it('goes 503 naming the database while another process holds its write lock, and back when it lets go', async () => {
    const s = await setup();
    s.heartbeat.beat();
    const other = new Database(s.file);
    other.exec('BEGIN IMMEDIATE');
    const locked = await healthz(s.base);
    expect(locked.status).toBe(503);
    expect(locked.report.failed).toEqual(['database']);
    expect(locked.report.checks.database!.detail).toMatch(/SQLITE_BUSY/);
    other.exec('COMMIT');
    other.close();
    expect((await healthz(s.base)).status).toBe(200);
  });

  it('goes 503 when the database connection is closed', async () => {
    const s = await setup();
    s.heartbeat.beat();
    s.db.close();
    const closed = await healthz(s.base);
    expect(closed.status).toBe(503);
    expect(closed.report.failed).toEqual(['database']);
    expect(closed.report.checks.database!.detail).toMatch(/closed/);
  });

  it('goes 503 before the poller started and when its timer stopped firing, and back on the next beat', async () => {
    const s = await setup();
    const before = await healthz(s.base);
    expect(before.status).toBe(503);
    expect(before.report.checks.poller!.detail).toMatch(/not started/);

    // The poller's timers, wrapped as app.ts wraps them: a loop that re-arms itself every minute.
    const timers = s.heartbeat.wrap(s.clock);
    let running = true;
    const tick = () => {
      if (running) timers.setTimeout(tick, 60_000);
    };
    s.heartbeat.beat();
    tick();
    await s.clock.advance(30 * 60_000);
    expect((await healthz(s.base)).status).toBe(200);

    // The loop stops re-arming (stopped, or every slot held by a hung step): the heartbeat ages past 5 min.
    running = false;
    await s.clock.advance(60_000); // the last armed timer fires and does not re-arm
    await s.clock.advance(5 * 60_000);
    expect((await healthz(s.base)).status).toBe(200);
    await s.clock.advance(1);
    const stale = await healthz(s.base);
    expect(stale.status).toBe(503);
    expect(stale.report.failed).toEqual(['poller']);
    expect(stale.report.checks.poller!.detail).toMatch(/last ran 301 s ago \(limit 300 s\)/);

    running = true;
    tick();
    await s.clock.advance(60_000);
    expect((await healthz(s.base)).status).toBe(200);
  });

  it('reports a check that throws as failed instead of failing the request', async () => {
    const report = runChecks({
      fine: () => ({ ok: true, detail: '' }),
      broken: () => {
        throw new Error('boom');
      },
    });
    expect(report).toEqual({
      status: 'fail',
      failed: ['broken'],
      checks: { fine: { ok: true, detail: '' }, broken: { ok: false, detail: 'boom' } },
    });
  });
});
