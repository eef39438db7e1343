import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMigrations, migrate, openDatabase, type Migration } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { newJob } from '../../emulators/job-rows.js';

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

  it('002 gives jobs saved before it an unknown run start', () => {
    const [initial] = loadMigrations();
    const file = tmpFile();
    const old = openDatabase(file, [initial!]);
    // Written as 001 knew a job: today's repository names columns later migrations added.
    const j = newJob();
    const id = Number(
      old
        .prepare(
          `INSERT INTO jobs (interaction_id, application_id, guild_id, channel_id, user_id, locale, interaction_token,
             token_expires_at, attachment_size_limit, prompt, model, seconds, size, watermark, private, status,
             created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 'submitting', 1000, 1000)`,
        )
        .run(
          j.interactionId,
          j.applicationId,
          j.guildId,
          j.channelId,
          j.userId,
          j.locale,
          j.interactionToken,
          j.tokenExpiresAt,
          j.attachmentSizeLimit,
          j.prompt,
          j.model,
          j.seconds,
          j.size,
        ).lastInsertRowid,
    );
    old.close();
    const upgraded = openDatabase(file);
    expect(new JobsRepository(upgraded).get(id)).toMatchObject({
      id,
      status: 'submitting',
      startedAt: null,
      startedProgress: null,
      cost: 0,
    });
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
