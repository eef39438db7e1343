import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository, type Job } from '../../src/db/jobs-repository.js';
import { isIn } from '../../src/jobs/lifecycle.js';
import { Poller } from '../../src/jobs/poller.js';
import { createLogger } from '../../src/logger.js';
import { shardOfGuild } from '../../src/shard/ownership.js';
import { guildIdFor, seedJob } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const LEASE_MS = 120_000;
const log = createLogger({ level: 'silent', secrets: [] });

/**
 * 100 unfinished jobs over 40 servers (and DMs) as a layout of `oldCount`
 * shards left them when it stopped: polled jobs due, videos waiting to be
 * posted, and deliveries in the middle of their lease — a post gone out,
 * the lease held by a process of the old layout until 2 minutes from now.
 */
function oldLayout(file: string) {
  const db = openDatabase(file);
  const jobs = new JobsRepository(db);
  const seeded: Job[] = [];
  for (let i = 0; i < 100; i++) {
    const guild = i % 25 === 24 ? null : guildIdFor(i % 40);
    const kind = i % 4;
    if (kind === 0) seeded.push(seedJob(jobs, guild, 'queued', { upstreamId: `t${i}`, nextRunAt: NOW + i * 100 }));
    if (kind === 1) seeded.push(seedJob(jobs, guild, 'in_progress', { upstreamId: `t${i}`, nextRunAt: NOW + 5_000 }));
    if (kind === 2) seeded.push(seedJob(jobs, guild, 'completed', { upstreamId: `t${i}`, nextRunAt: NOW - 1_000 }));
    if (kind === 3)
      seeded.push(
        seedJob(jobs, guild, 'delivering', {
          upstreamId: `t${i}`,
          deliveryAttempts: 1,
          deliveryClaimedAt: NOW - 30_000,
          postAttemptedAt: NOW - 20_000,
          nextRunAt: NOW - 30_000 + LEASE_MS,
        }),
      );
  }
  db.close();
  return seeded;
}

/** The new layout: one poller per shard over the same file, each stepping what it is handed (recorded). */
function newLayout(file: string, count: number, clock: ManualClock) {
  const steps: { shard: number; job: Job; at: number }[] = [];
  const pollers = Array.from({ length: count }, (_, id) => {
    const db = openDatabase(file);
    const jobs = new JobsRepository(db, { id, count });
    const poller = new Poller(
      jobs,
      {
        async step(job) {
          steps.push({ shard: id, job, at: clock.now() });
          // The step's own outcome: nothing more is due for this test.
          jobs.patch(job.id, { nextRunAt: clock.now() + 24 * 60 * 60_000 }, clock.now());
        },
      },
      clock,
      clock,
      log,
      { concurrency: 8, leaseMs: LEASE_MS, resumeSpreadMs: 30_000, idleCheckMs: 60_000 },
    );
    return { poller, db };
  });
  return { steps, pollers };
}

describe('a change of shard count re-homes every unfinished job by itself', () => {
  it.each([
    [2, 4],
    [4, 2],
    [1, 3],
  ])(
    '%i → %i shards: each job stepped by exactly its new owner, leases of the old layout included',
    async (from, to) => {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sora-rehome-')), 'bot.db');
      const seeded = oldLayout(file);
      // Under the old layout the same jobs had other owners: the re-homing is real.
      const moved = seeded.filter((j) => shardOfGuild(j.guildId, from) !== shardOfGuild(j.guildId, to));
      expect(moved.length).toBeGreaterThan(10);

      const clock = new ManualClock(NOW);
      const { steps, pollers } = newLayout(file, to, clock);
      for (const p of pollers) p.poller.start();
      // The resume spread is 30 s; well within the old 2-minute leases.
      for (let t = 0; t < 40; t++) {
        await clock.advance(1_000);
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (const p of pollers) await p.poller.stop();
      for (const p of pollers) p.db.close();

      expect(steps.map((s) => s.job.id).sort((a, b) => a - b)).toEqual(seeded.map((j) => j.id));
      for (const s of steps) {
        expect(s.shard, `job ${s.job.id}`).toBe(shardOfGuild(s.job.guildId, to));
        expect(isIn(s.job.status, 'scheduled')).toBe(true);
      }
      // A delivery whose lease an old process held is taken over at start, not after its lease runs out…
      const leased = steps.filter((s) => s.job.status === 'delivering');
      expect(leased).toHaveLength(25);
      for (const s of leased) expect(s.at).toBeLessThan(NOW + 30_000);
      // …and keeps the fact that a post went out, so its new owner looks in the channel before posting.
      for (const s of leased) expect(s.job.postAttemptedAt).toBe(NOW - 20_000);
    },
  );
});
