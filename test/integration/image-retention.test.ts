import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository, type JobStatus } from '../../src/db/jobs-repository.js';
import { createLogger } from '../../src/logger.js';
import { ImageRetention } from '../../src/services/image-retention.js';
import { ImageStore } from '../../src/services/image-store.js';
import { newJob } from '../../emulators/job-rows.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'images-'));
  dirs.push(dir);
  const clock = new ManualClock(Date.now());
  const jobs = new JobsRepository(openDatabase(':memory:'));
  const retention = new ImageRetention(
    jobs,
    new ImageStore(dir, 1024),
    clock,
    clock,
    createLogger({ level: 'silent', secrets: [] }),
    { keepMs: 7 * DAY, everyMs: 6 * HOUR, orphanGraceMs: HOUR },
  );
  /** A job with a stored image, in `status`, that ended (or was last touched) `ago` ms before now. */
  const job = (status: JobStatus, ago: number) => {
    const at = clock.now() - ago;
    const r = jobs.insertWithinQuota(
      newJob({ imageName: 'ref.png' }),
      { maxActive: 0, dailyLimit: 0, dayStart: 0 },
      at,
    );
    if (!r.ok) throw new Error('insert refused');
    const file = path.join(dir, `job-${r.job.id}.png`);
    fs.writeFileSync(file, 'png');
    const ended = !['queued', 'in_progress', 'completed', 'delivering'].includes(status);
    jobs.transition(r.job.id, 'waiting', status, { imagePath: file, ...(ended ? { finishedAt: at } : {}) }, at);
    return { id: r.job.id, file };
  };
  /** A file in the store that no job refers to, last written `ago` ms before now. */
  const stray = (name: string, ago: number) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, 'x');
    const t = (clock.now() - ago) / 1000;
    fs.utimesSync(file, t, t);
    return file;
  };
  return { clock, jobs, retention, job, stray };
}

describe('ImageRetention', () => {
  it('deletes the images of jobs that ended before the retention window, and forgets them', async () => {
    const { jobs, retention, job } = setup();
    const old = job('delivered', 8 * DAY);
    const oldFailed = job('failed', 30 * DAY);
    const recent = job('delivered', 6 * DAY);
    const running = job('in_progress', 20 * DAY);

    expect(await retention.sweep()).toEqual({ expired: 2, orphans: 0 });
    for (const gone of [old, oldFailed]) {
      expect(fs.existsSync(gone.file)).toBe(false);
      expect(jobs.get(gone.id)?.imagePath).toBeNull();
      expect(jobs.get(gone.id)?.imageName).toBe('ref.png');
    }
    for (const kept of [recent, running]) {
      expect(fs.existsSync(kept.file)).toBe(true);
      expect(jobs.get(kept.id)?.imagePath).toBe(kept.file);
    }
    expect(await retention.sweep()).toEqual({ expired: 0, orphans: 0 });
  });

  it('removes files no job refers to once they are older than the grace period', async () => {
    const { retention, job, stray } = setup();
    const kept = job('delivered', DAY);
    const leftover = stray('job-999.png', 2 * HOUR);
    const partial = stray('job-1000.part', 2 * HOUR);
    const downloading = stray('job-1001.part', 60_000);

    expect(await retention.sweep()).toEqual({ expired: 0, orphans: 2 });
    expect(fs.existsSync(leftover)).toBe(false);
    expect(fs.existsSync(partial)).toBe(false);
    expect(fs.existsSync(downloading)).toBe(true);
    expect(fs.existsSync(kept.file)).toBe(true);
  });

  it('runs at start and then every period, until stopped', async () => {
    const { clock, jobs, retention, job } = setup();
    const first = job('delivered', 8 * DAY);
    const second = job('delivered', 7 * DAY - 3 * HOUR);
    retention.start();
    await clock.advance(0);
    // The sweep does file I/O; wait until it has finished and armed the next one.
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1));
    expect(jobs.get(first.id)?.imagePath).toBeNull();
    expect(fs.existsSync(first.file)).toBe(false);
    expect(jobs.get(second.id)?.imagePath).toBe(second.file);

    await clock.advance(6 * HOUR);
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1));
    expect(jobs.get(second.id)?.imagePath).toBeNull();
    expect(fs.existsSync(second.file)).toBe(false);

    await retention.stop();
    expect(clock.pendingTimers).toBe(0);
  });
});
