import { DISCORD_EPOCH } from '../../emulators/discord/snowflake.js';
import { newJob } from '../../emulators/job-rows.js';
import type { Job, JobPatch, JobsRepository } from '../../src/db/jobs-repository.js';
import type { JobStatus } from '../../src/jobs/lifecycle.js';

/** A millisecond offset divisible by 1..8, so that guild `i` is on shard `i % n` for n = 1, 2, 4, 8. */
const BASE_MS = (() => {
  const ms = Date.UTC(2026, 0, 1) - DISCORD_EPOCH;
  return ms - (ms % 840);
})();

/** The id of guild `i`: a real-shaped snowflake whose shard under `n` shards is `i % n` (n dividing 840). */
export function guildIdFor(i: number): string {
  return ((BigInt(BASE_MS + i) << 22n) | 5n).toString();
}

/** Inserts a job for `guildId` (null: a DM) and moves it to `status` with `patch`, as a running bot would have. */
export function seedJob(
  jobs: JobsRepository,
  guildId: string | null,
  status: JobStatus,
  patch: JobPatch = {},
  now = Date.UTC(2026, 0, 1, 12),
): Job {
  const r = jobs.insertWithinQuota(newJob({ guildId }), { maxActive: 0, dailyLimit: 0, dayStart: 0 }, now);
  if (!r.ok) throw new Error(`seed refused: ${r.reason}`);
  if (status === 'waiting' && Object.keys(patch).length === 0) return r.job;
  const moved = jobs.transition(r.job.id, 'waiting', status, patch, now);
  if (!moved) throw new Error('seed transition refused');
  return moved;
}
