import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { derivedSchema } from '../../src/db/derived-schema.js';
import { JobsRepository, type Job } from '../../src/db/jobs-repository.js';
import {
  decide,
  EVENT_SOURCES,
  GROUPS,
  JOB_STATUSES,
  STATUSES,
  statusesIn,
  statusesOutside,
  type JobEvent,
  type JobEventType,
  type LifecycleRules,
  type StatusGroup,
} from '../../src/jobs/lifecycle.js';
import type { VideoTask } from '../../src/services/tuzi/types.js';
import { newJob } from '../../emulators/job-rows.js';
import { lifecycleTables } from '../support/lifecycle-doc.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const rules: LifecycleRules = {
  maxWaitMs: 90 * 60_000,
  leaseMs: 120_000,
  maxDeliveryAttempts: 6,
  pollDelay: () => 5_000,
};

function job(overrides: Partial<Job> = {}): Job {
  return {
    ...newJob(),
    id: 1,
    messageId: null,
    messageGone: false,
    status: 'submitting',
    upstreamId: 'sora-2:task_1',
    progress: 0,
    progressChangedAt: null,
    startedAt: null,
    startedProgress: null,
    videoUrl: null,
    errorCode: null,
    errorMessage: null,
    createdAt: NOW - 60_000,
    submittedAt: NOW - 60_000,
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
    cost: 0,
    deliveredMessageId: null,
    deliveryMode: null,
    updatedAt: 0,
    ...overrides,
  };
}

const task = (status: VideoTask['status'], progress = 0, extra: Partial<VideoTask> = {}): VideoTask => ({
  id: 'sora-2:task_1',
  status,
  rawStatus: status,
  progress,
  ...extra,
});

/** One example of every event type. */
const EXAMPLES: Record<JobEventType, JobEvent> = {
  claimSubmission: { type: 'claimSubmission' },
  requeued: { type: 'requeued', reason: 'full' },
  cancel: { type: 'cancel', by: '1200000000000000003' },
  accepted: { type: 'accepted', task: task('queued') },
  abandoned: { type: 'abandoned', code: 'rejected', message: 'no' },
  polled: { type: 'polled', task: task('in_progress', 40) },
  pollFailed: { type: 'pollFailed', failure: { gone: false } },
  timedOut: { type: 'timedOut' },
  claimDelivery: { type: 'claimDelivery' },
  postAttempted: { type: 'postAttempted' },
  posted: { type: 'posted', messageId: '1300000000000000009', mode: 'attachment' },
  retryDelivery: { type: 'retryDelivery', reason: '502' },
  giveUp: { type: 'giveUp', reason: 'refused' },
};

describe('the lifecycle table', () => {
  it('every (status, event) pair is either a defined transition or refused, and never leaves the table', () => {
    for (const status of JOB_STATUSES) {
      for (const type of Object.keys(EVENT_SOURCES) as JobEventType[]) {
        const decision = decide(job({ status }), EXAMPLES[type], NOW, rules);
        if (EVENT_SOURCES[type].includes(status)) {
          expect(decision.ok, `${type} in ${status}`).toBe(true);
          if (decision.ok) {
            expect(decision.step.from).toBe(status);
            expect(JOB_STATUSES).toContain(decision.step.to);
          }
        } else {
          expect(decision.ok, `${type} in ${status}`).toBe(false);
        }
      }
    }
  });

  it('every status belongs to exactly the groups the table gives it, and the groups fit together', () => {
    for (const status of JOB_STATUSES) {
      for (const group of Object.keys(GROUPS) as StatusGroup[]) {
        expect(statusesIn(group).includes(status)).toBe(
          (STATUSES[status].groups as readonly StatusGroup[]).includes(group),
        );
      }
    }
    const ended = statusesIn('ended');
    // A status is either in line, in flight to upstream, scheduled, or ended: nothing is left unowned.
    expect([...statusesIn('inLine'), 'submitting', ...statusesIn('scheduled'), ...ended].sort()).toEqual(
      [...JOB_STATUSES].sort(),
    );
    for (const s of statusesIn('usesCapacity')) expect(statusesIn('holdsSlot')).toContain(s);
    for (const s of statusesIn('cancellable')) expect(ended).not.toContain(s);
    for (const s of statusesIn('scheduled')) expect(ended).not.toContain(s);
    for (const s of statusesIn('polled')) expect(statusesIn('scheduled')).toContain(s);
    for (const s of statusesIn('failure')) expect(ended).toContain(s);
    for (const s of statusesIn('holdsSlot')) expect(ended).not.toContain(s);
    expect(statusesOutside('ended')).toEqual(JOB_STATUSES.filter((s) => !ended.includes(s)));
    // No event starts from an ended status: an ended job never changes again.
    for (const sources of Object.values(EVENT_SOURCES)) for (const s of sources) expect(ended).not.toContain(s);
  });

  it('the database derives its scheduler index and status triggers from the table', () => {
    const db = openDatabase(':memory:');
    const stored = (name: string) =>
      (db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').get(name) as { sql: string } | undefined)?.sql;
    for (const object of derivedSchema()) expect(stored(object.name)).toBe(object.sql);
    const due = stored('jobs_due')!;
    for (const s of JOB_STATUSES) expect(due.includes(`'${s}'`)).toBe(statusesIn('scheduled').includes(s));
    // The poller's query uses that very index (its predicate is the same derived text).
    const plan = db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT * FROM jobs WHERE status IN (${statusesIn('scheduled')
          .map((s) => `'${s}'`)
          .join(', ')}) AND next_run_at <= 1 ORDER BY next_run_at LIMIT 5`,
      )
      .all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toContain('jobs_due');
    const jobs = new JobsRepository(db);
    const r = jobs.insertWithinQuota(newJob(), { maxActive: 0, dailyLimit: 0, dayStart: 0 }, NOW);
    if (!r.ok) throw new Error('insert refused');
    expect(() => db.prepare("UPDATE jobs SET status = 'lost' WHERE id = ?").run(r.job.id)).toThrow(
      /unknown job status/,
    );
    for (const s of JOB_STATUSES) jobs.transition(r.job.id, jobs.get(r.job.id)!.status, s, {}, NOW);
    expect(jobs.get(r.job.id)!.status).toBe(JOB_STATUSES.at(-1));
    db.close();
  });

  it('the repository lists come from the groups (limits, daily use, scheduling, history)', () => {
    const db = openDatabase(':memory:');
    const jobs = new JobsRepository(db);
    const quota = { maxActive: 0, dailyLimit: 0, dayStart: 0 };
    for (const status of JOB_STATUSES) {
      const r = jobs.insertWithinQuota(newJob({ userId: '1200000000000000099' }), quota, NOW);
      if (!r.ok) throw new Error('insert refused');
      jobs.transition(r.job.id, 'waiting', status, { upstreamId: `t-${status}`, nextRunAt: NOW }, NOW);
    }
    const usage = jobs.guildUsage('1200000000000000001', 0);
    expect(usage).toMatchObject({
      started: statusesIn('countsToday').length,
      active: statusesIn('holdsSlot').length,
    });
    expect(jobs.due(NOW, 100).map((j) => j.status)).toEqual(expect.arrayContaining([...statusesIn('scheduled')]));
    expect(jobs.due(NOW, 100)).toHaveLength(statusesIn('scheduled').length);
    expect(
      jobs
        .searchCompleted('1200000000000000099', '', 25)
        .map((j) => j.status)
        .sort(),
    ).toEqual([...statusesIn('hasVideo')].sort());
    db.close();
  });
});

describe('transitions', () => {
  it('accepted: the upstream task becomes the row, with a deadline and the first poll scheduled', () => {
    const d = decide(job(), { type: 'accepted', task: task('in_progress', 12) }, NOW, rules);
    expect(d).toMatchObject({
      ok: true,
      step: {
        to: 'in_progress',
        patch: {
          upstreamId: 'sora-2:task_1',
          submittedAt: NOW,
          deadlineAt: NOW + 90 * 60_000,
          progress: 12,
          startedAt: NOW,
          nextRunAt: NOW + 5_000,
        },
        effects: [{ type: 'wake' }, { type: 'showProgress' }],
      },
    });
  });

  it('polled: progress never goes back, completion schedules the delivery at once, failure ends it', () => {
    const running = job({ status: 'in_progress', progress: 60, progressChangedAt: NOW - 5_000, startedAt: NOW - 1 });
    const back = decide(running, { type: 'polled', task: task('in_progress', 30) }, NOW, rules);
    expect(back.ok && back.step.patch.progress).toBe(60);
    expect(back.ok && back.step.patch.progressChangedAt).toBe(NOW - 5_000);
    const done = decide(
      running,
      { type: 'polled', task: task('completed', 100, { videoUrl: 'https://v/x.mp4' }) },
      NOW,
      rules,
    );
    expect(done).toMatchObject({
      ok: true,
      step: { to: 'completed', patch: { nextRunAt: NOW, videoUrl: 'https://v/x.mp4' } },
    });
    const failed = decide(
      running,
      { type: 'polled', task: task('failed', 95, { error: { code: 'content_policy_violation', message: 'no' } }) },
      NOW,
      rules,
    );
    expect(failed).toMatchObject({
      ok: true,
      step: { to: 'failed', patch: { errorCode: 'content_policy_violation', finishedAt: NOW, nextRunAt: null } },
    });
  });

  it('pollFailed: a gone task fails at once; anything else backs off and keeps the status', () => {
    const running = job({ status: 'queued', errorStreak: 2 });
    expect(decide(running, { type: 'pollFailed', failure: { gone: true } }, NOW, rules)).toMatchObject({
      ok: true,
      step: { to: 'failed', patch: { errorCode: 'not_found' } },
    });
    let seen: number | undefined;
    const backoff = decide(running, { type: 'pollFailed', failure: { gone: false, retryAfterMs: 40_000 } }, NOW, {
      ...rules,
      pollDelay: (state, retryAfter) => ((seen = state.errorStreak), Math.max(1_000, retryAfter ?? 0)),
    });
    expect(seen).toBe(3);
    expect(backoff).toMatchObject({
      ok: true,
      step: { to: 'queued', patch: { errorStreak: 3, nextRunAt: NOW + 40_000 } },
    });
  });

  it('a post attempt is recorded once, and survives the retry back to completed', () => {
    const delivering = job({ status: 'delivering', deliveryAttempts: 1 });
    const first = decide(delivering, { type: 'postAttempted' }, NOW, rules);
    expect(first.ok && first.step.patch.postAttemptedAt).toBe(NOW);
    const again = decide({ ...delivering, postAttemptedAt: NOW - 9 }, { type: 'postAttempted' }, NOW, rules);
    expect(again.ok && again.step.patch.postAttemptedAt).toBe(NOW - 9);
    const retry = decide(
      { ...delivering, postAttemptedAt: NOW - 9 },
      { type: 'retryDelivery', reason: '502' },
      NOW,
      rules,
    );
    expect(retry).toMatchObject({ ok: true, step: { to: 'completed', patch: { nextRunAt: NOW + 10_000 } } });
    expect(retry.ok && 'postAttemptedAt' in retry.step.patch).toBe(false);
  });

  it('retryDelivery gives up after the last attempt; abandoned shows a public reason only when one belongs there', () => {
    const spent = job({ status: 'delivering', deliveryAttempts: 6 });
    expect(decide(spent, { type: 'retryDelivery', reason: '502' }, NOW, rules)).toMatchObject({
      ok: true,
      step: { to: 'delivery_failed', effects: [{ type: 'showOutcome' }] },
    });
    // (Either way the slot it held is freed, so the dispatcher looks again.)
    const quiet = decide(job(), { type: 'abandoned', code: 'image_unreadable', message: 'x' }, NOW, rules);
    expect(quiet.ok && quiet.step.effects).toEqual([{ type: 'dispatch' }]);
    const shown = decide(job(), { type: 'abandoned', code: 'unknown', message: 'x' }, NOW, rules);
    expect(shown.ok && shown.step.effects).toEqual([{ type: 'showOutcome' }, { type: 'dispatch' }]);
  });

  it('timedOut records the deadline the job had, so the message needs no configuration', () => {
    const old = job({ status: 'in_progress', submittedAt: NOW - 100 * 60_000, deadlineAt: null });
    expect(decide(old, { type: 'timedOut' }, NOW, rules)).toMatchObject({
      ok: true,
      step: { to: 'timed_out', patch: { deadlineAt: NOW - 10 * 60_000, finishedAt: NOW } },
    });
  });
});

describe('the README', () => {
  it('shows the lifecycle table the code runs on', async () => {
    const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain((await lifecycleTables()).trim());
  });
});
