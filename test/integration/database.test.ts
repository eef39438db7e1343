import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMigrations, migrate, openDatabase, type Migration } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';

function tmpFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'db-')), 'nested', 'bot.db');
}

const tables = (db: ReturnType<typeof openDatabase>) =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
    (r) => r.name,
  );

describe('database', () => {
  it('creates the folder, applies every migration from empty, and sets the pragmas', () => {
    const file = tmpFile();
    const db = openDatabase(file);
    const migrations = loadMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.at(-1)!.version);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(tables(db)).toEqual(expect.arrayContaining(['jobs', 'guild_settings', 'guild_settings_audit', 'bot_state']));
    db.close();
  });

  it('re-running migrations changes nothing', () => {
    const file = tmpFile();
    const first = openDatabase(file);
    first.prepare("INSERT INTO bot_state (key, value) VALUES ('k', 'v')").run();
    const schema = first.prepare('SELECT sql FROM sqlite_master ORDER BY name').all();
    first.close();
    const again = openDatabase(file);
    expect(migrate(again, loadMigrations())).toBe(0);
    expect(again.prepare('SELECT sql FROM sqlite_master ORDER BY name').all()).toEqual(schema);
    expect(again.prepare("SELECT value FROM bot_state WHERE key = 'k'").get()).toEqual({ value: 'v' });
    again.close();
  });

  it('upgrades from an earlier schema version, keeping data', () => {
    const migrations = loadMigrations();
    const next: Migration = {
      version: migrations.at(-1)!.version + 1,
      name: 'next.sql',
      sql: 'ALTER TABLE bot_state ADD COLUMN note TEXT;',
    };
    const file = tmpFile();
    const db = openDatabase(file, migrations);
    db.prepare("INSERT INTO bot_state (key, value) VALUES ('k', 'v')").run();
    expect(migrate(db, [...migrations, next])).toBe(1);
    expect(db.pragma('user_version', { simple: true })).toBe(next.version);
    expect(db.prepare("SELECT key, value, note FROM bot_state WHERE key = 'k'").get()).toEqual({
      key: 'k',
      value: 'v',
      note: null,
    });
    db.close();
  });

  it('upgrades a database of the first schema: later columns start unknown, a delivery caught mid-way looks first', () => {
    const [initial] = loadMigrations();
    const file = tmpFile();
    const old = openDatabase(file, [initial!]);
    // Rows as the first version wrote them (its CHECK knew only its own statuses).
    const insert = old.prepare(
      `INSERT INTO jobs (interaction_id, application_id, channel_id, user_id, locale, token_expires_at,
         attachment_size_limit, prompt, model, seconds, size, watermark, private, status, delivery_attempts,
         delivery_claimed_at, created_at, updated_at)
       VALUES (?, '1', '2', '3', 'en-US', 0, 10, 'p', 'sora-2', 10, '1280x720', 0, 0, ?, ?, ?, 1000, 1000)`,
    );
    const submitting = Number(insert.run('1300000000000000001', 'submitting', 0, null).lastInsertRowid);
    const delivering = Number(insert.run('1300000000000000002', 'delivering', 2, 5_000).lastInsertRowid);
    old.close();
    const upgraded = openDatabase(file);
    const jobs = new JobsRepository(upgraded);
    expect(jobs.get(submitting)).toMatchObject({
      status: 'submitting',
      startedAt: null,
      startedProgress: null,
      deadlineAt: null,
      postAttemptedAt: null,
      cancelledBy: null,
      cost: 0,
    });
    expect(jobs.get(delivering)).toMatchObject({ status: 'delivering', postAttemptedAt: 5_000 });
    upgraded.close();
  });

  it('rolls back a failing migration as a whole', () => {
    const migrations = loadMigrations();
    const broken: Migration = {
      version: migrations.at(-1)!.version + 1,
      name: 'broken.sql',
      sql: 'CREATE TABLE half (x); SELECT * FROM missing_table;',
    };
    const db = openDatabase(':memory:', migrations);
    expect(() => migrate(db, [...migrations, broken])).toThrow();
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.at(-1)!.version);
    expect(tables(db)).not.toContain('half');
    db.close();
  });
});
