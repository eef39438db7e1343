import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { StateRepository } from '../../src/db/state-repository.js';
import { Dispatcher, type PauseState } from '../../src/jobs/dispatcher.js';
import { JobEvents } from '../../src/jobs/job-events.js';
import type { LifecycleRules } from '../../src/jobs/lifecycle.js';
import type { Presenter } from '../../src/jobs/presenter.js';
import { createLogger } from '../../src/logger.js';
import { TuziError } from '../../src/services/tuzi/errors.js';
import type { VideoApi } from '../../src/services/video-api.js';
import { shardOfGuild } from '../../src/shard/ownership.js';
import { newJob } from '../../emulators/job-rows.js';
import { guildIdFor } from './helpers.js';

const rules: LifecycleRules = {
  maxWaitMs: 90 * 60_000,
  leaseMs: 120_000,
  maxDeliveryAttempts: 6,
  pollDelay: () => 60_000,
};
const presenter = { showProgress: async () => undefined, showOutcome: async () => undefined } as unknown as Presenter;
const log = createLogger({ level: 'silent', secrets: [] });

/** The provider as a relay with an empty balance answers (HTTP 402), until `refill`. */
function provider() {
  let funded = false;
  let posts = 0;
  const videos = {
    createVideo: async () => {
      posts++;
      if (!funded)
        throw new TuziError('insufficient balance', {
          operation: 'create',
          kind: 'http',
          retryable: false,
          mayHaveReachedServer: true,
          status: 402,
          upstreamMessage: 'insufficient balance',
        });
      return { id: `sora-2:task_${posts}`, status: 'queued', rawStatus: 'queued', progress: 0 };
    },
  } as unknown as VideoApi;
  return { videos, refill: () => (funded = true), posts: () => posts };
}

/** Two shard processes' dispatchers (one of two shards each) on their own connections to one database file. */
function twoShards() {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sora-pause-')), 'bot.db');
  const clock = new ManualClock();
  const upstream = provider();
  const told: string[] = [];
  // A server of each shard.
  const guilds = [0, 1].map((shard) => {
    for (let i = 0; ; i++) if (shardOfGuild(guildIdFor(i), 2) === shard) return guildIdFor(i);
  });
  const shards = [0, 1].map((id) => {
    const db = openDatabase(file);
    const jobs = new JobsRepository(db, { id, count: 2 });
    const own: { dispatcher?: Dispatcher } = {};
    const events = new JobEvents(
      jobs,
      clock,
      rules,
      presenter,
      { scheduler: () => undefined, dispatcher: () => own.dispatcher?.wake() },
      log,
    );
    const dispatcher = (own.dispatcher = new Dispatcher(
      jobs,
      events,
      upstream.videos,
      presenter,
      new StateRepository(db),
      clock,
      clock,
      log,
      { maxRunning: 10, refreshMs: 60_000, probeMinMs: 60_000, probeMaxMs: 600_000, backoffMs: 5_000 },
      {
        paused: (s: PauseState) => told.push(`shard ${id} paused: ${s.reason}`),
        resumed: () => told.push(`shard ${id} resumed`),
      },
    ));
    return { db, jobs, dispatcher };
  });
  /** Two jobs of shard `shard`'s server, ready to send. */
  const arrive = (shard: number) => {
    for (let n = 0; n < 2; n++) {
      const r = shards[0]!.jobs.insertWithinQuota(
        newJob({ guildId: guilds[shard]! }),
        { maxActive: 0, dailyLimit: 0, dayStart: 0 },
        clock.now(),
      );
      if (!r.ok) throw new Error(r.reason);
      shards[0]!.jobs.patch(r.job.id, { nextRunAt: clock.now() }, clock.now());
    }
  };
  const idle = async () => {
    for (let i = 0; i < 50 && shards.some((s) => s.dispatcher.busy); i++)
      await new Promise((resolve) => setImmediate(resolve));
  };
  const submitted = () =>
    (shards[0]!.db.prepare('SELECT count(*) AS n FROM jobs WHERE upstream_id IS NOT NULL').get() as { n: number }).n;
  const close = async () => {
    for (const s of shards) {
      await s.dispatcher.stop();
      s.db.close();
    }
  };
  return { clock, upstream, told, shards, arrive, idle, submitted, close };
}

describe('the line’s pause with two shard processes on one database', () => {
  it('is told once, followed by the other shard without a POST of its own, and lifted once', async () => {
    const t = twoShards();
    for (const s of t.shards) s.dispatcher.start();
    // Shard 0's two jobs go out at once (the cap allows both) and are refused: the pause is stored and told.
    t.arrive(0);
    t.shards[0]!.dispatcher.wake();
    await t.idle();
    expect(t.told).toEqual(['shard 0 paused: quota']);
    expect(t.upstream.posts()).toBe(2);
    // Jobs then reach shard 1: it follows the stored pause, sends nothing, tells no one.
    t.arrive(1);
    t.shards[1]!.dispatcher.wake();
    await t.idle();
    expect(t.shards[1]!.dispatcher.paused?.reason).toBe('quota');
    expect(t.upstream.posts()).toBe(2);
    expect(t.told).toEqual(['shard 0 paused: quota']);

    // The balance is restored: the probes go through, every job is sent, the resumption is told once.
    t.upstream.refill();
    await t.clock.advance(60_000, t.idle);
    await t.clock.advance(60_000, t.idle);
    expect(t.told).toEqual(['shard 0 paused: quota', expect.stringMatching(/^shard [01] resumed$/)]);
    expect(t.shards.map((s) => s.dispatcher.paused)).toEqual([undefined, undefined]);
    expect(t.submitted()).toBe(4);
    await t.close();
  });

  it('two shards refused at the same moment: one notice, one resumption', async () => {
    const t = twoShards();
    t.arrive(0);
    t.arrive(1);
    for (const s of t.shards) s.dispatcher.start();
    await t.idle();
    expect(t.upstream.posts()).toBe(4);
    expect(t.told).toHaveLength(1);
    expect(t.told[0]).toMatch(/^shard [01] paused: quota$/);
    t.upstream.refill();
    await t.clock.advance(60_000, t.idle);
    await t.clock.advance(60_000, t.idle);
    expect(t.told).toHaveLength(2);
    expect(t.told[1]).toMatch(/^shard [01] resumed$/);
    expect(t.submitted()).toBe(4);
    await t.close();
  });
});
