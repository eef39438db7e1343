import { JOB_STATUSES, statusesIn, type JobStatus } from '../jobs/lifecycle.js';
import type { Db } from './database.js';
import { sqlList } from './derived-schema.js';

/**
 * Jobs per status for the metrics gauge, cheap enough to run on every scrape.
 *
 * A plain `GROUP BY status` scans the whole table: measured at 116 ms for
 * 200,000 rows, an event-loop stall on every scrape that grows forever. An
 * index on `status` would fix that but makes SQLite pick it for the poller's
 * `due()` query over the `jobs_due` partial index (measured 0.4 → 109 ms), so
 * instead the count is kept incrementally, relying on two facts of the
 * schema: an ended status is final ("nothing runs for it any more",
 * src/jobs/lifecycle.ts: no event starts from an ended status), and job rows are never deleted. Every row below the
 * oldest unfinished job has therefore ended for good; its count is frozen
 * once, and each scrape only counts the rows from the oldest unfinished job
 * on, by rowid range. The first scrape of a process pays one full pass.
 *
 * If jobs ever get deleted or reopened, call `reset()` after doing so (or
 * replace this with a counter kept by the transitions).
 */
export class JobStatusCounts {
  private frozen = new Map<string, number>();
  /** Every row with `id < low` had an ended status when it was frozen. */
  private low = 0;
  private readonly countFrom;
  private readonly countRange;
  private readonly firstOpenFrom;
  private readonly maxId;
  private readonly read: () => Map<JobStatus, number>;

  constructor(db: Db) {
    this.countFrom = db.prepare<[number], { status: string; n: number }>(
      'SELECT status, count(*) AS n FROM jobs WHERE id >= ? GROUP BY status',
    );
    this.countRange = db.prepare<[number, number], { status: string; n: number }>(
      'SELECT status, count(*) AS n FROM jobs WHERE id >= ? AND id < ? GROUP BY status',
    );
    this.firstOpenFrom = db.prepare<[number], { id: number }>(
      `SELECT id FROM jobs WHERE id >= ? AND status NOT IN (${sqlList(statusesIn('ended'))}) ORDER BY id LIMIT 1`,
    );
    this.maxId = db.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM jobs');
    // One read transaction: the counts and the new watermark come from the same snapshot.
    this.read = db.transaction(() => this.readNow());
  }

  /** Jobs per status, every known status present (0 when none). */
  counts(): Map<JobStatus, number> {
    return this.read();
  }

  /** Forgets the frozen part; the next call counts every row again. */
  reset(): void {
    this.frozen = new Map();
    this.low = 0;
  }

  private readNow(): Map<JobStatus, number> {
    const out = new Map<JobStatus, number>(JOB_STATUSES.map((s) => [s, this.frozen.get(s) ?? 0]));
    for (const r of this.countFrom.all(this.low))
      out.set(r.status as JobStatus, (out.get(r.status as JobStatus) ?? 0) + r.n);

    const open = this.firstOpenFrom.get(this.low)?.id;
    const next = open ?? (this.maxId.get()?.id ?? this.low - 1) + 1;
    if (next > this.low) {
      for (const r of this.countRange.all(this.low, next))
        this.frozen.set(r.status, (this.frozen.get(r.status) ?? 0) + r.n);
      this.low = next;
    }
    return out;
  }
}

/** The poller's backlog: active jobs whose time has come but whose step has not started. */
export interface DueBacklog {
  jobs: number;
  /** The earliest `next_run_at` among them (ms), or null when none is due. */
  oldestDueAt: number | null;
}

/**
 * Reads the backlog through the `jobs_due` partial index (its WHERE clause is
 * repeated exactly so SQLite can use it). Running steps hold a lease that
 * pushes their `next_run_at` into the future, so they are not counted.
 */
export class DueBacklogQuery {
  private readonly stmt;

  constructor(db: Db) {
    this.stmt = db.prepare<[number], { n: number; t: number | null }>(
      `SELECT count(*) AS n, min(next_run_at) AS t FROM jobs
        WHERE status IN (${sqlList(statusesIn('scheduled'))}) AND next_run_at <= ?`,
    );
  }

  at(now: number): DueBacklog {
    const row = this.stmt.get(now);
    return { jobs: row?.n ?? 0, oldestDueAt: row?.t ?? null };
  }
}

/**
 * Proves the database takes writes: one upsert into `bot_state`. A write,
 * not a `BEGIN IMMEDIATE`, because what fails in practice (a full disk, a
 * read-only remount, a lock held by another process) shows only when pages
 * are written. The busy timeout is dropped to 0 for the probe: the
 * connection is synchronous, and a health check must not freeze the event
 * loop for the usual 5 s waiting on another process's lock.
 */
export class WriteProbe {
  private stmt: ReturnType<Db['prepare']> | undefined;

  constructor(private readonly db: Db) {}

  /** Undefined when the write went through, otherwise what failed. */
  check(now: number): string | undefined {
    const db = this.db;
    if (!db.open) return 'the database connection is closed';
    let previous: number | undefined;
    try {
      previous = db.pragma('busy_timeout', { simple: true }) as number;
      db.pragma('busy_timeout = 0');
      this.stmt ??= db.prepare(
        "INSERT INTO bot_state (key, value) VALUES ('health.write_probe_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      );
      this.stmt.run(String(now));
      return undefined;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const message = err instanceof Error ? err.message : String(err);
      return typeof code === 'string' ? `${code}: ${message}` : message;
    } finally {
      if (previous !== undefined && db.open) db.pragma(`busy_timeout = ${previous}`);
    }
  }
}
