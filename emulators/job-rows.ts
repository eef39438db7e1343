import type { Job, NewJob } from '../src/db/jobs-repository.js';

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

/** A whole job row as the repository returns it (for tests of pure functions over a Job); override what matters. */
export function jobRow(overrides: Partial<Job> = {}): Job {
  return {
    ...newJob(),
    id: 1,
    messageId: null,
    messageGone: false,
    status: 'waiting',
    upstreamId: null,
    progress: 0,
    progressChangedAt: null,
    startedAt: null,
    startedProgress: null,
    videoUrl: null,
    errorCode: null,
    errorMessage: null,
    createdAt: Date.UTC(2026, 0, 1, 12),
    submittedAt: null,
    deadlineAt: null,
    finishedAt: null,
    nextRunAt: null,
    pollCount: 0,
    errorStreak: 0,
    shownKey: null,
    shownAt: null,
    deliveryAttempts: 0,
    deliveryClaimedAt: null,
    postAttemptedAt: null,
    cancelledBy: null,
    lastPolledAt: null,
    endedAt: null,
    endProgress: null,
    endProgressAt: null,
    endPrevPollAt: null,
    deliveredMessageId: null,
    deliveryMode: null,
    cost: 0,
    updatedAt: 0,
    ...overrides,
  };
}
