import { JOB_STATUSES, statusesIn, type JobStatus } from '../jobs/lifecycle.js';
import type { Db } from './database.js';

/** `'a', 'b'` for an SQL `IN (…)`; statuses are identifiers from the lifecycle table, never user input. */
export const sqlList = (statuses: readonly JobStatus[]): string => statuses.map((s) => `'${s}'`).join(', ');

/**
 * Schema objects whose SQL is computed from the lifecycle table rather than
 * written in a migration: the partial indexes of the scheduler, the line and
 * the capacity count over exactly their statuses, and triggers that refuse a
 * status the table does not know. A change of the table changes them at the next start.
 */
export function derivedSchema(): { name: string; sql: string }[] {
  const known = sqlList(JOB_STATUSES);
  const refuse = (event: 'INSERT' | 'UPDATE OF status') =>
    `CREATE TRIGGER jobs_status_${event === 'INSERT' ? 'insert' : 'update'} BEFORE ${event} ON jobs ` +
    `WHEN NEW.status NOT IN (${known}) BEGIN SELECT RAISE(ABORT, 'unknown job status'); END`;
  return [
    // The poller's only query: what is due next among the jobs it owns.
    {
      name: 'jobs_due',
      sql: `CREATE INDEX jobs_due ON jobs (next_run_at) WHERE status IN (${sqlList(statusesIn('scheduled'))})`,
    },
    // The dispatcher's line: who waits, oldest first, read in pages by id from the index alone.
    {
      name: 'jobs_line',
      sql: `CREATE INDEX jobs_line ON jobs (id, guild_id, user_id, next_run_at) WHERE status IN (${sqlList(statusesIn('inLine'))})`,
    },
    // Who holds the provider's running-job slots.
    {
      name: 'jobs_capacity',
      sql: `CREATE INDEX jobs_capacity ON jobs (guild_id, user_id) WHERE status IN (${sqlList(statusesIn('usesCapacity'))})`,
    },
    { name: 'jobs_status_insert', sql: refuse('INSERT') },
    { name: 'jobs_status_update', sql: refuse('UPDATE OF status') },
  ];
}

/**
 * Brings the derived objects in line with the table: each is recreated only
 * when its stored SQL differs, so an unchanged start writes nothing. One
 * immediate transaction, so two processes opening the file at once agree.
 */
export function syncDerivedSchema(db: Db): number {
  const stored = db.prepare<[string], { sql: string | null }>('SELECT sql FROM sqlite_master WHERE name = ?');
  return db
    .transaction(() => {
      let changed = 0;
      for (const object of derivedSchema()) {
        if (stored.get(object.name)?.sql === object.sql) continue;
        const kind = object.sql.startsWith('CREATE INDEX') ? 'INDEX' : 'TRIGGER';
        db.exec(`DROP ${kind} IF EXISTS ${object.name}`);
        db.exec(object.sql);
        changed++;
      }
      return changed;
    })
    .immediate();
}
