import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { StateRepository } from '../../src/db/state-repository.js';
import { Dispatcher, FAR_PER_REFRESH } from '../../src/jobs/dispatcher.js';
import { JobEvents } from '../../src/jobs/job-events.js';
import type { LifecycleRules } from '../../src/jobs/lifecycle.js';
import type { Presenter } from '../../src/jobs/presenter.js';
import { createLogger } from '../../src/logger.js';
import type { VideoApi } from '../../src/services/video-api.js';
import { newJob } from '../../emulators/job-rows.js';

const REFRESH_MS = 5_000;
const rules: LifecycleRules = {
  maxWaitMs: 90 * 60_000,
  leaseMs: 120_000,
  maxDeliveryAttempts: 6,
  pollDelay: () => 60_000,
};
const log = createLogger({ level: 'silent', secrets: [] });

/**
 * The real dispatcher on a real database, with a provider that is full (no
 * slot ever frees: `maxRunning` 0), so every pass only refreshes the places.
 * The presenter records which replies it was asked to show, and where.
 */
function world(waiting: number) {
  const db = openDatabase(':memory:');
  const jobs = new JobsRepository(db);
  const state = new StateRepository(db);
  const clock = new ManualClock(Date.UTC(2026, 11, 2, 9));
  const shown: { refresh: number; id: number; position: number; paused: boolean }[] = [];
  let refresh = 0;
  const presenter = {
    showProgress: (job: { id: number }, line: { position: number; paused: boolean }) => {
      shown.push({ refresh, id: job.id, ...line });
      return Promise.resolve(true);
    },
    showOutcome: () => Promise.resolve(),
  } as unknown as Presenter;
  const events = new JobEvents(jobs, clock, rules, presenter, { scheduler: () => {}, dispatcher: () => {} }, log);
  const dispatcher = new Dispatcher(
    jobs,
    events,
    { createVideo: () => Promise.reject(new Error('never sent')) } as unknown as VideoApi,
    presenter,
    state,
    clock,
    clock,
    log,
    { maxRunning: 0, refreshMs: REFRESH_MS, probeMinMs: 60_000, probeMaxMs: 600_000, backoffMs: 5_000 },
    { paused: () => {}, resumed: () => {} },
  );
  for (let i = 0; i < waiting; i++) {
    // One member each: the fair order is the order of arrival.
    const r = jobs.insertWithinQuota(
      newJob({ userId: `${2_000_000 + i}` }),
      { maxActive: 0, dailyLimit: 0, dayStart: 0 },
      clock.now(),
    );
    if (!r.ok) throw new Error(r.reason);
    jobs.patch(r.job.id, { nextRunAt: clock.now() }, clock.now());
  }
  const idle = async () => {
    for (let i = 0; i < 200 && dispatcher.busy; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  /** Runs the next refresh; returns what it showed. */
  const next = async () => {
    refresh++;
    if (refresh === 1) dispatcher.start();
    else await clock.advance(REFRESH_MS);
    await idle();
    return shown.filter((s) => s.refresh === refresh);
  };
  return { jobs, state, clock, shown, dispatcher, next, idle };
}

describe('the places shown while jobs wait (Dispatcher refresh)', () => {
  it('looks at every near place each refresh, and at the far ones in turns, FAR_PER_REFRESH at a time', async () => {
    const w = world(300);
    const far = 300 - 50;
    const turns = Math.ceil(far / FAR_PER_REFRESH);
    const seenFar = new Set<number>();
    for (let r = 0; r < turns; r++) {
      const shown = await w.next();
      const near = shown.filter((s) => s.position <= 50);
      expect(near.map((s) => s.position)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      const farShown = shown.filter((s) => s.position > 50);
      expect(farShown.length).toBeLessThanOrEqual(FAR_PER_REFRESH);
      for (const s of farShown) seenFar.add(s.id);
    }
    // No far reply is left out: after enough turns each one was looked at.
    expect(seenFar.size).toBe(far);
    await w.dispatcher.stop();
  });

  it('shows a pause to every waiting reply at once, however long the line', async () => {
    const w = world(300);
    await w.next();
    w.state.add('dispatch_pause', JSON.stringify({ reason: 'quota', message: 'no balance', since: w.clock.now() }));
    const shown = await w.next();
    expect(shown).toHaveLength(300);
    expect(shown.every((s) => s.paused)).toBe(true);
    await w.dispatcher.stop();
  });

  it('reads a line longer than a page in pages, the event loop running between them, and loses no place', async () => {
    const w = world(1_200);
    await w.next();
    // Turns of the event loop, counted by a task of the test's own; the page reads note the count they saw.
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const read = w.jobs.linePage.bind(w.jobs);
    const seenAt: number[] = [];
    w.jobs.linePage = (...args) => {
      seenAt.push(turns);
      return read(...args);
    };
    w.state.add('dispatch_pause', JSON.stringify({ reason: 'quota', message: 'no balance', since: w.clock.now() }));
    const shown = await w.next();
    counting = false;
    expect(seenAt.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < seenAt.length; i++) expect(seenAt[i]!).toBeGreaterThan(seenAt[i - 1]!);
    // One member each, so the fair order is the order of arrival: every reply at its own place, once.
    const byId = [...shown].sort((a, b) => a.id - b.id);
    expect(byId.map((s) => s.position)).toEqual(Array.from({ length: 1_200 }, (_, i) => i + 1));
    await w.dispatcher.stop();
  });

  it('a short line is looked at whole every refresh', async () => {
    const w = world(50 + FAR_PER_REFRESH);
    await w.next();
    expect(await w.next()).toHaveLength(50 + FAR_PER_REFRESH);
    await w.dispatcher.stop();
  });
});
