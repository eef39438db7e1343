import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { syncDerivedSchema } from './derived-schema.js';

export type Db = Database.Database;

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Reads `NNN_name.sql` files in version order. */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: fs.readFileSync(path.join(dir, f), 'utf8') }));
}

/**
 * Opens the one connection the bot uses.
 *
 * - WAL: readers (autocomplete, /sora-jobs) never wait for the poller's writes.
 * - synchronous=NORMAL: in WAL mode a commit is durable against a process
 *   crash (the case that matters: kill -9, OOM, a deploy); only a power loss
 *   can drop the last few commits, and in exchange each commit skips an
 *   fsync, which keeps the poller's many small writes cheap.
 * - busy_timeout: a second process (deploy-commands, a backup) briefly
 *   holding the lock makes us wait instead of failing.
 *
 * After the migrations, the objects derived from the lifecycle table (the
 * scheduler's index, the status triggers) are brought in line with it.
 */
export function openDatabase(file: string, migrations: Migration[] = loadMigrations()): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  syncDerivedSchema(db);
  return db;
}

/**
 * Applies every migration above `user_version`, each in its own immediate
 * transaction that reads the version again first: of several processes
 * opening one file at once (shards), one applies each migration and the
 * others see it done.
 */
export function migrate(db: Db, migrations: Migration[]): number {
  let applied = 0;
  for (const m of migrations) {
    const ran = db
      .transaction(() => {
        if ((db.pragma('user_version', { simple: true }) as number) >= m.version) return false;
        db.exec(m.sql);
        db.pragma(`user_version = ${m.version}`);
        return true;
      })
      .immediate();
    if (ran) applied++;
  }
  return applied;
}
