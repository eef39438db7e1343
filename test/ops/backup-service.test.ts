import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { integrityProblems } from '../../src/db/backup.js';
import { openDatabase } from '../../src/db/database.js';
import { BackupService, formatStamp, type BackupOutcome } from '../../src/ops/backup-service.js';

const HOUR = 60 * 60_000;
const DAY = 24 * HOUR;
const log = pino({ level: 'silent' });

function setup(opts: { keep?: number; dir?: string } = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'backup-svc-'));
  const dir = opts.dir ?? path.join(root, 'backups');
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  const db = openDatabase(path.join(root, 'sora-bot.db'));
  const outcomes: BackupOutcome[] = [];
  const make = () =>
    new BackupService(
      db,
      clock,
      clock,
      log,
      { dir, keep: opts.keep ?? 3, everyMs: DAY, firstDelayMs: 10 * 60_000, retryMs: HOUR, prefix: 'sora-bot' },
      (o) => outcomes.push(o),
    );
  const names = () =>
    fs
      .readdirSync(dir)
      .filter((n) => !n.startsWith('unrelated'))
      .sort();
  return { root, dir, clock, db, outcomes, make, names };
}

describe('BackupService', () => {
  it('backs up after the first delay, then once a day, keeping the newest copies', async () => {
    const s = setup({ keep: 3 });
    const service = s.make();
    service.start();
    fs.writeFileSync(path.join(s.dir, 'unrelated.db'), 'not ours');

    await s.clock.advance(10 * 60_000 - 1);
    expect(s.names()).toEqual([]);
    await s.clock.advance(1);
    await service.whenIdle();
    const first = formatStamp(Date.UTC(2026, 0, 1, 12, 10));
    expect(s.names()).toEqual([`sora-bot-${first}.db`]);

    for (let day = 1; day <= 4; day++) {
      await s.clock.advance(DAY);
      await service.whenIdle();
    }
    // Five taken, the newest three kept; a file the service did not name is left alone.
    expect(s.names()).toEqual([2, 3, 4].map((d) => `sora-bot-${formatStamp(Date.UTC(2026, 0, 1 + d, 12, 10))}.db`));
    expect(fs.existsSync(path.join(s.dir, 'unrelated.db'))).toBe(true);
    expect(s.outcomes.map((o) => o.ok)).toEqual([true, true, true, true, true]);
    const copy = new Database(path.join(s.dir, s.names()[2]!), { readonly: true });
    expect(integrityProblems(copy)).toEqual([]);
    copy.close();
    await service.stop();
    expect(s.clock.pendingTimers).toBe(0);
  });

  it('follows the newest copy on disk across restarts, and clears leftovers of a crash mid-backup', async () => {
    const s = setup();
    fs.mkdirSync(s.dir, { recursive: true });
    // A copy from three hours ago (a previous process), and a half-written one.
    fs.writeFileSync(path.join(s.dir, `sora-bot-${formatStamp(s.clock.now() - 3 * HOUR)}.db`), '');
    fs.writeFileSync(path.join(s.dir, `.sora-bot-${formatStamp(s.clock.now() - HOUR)}.db.1a2b3c4d.partial`), 'x');
    const service = s.make();
    service.start();
    expect(s.names()).toEqual([`sora-bot-${formatStamp(s.clock.now() - 3 * HOUR)}.db`]);
    await s.clock.advance(21 * HOUR - 1);
    expect(s.outcomes).toHaveLength(0);
    await s.clock.advance(1);
    await service.whenIdle();
    expect(s.outcomes).toMatchObject([{ ok: true }]);
    await service.stop();
  });

  it('retries an hour after a failure instead of waiting a day', async () => {
    const s = setup();
    const service = s.make();
    service.start();
    // The folder disappears (an unmounted disk): the backup fails.
    fs.rmSync(s.dir, { recursive: true });
    await s.clock.advance(10 * 60_000);
    await service.whenIdle();
    expect(s.outcomes).toMatchObject([{ ok: false }]);
    fs.mkdirSync(s.dir);
    await s.clock.advance(HOUR);
    await service.whenIdle();
    expect(s.outcomes.map((o) => o.ok)).toEqual([false, true]);
    expect(s.names()).toHaveLength(1);
    await service.stop();
  });

  it('stop() waits for a backup in progress, so the database can then be closed', async () => {
    const s = setup();
    const service = s.make();
    service.start();
    const running = service.runNow();
    await service.stop();
    s.db.close();
    expect((await running).ok).toBe(true);
    expect(s.names()).toHaveLength(1);
    expect(s.clock.pendingTimers).toBe(0);
  });
});
