import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { JobHistory, PollHistory } from '../../src/db/job-history.js';
import { type Job, JobsRepository } from '../../src/db/jobs-repository.js';
import type { Delivery } from '../../src/jobs/delivery.js';
import { JobEvents } from '../../src/jobs/job-events.js';
import { JobWorker } from '../../src/jobs/job-worker.js';
import type { LifecycleRules } from '../../src/jobs/lifecycle.js';
import type { Presenter } from '../../src/jobs/presenter.js';
import { createLogger } from '../../src/logger.js';
import { nextPollDelay } from '../../src/services/poll-policy.js';
import { EMPTY_PRIOR, type FinishedJob, buildPrior, viewFor, withFinishedJob } from '../../src/services/poll-prior.js';
import { TuziError } from '../../src/services/tuzi/errors.js';
import type { VideoTask } from '../../src/services/tuzi/types.js';
import type { VideoApi } from '../../src/services/video-api.js';
import { newJob } from '../../emulators/job-rows.js';

const S = 1_000;
const unlimited = { maxActive: 0, dailyLimit: 0, dayStart: 0 };

/**
 * The real worker and lifecycle on a real database: upstream answers from a
 * script per task; showing progress and delivering do nothing (their own
 * tests cover them). What the history records is what the lifecycle's
 * transitions leave in the row.
 */
function world() {
  const db = openDatabase(':memory:');
  const jobs = new JobsRepository(db);
  const clock = new ManualClock(Date.UTC(2026, 3, 1, 9));
  const log = createLogger({ level: 'silent', secrets: [] });
  const script = new Map<string, (VideoTask | Error)[]>();
  const notHere = () => Promise.reject(new Error('not in this test'));
  const videos: VideoApi = {
    createVideo: notHere,
    getVideo: (id) => {
      const next = script.get(id)?.shift();
      if (!next) return Promise.reject(new Error(`no answer scripted for ${id}`));
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    },
    downloadVideo: notHere,
    deleteVideo: notHere,
    listModels: notHere,
  };
  const rules: LifecycleRules = {
    maxWaitMs: 90 * 60_000,
    leaseMs: 60_000,
    maxDeliveryAttempts: 3,
    pollDelay: (state, retryAfterMs) =>
      Math.max(nextPollDelay(state, { minMs: 3_000, maxMs: 30_000 }), retryAfterMs ?? 0),
  };
  const presenter = {
    showProgress: () => Promise.resolve(false),
    showOutcome: () => Promise.resolve(),
  } as unknown as Presenter;
  const events = new JobEvents(jobs, clock, rules, presenter, { scheduler: () => {}, dispatcher: () => {} }, log);
  const delivery = { deliver: () => Promise.resolve() } as unknown as Delivery;
  const worker = new JobWorker(events, videos, delivery, clock, log, rules);

  /** A job accepted upstream now (as the submission leaves it), then polled at each offset with the scripted answers. */
  async function run(
    answers: { afterMs: number; task: Partial<VideoTask> | Error }[],
    params: { model?: string; seconds?: number; size?: string } = {},
  ): Promise<Job> {
    const inserted = jobs.insertWithinQuota(newJob(params), unlimited, clock.now());
    if (!inserted.ok) throw new Error('insert refused');
    const upstreamId = `sora-2:task_${inserted.job.id}`;
    const submittedAt = clock.now();
    jobs.transition(
      inserted.job.id,
      'waiting',
      'queued',
      { upstreamId, submittedAt, progress: 0, progressChangedAt: submittedAt, nextRunAt: submittedAt + 3 * S },
      submittedAt,
    );
    script.set(
      upstreamId,
      answers.map(({ task }) =>
        task instanceof Error
          ? task
          : { id: upstreamId, status: 'queued', rawStatus: String(task.status ?? 'queued'), progress: 0, ...task },
      ),
    );
    let elapsed = 0;
    for (const { afterMs } of answers) {
      clock.advance(afterMs - elapsed);
      elapsed = afterMs;
      await worker.step(jobs.get(inserted.job.id)!);
    }
    return jobs.get(inserted.job.id)!;
  }
  return { db, jobs, clock, worker, run, history: new JobHistory(db) };
}

describe('JobHistory', () => {
  it('records how a completed job left polling: the last progress, its time, the poll before and the one that saw the end', async () => {
    const w = world();
    const t0 = w.clock.now();
    const job = await w.run([
      { afterMs: 5 * S, task: { status: 'queued' } },
      { afterMs: 15 * S, task: { status: 'in_progress', progress: 0 } },
      { afterMs: 30 * S, task: { status: 'in_progress', progress: 40 } },
      { afterMs: 60 * S, task: { status: 'in_progress', progress: 99 } },
      { afterMs: 65 * S, task: { status: 'in_progress', progress: 99 } },
      { afterMs: 80 * S, task: { status: 'completed', progress: 100, videoUrl: 'https://v/1.mp4' } },
    ]);
    expect(job.status).toBe('completed');
    expect(job.progress).toBe(100); // what the row itself keeps: the last value is gone from it
    expect(w.history.get(job.id)).toEqual({
      jobId: job.id,
      model: 'sora-2',
      seconds: 10,
      size: '1280x720',
      submittedAt: t0,
      startedAt: t0 + 15 * S,
      startedProgress: 0,
      endProgress: 99,
      endProgressAt: t0 + 60 * S,
      prevPollAt: t0 + 65 * S,
      endedAt: t0 + 80 * S,
      outcome: 'completed',
    } satisfies FinishedJob);
  });

  it('records failures and time-outs, and leaves out a task upstream forgot', async () => {
    const w = world();
    const t0 = w.clock.now();
    const failed = await w.run([
      { afterMs: 10 * S, task: { status: 'in_progress', progress: 92 } },
      {
        afterMs: 20 * S,
        task: { status: 'failed', progress: 92, error: { code: 'content_policy_violation', message: 'blocked' } },
      },
    ]);
    expect(w.history.get(failed.id)).toMatchObject({
      outcome: 'failed',
      endProgress: 92,
      startedAt: t0 + 10 * S,
      startedProgress: 92,
      endedAt: t0 + 20 * S,
    });

    const t1 = w.clock.now();
    const timedOut = await w.run([
      { afterMs: 10 * S, task: { status: 'queued' } },
      { afterMs: 91 * 60 * S, task: { status: 'queued' } }, // not asked: the worker times the job out first
    ]);
    expect(timedOut.status).toBe('timed_out');
    expect(w.history.get(timedOut.id)).toMatchObject({
      outcome: 'timed_out',
      startedAt: null,
      endProgress: 0,
      prevPollAt: t1 + 10 * S,
      endedAt: t1 + 91 * 60 * S,
    });

    const forgotten = await w.run([
      { afterMs: 10 * S, task: { status: 'in_progress', progress: 10 } },
      {
        afterMs: 20 * S,
        task: new TuziError('gone', {
          operation: 'retrieve',
          kind: 'http',
          retryable: false,
          mayHaveReachedServer: true,
          status: 404,
        }),
      },
    ]);
    expect(forgotten.status).toBe('failed');
    expect(w.history.get(forgotten.id)).toBeUndefined();

    const running = await w.run([{ afterMs: 10 * S, task: { status: 'in_progress', progress: 10 } }]);
    expect(w.history.get(running.id)).toBeUndefined();
    expect(w.history.recent().map((f) => f.jobId)).toEqual([failed.id, timedOut.id]);
  });

  it('gives at start the prior the bot built job by job', async () => {
    const w = world();
    const fed: FinishedJob[] = [];
    for (let i = 0; i < 30; i++) {
      const size = i % 3 === 0 ? '720x1280' : '1280x720';
      const runMs = (60 + 7 * i) * S;
      const job = await w.run(
        [
          { afterMs: 10 * S, task: { status: 'in_progress', progress: 0 } },
          { afterMs: 10 * S + runMs, task: { status: 'completed', progress: 100 } },
        ],
        { size },
      );
      fed.push(w.history.get(job.id)!);
    }
    const incremental = fed.reduce(withFinishedJob, EMPTY_PRIOR);
    expect(buildPrior(w.history.recent())).toEqual(incremental);
  });

  it('PollHistory: the prior at start, then one job at a time, equals the prior a restart builds', async () => {
    const w = world();
    const live = new PollHistory(w.db);
    expect(live.prior).toEqual(EMPTY_PRIOR);
    for (let i = 0; i < 12; i++) {
      const job = await w.run([
        { afterMs: 10 * S, task: { status: 'in_progress', progress: 0 } },
        { afterMs: (100 + 10 * i) * S, task: { status: 'completed', progress: 100 } },
      ]);
      live.jobEnded(job.id);
      live.jobEnded(job.id); // twice changes nothing
    }
    const running = await w.run([{ afterMs: 10 * S, task: { status: 'in_progress', progress: 5 } }]);
    const before = live.prior;
    live.jobEnded(running.id); // not ended: ignored
    expect(live.prior).toBe(before);
    expect(new PollHistory(w.db).prior).toEqual(live.prior);
    expect(viewFor(live.prior, { model: 'sora-2', seconds: 10, size: '1280x720' })?.finalChance(0)).toBeGreaterThan(
      0.9,
    );
  });

  it('reads at start only the most recent jobs of each group level', async () => {
    const w = world();
    const ids: Record<string, number[]> = {};
    const groups = [
      { model: 'sora-2', seconds: 10, size: '1280x720' },
      { model: 'sora-2', seconds: 10, size: '720x1280' },
      { model: 'sora-2', seconds: 15, size: '1280x720' },
      { model: 'veo3', seconds: 8, size: '16:9' },
    ];
    for (let i = 0; i < 24; i++) {
      const g = groups[i % 4 === 3 ? 3 : i % 7 === 0 ? 2 : i % 2]!;
      const job = await w.run(
        [
          { afterMs: 10 * S, task: { status: 'in_progress', progress: 0 } },
          { afterMs: 40 * S, task: { status: 'completed', progress: 100 } },
        ],
        g,
      );
      for (const key of [`${g.model}|${g.seconds}|${g.size}`, `${g.model}|${g.seconds}`, g.model, '*'])
        (ids[key] ??= []).push(job.id);
    }
    const n = 3;
    const expected = new Set(Object.values(ids).flatMap((list) => list.slice(-n)));
    const got = w.history.recent(n);
    expect(new Set(got.map((f) => f.jobId))).toEqual(expected);
    // Oldest first, as they ended.
    const ends = got.map((f) => f.endedAt);
    expect([...ends].sort((a, b) => a - b)).toEqual(ends);
  });
});
