import type { JobPatch, JobsRepository } from '../../src/db/jobs-repository.js';
import { TuziClient } from '../../src/services/tuzi/client.js';
import { newJob } from '../../emulators/job-rows.js';

/** Where a seeded job came from. */
export interface SeedPlace {
  guildId: string;
  channelId: string;
  userId: string;
}

/**
 * Puts `n` jobs that exist upstream (created on the Tuzi emulator at
 * `tuziUrl`) into the database as unfinished — `queued`, due now, their
 * interaction tokens long expired — as a previous process would have left
 * them. `place(i)` says whose job `i` is; `patch` adds to every row.
 */
export async function seedUnfinished(options: {
  tuziUrl: string;
  jobs: JobsRepository;
  n: number;
  now: number;
  applicationId: string;
  place: (i: number) => SeedPlace;
  patch?: JobPatch;
}): Promise<void> {
  const { tuziUrl, jobs, n, now, applicationId, place, patch = {} } = options;
  const client = new TuziClient({ baseUrl: tuziUrl, apiKey: 'sk-bench', maxConcurrency: 32 });
  const ids: string[] = [];
  try {
    for (let i = 0; i < n; i += 200) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(200, n - i) }, (_, k) =>
          client.createVideo({ model: 'sora-2', prompt: `seeded ${i + k}` }),
        ),
      );
      ids.push(...batch.map((t) => t.id));
    }
  } finally {
    await client.close();
  }
  jobs.exclusive(() => {
    ids.forEach((upstreamId, i) => {
      const r = jobs.insertWithinQuota(
        newJob({
          ...place(i),
          interactionId: `${1_400_000_000_000_000_000n + BigInt(i)}`,
          applicationId,
          interactionToken: 'expired-token-xxxxxxxxxxxxxxxxxxxxxx',
          tokenExpiresAt: now - 1,
          prompt: `seeded ${i}`,
        }),
        { maxActive: 0, dailyLimit: 0, dayStart: 0 },
        now,
      );
      if (r.ok)
        jobs.transition(
          r.job.id,
          'waiting',
          'queued',
          { upstreamId, submittedAt: now, progressChangedAt: now, nextRunAt: now, ...patch },
          now,
        );
    });
  });
}
