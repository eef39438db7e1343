import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { WalCheckpointer } from '../../src/db/checkpointer.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { createLogger } from '../../src/logger.js';

const log = createLogger({ level: 'silent', secrets: [] });
const opened: { db: Db; checkpointer?: WalCheckpointer }[] = [];

function fileDb(): Db {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wal-checkpointer-'));
  const db = openDatabase(path.join(dir, 'bot.db'));
  db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  opened.push({ db });
  return db;
}

/** Commits one row of 4 KiB at a time: each commit adds at least a page to the WAL. */
function write(db: Db, rows: number): void {
  const insert = db.prepare('INSERT INTO filler (body) VALUES (?)');
  for (let i = 0; i < rows; i++) insert.run('x'.repeat(4096));
}

afterEach(async () => {
  for (const { db, checkpointer } of opened.splice(0)) {
    await checkpointer?.close();
    db.close();
  }
});

describe('WAL checkpoints on their own thread', () => {
  it('the main connection no longer checkpoints inside its commits; the thread does, on each tick', async () => {
    // Without the checkpointer: SQLite's automatic checkpoint (1,000 pages) ran inside the commits.
    const plain = fileDb();
    write(plain, 1_500);
    const [before] = plain.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    expect(before!.log).toBeLessThan(1_500);

    const db = fileDb();
    const clock = new ManualClock();
    const checkpointer = WalCheckpointer.start(db, clock, log, 1_000)!;
    opened[opened.length - 1]!.checkpointer = checkpointer;
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    write(db, 1_500);
    const first = checkpointer.next();
    await clock.advance(1_000);
    const result = await first;
    // Every commit's pages were still in the WAL, and the thread copied all of them.
    expect(result.log).toBeGreaterThanOrEqual(3_000);
    expect(result.checkpointed).toBe(result.log);
    expect(result.busy).toBe(0);
    const walBytes = fs.statSync(`${db.name}-wal`).size;

    // Checkpointed in full, the WAL starts over: writing as much again does not grow the file.
    write(db, 1_500);
    const second = checkpointer.next();
    await clock.advance(1_000);
    expect((await second).checkpointed).toBe((await second).log);
    expect(fs.statSync(`${db.name}-wal`).size).toBeLessThanOrEqual(walBytes);
    expect(db.prepare('SELECT count(*) AS n FROM filler').get()).toEqual({ n: 3_000 });
  });

  it('once the thread is gone, the main connection checkpoints by itself again', async () => {
    const db = fileDb();
    const checkpointer = WalCheckpointer.start(db, new ManualClock(), log)!;
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    await checkpointer.close();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000);
    write(db, 1_500);
    const [after] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    expect(after!.log).toBeLessThan(1_500);
  });

  it('an in-memory database has no WAL: no thread', () => {
    const db = openDatabase(':memory:');
    opened.push({ db });
    expect(WalCheckpointer.start(db, new ManualClock(), log)).toBeUndefined();
  });
});
