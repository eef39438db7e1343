import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKUP_TAKEN_AT_KEY } from '../../src/db/backup.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { settleRestoredCopy } from '../../src/db/restored-copy.js';
import { StateRepository } from '../../src/db/state-repository.js';
import { JOB_STATUSES, type JobStatus } from '../../src/jobs/lifecycle.js';
import { guildIdFor, seedJob } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const TAKEN_AT = NOW - 3_600_000;

/** One job in every status, each created at a time of its own; the copy's stamp if `stamped`. */
function copyWithEveryStatus(file: string, stamped: boolean) {
  const db = openDatabase(file);
  const jobs = new JobsRepository(db);
  const ids = new Map<JobStatus, number>();
  JOB_STATUSES.forEach((status, i) => {
    const patch = status === 'delivering' ? { postAttemptedAt: NOW - 1_000 } : {};
    ids.set(status, seedJob(jobs, guildIdFor(i), status, { nextRunAt: NOW, ...patch }, NOW - (i + 1) * 60_000).id);
  });
  if (stamped) new StateRepository(db).set(BACKUP_TAKEN_AT_KEY, String(TAKEN_AT));
  return { db, jobs, ids };
}

const tempFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sora-restored-')), 'bot.db');

describe('settleRestoredCopy', () => {
  it('marks jobs upstream or done to look first, sends nothing in line again, and removes the stamp', () => {
    const { db, jobs, ids } = copyWithEveryStatus(tempFile(), true);
    const before = new Map([...ids].map(([s, id]) => [s, jobs.get(id)!]));
    expect(settleRestoredCopy(db, NOW)).toEqual({ takenAt: TAKEN_AT, lookFirst: 3, interrupted: 1 });
    for (const [status, id] of ids) {
      const job = jobs.get(id)!;
      if (['queued', 'in_progress', 'completed'].includes(status)) {
        // From its start: a post made at any time after it was created is found.
        expect(job.postAttemptedAt, status).toBe(job.createdAt);
        expect(job.status).toBe(status);
      } else if (status === 'delivering') {
        // Already looking from its first attempt, which is later than any post of it.
        expect(job.postAttemptedAt).toBe(NOW - 1_000);
      } else if (status === 'waiting') {
        // Settled at start as a job caught mid-submission: interrupted, never resent (JobService.settleInterrupted).
        expect(job.status).toBe('submitting');
      } else {
        expect(job, status).toEqual(before.get(status));
      }
    }
    expect(new StateRepository(db).get(BACKUP_TAKEN_AT_KEY)).toBeUndefined();
    // Once: the restored database is the live one from now on.
    expect(settleRestoredCopy(db, NOW)).toBeUndefined();
    db.close();
  });

  it('leaves the live database (no stamp) alone', () => {
    const { db, jobs, ids } = copyWithEveryStatus(tempFile(), false);
    const before = [...ids.values()].map((id) => jobs.get(id));
    expect(settleRestoredCopy(db, NOW)).toBeUndefined();
    expect([...ids.values()].map((id) => jobs.get(id))).toEqual(before);
    db.close();
  });

  it('is done once, by whichever connection opens the copy first: the others find no stamp', () => {
    const file = tempFile();
    copyWithEveryStatus(file, true).db.close();
    // Connections of their own, as the manager and its shards (or shards restarted together) have.
    const connections = [0, 1, 2, 3].map(() => openDatabase(file));
    const results = connections.map((db) => settleRestoredCopy(db, NOW));
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    for (const db of connections) db.close();
  });
});
