import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKUP_TAKEN_AT_KEY, backupDatabase, integrityProblems, openForBackup } from '../../src/db/backup.js';
import { openDatabase, type Db } from '../../src/db/database.js';

const TAKEN_AT = Date.UTC(2026, 0, 1, 3);
const DRIVER = createRequire(import.meta.url).resolve('better-sqlite3');
const ROOT = path.resolve(import.meta.dirname, '../..');

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'backup-'));
}

/** A bot database with some bulk in it, so a copy takes many backup steps (4 KiB pages). */
function liveDatabase(dir: string): { file: string; db: Db } {
  const file = path.join(dir, 'bot.db');
  const db = openDatabase(file);
  db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO filler (data) VALUES (randomblob(3000))');
  db.transaction(() => {
    for (let i = 0; i < 3000; i++) insert.run();
  })();
  return { file, db };
}

/**
 * Another connection, on its own thread, writing as fast as it can (small
 * transactions, as the bot's poller does) until told to stop; it answers
 * with how many rows it wrote.
 */
function startWriter(file: string): { stop: () => Promise<number>; started: Promise<void> } {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const Database = require(workerData.driver);
    const db = new Database(workerData.file);
    db.pragma('busy_timeout = 5000');
    const insert = db.prepare('INSERT INTO filler (data) VALUES (randomblob(3000))');
    const touch = db.prepare("UPDATE filler SET data = randomblob(3000) WHERE id = ?");
    let stop = false, n = 0;
    parentPort.on('message', () => { stop = true; });
    (function loop() {
      for (let i = 0; i < 20; i++) { insert.run(); touch.run(1 + (n % 3000)); n++; }
      if (n === 20) parentPort.postMessage('started');
      if (stop) { db.close(); parentPort.postMessage(n); return; }
      setImmediate(loop);
    })();
    `,
    { eval: true, workerData: { driver: DRIVER, file } },
  );
  let startedResolve!: () => void;
  const started = new Promise<void>((r) => (startedResolve = r));
  const done = new Promise<number>((resolve, reject) => {
    worker.on('message', (m: unknown) => (m === 'started' ? startedResolve() : resolve(m as number)));
    worker.once('error', reject);
  });
  return {
    started,
    stop: async () => {
      worker.postMessage('stop');
      const n = await done;
      await worker.terminate();
      return n;
    },
  };
}

function openCopy(file: string): Db {
  return new Database(file, { readonly: true, fileMustExist: true });
}

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

describe('backupDatabase', () => {
  it('takes a copy while another connection writes, and the copy opens and passes integrity_check', async () => {
    const dir = tempDir();
    const { file, db } = liveDatabase(dir);
    db.close(); // the writer and the backup are separate connections, as the bot and `npm run backup` are
    const writer = startWriter(file);
    await writer.started;
    const source = openForBackup(file);
    const before = (source.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n;
    const result = await backupDatabase(source, path.join(dir, 'copy.db'), { takenAt: TAKEN_AT, mode: 'whole' });
    const written = await writer.stop();
    source.close();
    expect(written).toBeGreaterThan(0);

    const copy = openCopy(result.file);
    cleanup.push(() => copy.close());
    expect(integrityProblems(copy)).toEqual([]);
    const rows = (copy.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n;
    // A snapshot from some moment during the run: at least what was there before, at most what was written.
    expect(rows).toBeGreaterThanOrEqual(before);
    expect(rows).toBeLessThanOrEqual(3000 + written);
    expect(copy.prepare('SELECT count(*) AS n FROM jobs').get()).toEqual({ n: 0 }); // the bot's schema came along
  });

  it('copies step by step from the connection that is writing (the daily backup inside the bot)', async () => {
    const dir = tempDir();
    const { db } = liveDatabase(dir);
    const insert = db.prepare('INSERT INTO filler (data) VALUES (randomblob(3000))');
    let writes = 0;
    let writing = true;
    // Writes on the same connection between the backup's steps, as the bot's poller would.
    const loop = () => {
      if (!writing) return;
      insert.run();
      writes++;
      setImmediate(loop);
    };
    setImmediate(loop);
    const result = await backupDatabase(db, path.join(dir, 'daily.db'), { takenAt: TAKEN_AT });
    writing = false;
    expect(writes).toBeGreaterThan(0);
    expect(result.pages).toBeGreaterThan(1000);

    const copy = openCopy(result.file);
    cleanup.push(() => copy.close());
    expect(integrityProblems(copy)).toEqual([]);
    const rows = (copy.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n;
    expect(rows).toBeGreaterThanOrEqual(3000);
    expect(rows).toBeLessThanOrEqual(3000 + writes);
    db.close();
  });

  it('leaves one self-contained file, readable by its owner only, stamped with when it was taken', async () => {
    const dir = tempDir();
    const { db } = liveDatabase(dir);
    const result = await backupDatabase(db, path.join(dir, 'copy.db'), { takenAt: TAKEN_AT });
    db.close();
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('copy') || f.startsWith('.copy'))).toEqual(['copy.db']);
    expect(fs.statSync(result.file).mode & 0o777).toBe(0o600);
    const copy = openCopy(result.file);
    cleanup.push(() => copy.close());
    expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
    expect(copy.prepare('SELECT value FROM bot_state WHERE key = ?').get(BACKUP_TAKEN_AT_KEY)).toEqual({
      value: String(TAKEN_AT),
    });
  });

  it('refuses to overwrite a file or the live database, and leaves nothing behind when it fails', async () => {
    const dir = tempDir();
    const { file, db } = liveDatabase(dir);
    fs.writeFileSync(path.join(dir, 'taken.db'), 'x');
    await expect(backupDatabase(db, path.join(dir, 'taken.db'), { takenAt: TAKEN_AT })).rejects.toThrow(
      /already exists/,
    );
    await expect(backupDatabase(db, file, { takenAt: TAKEN_AT })).rejects.toThrow(/live database/);
    await expect(backupDatabase(db, `${file}-wal`, { takenAt: TAKEN_AT })).rejects.toThrow(/live database/);
    await expect(backupDatabase(db, path.join(dir, 'missing', 'copy.db'), { takenAt: TAKEN_AT })).rejects.toThrow();
    expect(fs.readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
    db.close();
  });
});

function withoutDatabasePath(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DATABASE_PATH;
  return env;
}

describe('npm run backup', () => {
  function run(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'scripts/backup.ts'), ...args],
        {
          cwd,
          env: withoutDatabasePath(),
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('copies the live database while another connection writes to it', async () => {
    const dir = tempDir();
    const { file, db } = liveDatabase(dir);
    db.close();
    const writer = startWriter(file);
    await writer.started;
    const target = path.join(dir, 'manual.db');
    const r = await run([target, '--database', file], dir);
    await writer.stop();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Backed up .* \(\d+ bytes, checked\)/);
    const copy = openCopy(target);
    cleanup.push(() => copy.close());
    expect(integrityProblems(copy)).toEqual([]);
  });

  it('reads DATABASE_PATH from .env and explains what went wrong', async () => {
    const dir = tempDir();
    const { db } = liveDatabase(dir);
    db.close();
    fs.writeFileSync(path.join(dir, '.env'), 'DATABASE_PATH=./bot.db\n');
    expect((await run(['copy.db'], dir)).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'copy.db'))).toBe(true);
    const again = await run(['copy.db'], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    const missing = await run(['x.db', '--database', path.join(dir, 'nope.db')], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/Cannot open the database/);
    expect((await run([], dir)).code).toBe(2);
  });
});
