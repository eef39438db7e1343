import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { JOB_STATUSES, statusesIn, type JobStatus } from '../../src/jobs/lifecycle.js';
import { DueBacklogQuery, JobStatusCounts, WriteProbe } from '../../src/db/ops-queries.js';
import { newJob } from '../../emulators/job-rows.js';
import { mulberry32 } from '../../scripts/bench/sim/prng.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const unlimited = { maxActive: 0, dailyLimit: 0, dayStart: Date.UTC(2026, 0, 1) };

/**
 * Where a job may go next, for this walk: anywhere, from a status that has not
 * ended; nowhere from one that has. That is all the counter relies on (no
 * event starts from an ended status: test/unit/lifecycle.test.ts).
 */
const NEXT: Partial<Record<JobStatus, JobStatus[]>> = Object.fromEntries(
  JOB_STATUSES.filter((s) => !statusesIn('ended').includes(s)).map((s) => [s, JOB_STATUSES.filter((t) => t !== s)]),
);

function fullCount(db: Db): Map<string, number> {
  const out = new Map<string, number>(JOB_STATUSES.map((s) => [s, 0]));
  for (const r of db.prepare('SELECT status, count(*) AS n FROM jobs GROUP BY status').all() as Array<{
    status: string;
    n: number;
  }>)
    out.set(r.status, r.n);
  return out;
}

function tempDbFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ops-q-')), 'bot.db');
}

describe('JobStatusCounts', () => {
  it('always equals a full GROUP BY while jobs are added and move through the state machine', () => {
    const db = openDatabase(':memory:');
    const jobs = new JobsRepository(db);
    const counts = new JobStatusCounts(db);
    const rng = mulberry32(18);
    const open: Array<{ id: number; status: JobStatus }> = [];
    for (let step = 0; step < 3000; step++) {
      const r = rng();
      if (r < 0.3 || open.length === 0) {
        const inserted = jobs.insertWithinQuota(newJob(), unlimited, NOW);
        if (!inserted.ok) throw new Error('insert refused');
        open.push({ id: inserted.job.id, status: 'waiting' });
      } else {
        // Older jobs are as likely to move as new ones, so the oldest unfinished row moves around.
        const i = Math.floor(rng() * open.length);
        const job = open[i]!;
        const choices = NEXT[job.status]!;
        const to = choices[Math.floor(rng() * choices.length)]!;
        expect(jobs.transition(job.id, job.status, to, {}, NOW)).toBeDefined();
        job.status = to;
        if (!NEXT[to]) open.splice(i, 1);
      }
      if (rng() < 0.1) expect(counts.counts()).toEqual(fullCount(db));
    }
    expect(counts.counts()).toEqual(fullCount(db));
    const total = [...counts.counts().values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(800);
  });

  it('only rescans rows from the oldest unfinished job on', () => {
    const db = openDatabase(':memory:');
    const jobs = new JobsRepository(db);
    const ids: number[] = [];
    for (let i = 0; i < 50; i++) {
      const r = jobs.insertWithinQuota(newJob(), unlimited, NOW);
      if (r.ok) ids.push(r.job.id);
    }
    for (const id of ids.slice(0, 40)) jobs.transition(id, 'waiting', 'submit_failed', {}, NOW);
    const counts = new JobStatusCounts(db);
    expect(counts.counts().get('submit_failed')).toBe(40);
    // Rows below the watermark are frozen: a change behind its back (which the schema's rules forbid)
    // is not seen, which shows the scrape no longer reads them.
    db.prepare("UPDATE jobs SET status = 'delivered' WHERE id = ?").run(ids[0]);
    expect(counts.counts().get('submit_failed')).toBe(40);
    counts.reset();
    expect(counts.counts().get('submit_failed')).toBe(39);
    expect(counts.counts().get('delivered')).toBe(1);
  });

  it('reports every status, zero when empty', () => {
    const counts = new JobStatusCounts(openDatabase(':memory:'));
    expect([...counts.counts().keys()].sort()).toEqual([...JOB_STATUSES].sort());
    expect([...counts.counts().values()].every((n) => n === 0)).toBe(true);
  });
});

describe('DueBacklogQuery', () => {
  it('counts active jobs whose time has come, not leased or ended ones', () => {
    const db = openDatabase(':memory:');
    const jobs = new JobsRepository(db);
    const make = (status: JobStatus, nextRunAt: number | null) => {
      const r = jobs.insertWithinQuota(newJob(), unlimited, NOW);
      if (!r.ok) throw new Error('insert refused');
      jobs.transition(r.job.id, 'waiting', status, { nextRunAt }, NOW);
    };
    make('queued', NOW - 5_000);
    make('in_progress', NOW - 1_000);
    make('completed', NOW);
    make('in_progress', NOW + 120_000); // leased by a running step
    make('delivered', NOW - 60_000); // ended: never due
    expect(new DueBacklogQuery(db).at(NOW)).toEqual({ jobs: 3, oldestDueAt: NOW - 5_000 });
    expect(new DueBacklogQuery(db).at(NOW - 10_000)).toEqual({ jobs: 0, oldestDueAt: null });
  });
});

describe('WriteProbe', () => {
  it('passes on a writable database and fails on a closed one', () => {
    const db = openDatabase(tempDbFile());
    const probe = new WriteProbe(db);
    expect(probe.check(NOW)).toBeUndefined();
    db.close();
    expect(probe.check(NOW)).toMatch(/closed/);
  });

  it('fails on a read-only connection', () => {
    const file = tempDbFile();
    openDatabase(file).close();
    const ro = new Database(file, { readonly: true });
    expect(new WriteProbe(ro).check(NOW)).toMatch(/SQLITE_READONLY/);
    ro.close();
  });

  it('fails at once while another process holds the write lock, then recovers, keeping the busy timeout', () => {
    const file = tempDbFile();
    const db = openDatabase(file);
    const probe = new WriteProbe(db);
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    expect(probe.check(NOW)).toMatch(/SQLITE_BUSY/);
    other.exec('COMMIT');
    expect(probe.check(NOW)).toBeUndefined();
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    other.close();
    db.close();
  });
});
