import { insertedJob, type Job, type NewJob } from '../src/db/jobs-repository.js';

let seq = 0;

/** A valid new job row (for tests and benchmarks that fill the database directly); override what matters. */
export function newJob(overrides: Partial<NewJob> = {}): NewJob {
  seq++;
  return {
    interactionId: `${1_300_000_000_000_000_000n + BigInt(seq)}`,
    applicationId: '1100000000000000001',
    guildId: '1200000000000000001',
    channelId: '1200000000000000002',
    userId: '1200000000000000003',
    locale: 'en-US',
    interactionToken: `token-${seq}`,
    tokenExpiresAt: Date.UTC(2026, 0, 1, 12, 15),
    attachmentSizeLimit: 10 * 1024 * 1024,
    prompt: 'a corgi surfing',
    model: 'sora-2',
    seconds: 10,
    size: '1280x720',
    watermark: false,
    private: false,
    overrides: [],
    imagePath: null,
    imageName: null,
    imageType: null,
    imageUrl: null,
    characterUrl: null,
    characterTimestamps: null,
    characterFromTask: null,
    characterCreate: null,
    ...overrides,
  };
}

/**
 * A whole job row as the repository returns it (for tests of pure functions
 * over a Job); override what matters. A fresh row is the repository's own
 * `insertedJob`, which its tests hold equal to a read of an inserted row.
 */
export function jobRow(overrides: Partial<Job> = {}): Job {
  return { ...insertedJob(newJob(), 0, Date.UTC(2026, 0, 1, 12)), id: 1, updatedAt: 0, ...overrides };
}
