import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { GROUP_MAX_INSERTS, JobsRepository, type LineRead } from '../../src/db/jobs-repository.js';
import { SettingsRepository } from '../../src/db/settings-repository.js';
import { StateRepository } from '../../src/db/state-repository.js';
import { newJob } from '../../emulators/job-rows.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const DAY = Date.UTC(2026, 0, 1);
const unlimited = { maxActive: 0, dailyLimit: 0, dayStart: DAY };

function repo() {
  const db = openDatabase(':memory:');
  return { db, jobs: new JobsRepository(db), settings: new SettingsRepository(db), state: new StateRepository(db) };
}

describe('JobsRepository', () => {
  it('round-trips every field with Discord ids as text', () => {
    const { jobs } = repo();
    const input = newJob({
      guildId: '987654321098765432',
      characterCreate: true,
      overrides: ['private', 'watermark'],
      watermark: true,
    });
    const r = jobs.insertWithinQuota(input, unlimited, NOW);
    if (!r.ok) throw new Error('insert refused');
    expect(r.job).toMatchObject({
      ...input,
      status: 'waiting',
      createdAt: NOW,
      progress: 0,
      messageGone: false,
      deliveryAttempts: 0,
    });
    expect(typeof r.job.guildId).toBe('string');
  });

  it('returns the inserted job exactly as a read of its row gives it back (no read after the insert)', () => {
    const { jobs } = repo();
    const bare = newJob({ guildId: null });
    const full = newJob({
      characterCreate: false,
      overrides: ['private'],
      private: true,
      imagePath: '/data/images/1.png',
      imageName: 'ref.png',
      imageType: 'image/png',
      imageUrl: 'https://example.com/a.png',
      characterUrl: 'https://example.com/c.mp4',
      characterTimestamps: '1,3',
      characterFromTask: 'video_123',
      cost: 45,
    });
    for (const input of [bare, full]) {
      const r = jobs.insertWithinQuota(input, unlimited, NOW);
      if (!r.ok) throw new Error('insert refused');
      expect(r.job).toStrictEqual(jobs.get(r.job.id));
    }
  });

  it('commits the first insert of a turn at once and groups the ones after it in the same turn', async () => {
    const { jobs } = repo();
    const userId = newJob().userId;
    const first = jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW);
    expect(jobs.countForUser(userId)).toBe(1); // in the table before the turn ends
    const grouped = [
      jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW),
      jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW),
    ];
    expect(jobs.countForUser(userId)).toBe(1); // waiting for the group's commit
    await Promise.all([first, ...grouped]);
    expect(jobs.countForUser(userId)).toBe(3);
    // A later turn starts with an insert at once again.
    const next = jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW);
    expect(jobs.countForUser(userId)).toBe(4);
    await expect(next).resolves.toMatchObject({ ok: true });
  });

  it('commits a group as soon as it holds GROUP_MAX_INSERTS, without waiting for the turn to end', async () => {
    const { jobs } = repo();
    const userId = newJob().userId;
    let turnEnded = false;
    setImmediate(() => (turnEnded = true)); // runs before the repository's own end-of-turn commit
    const first = jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW);
    const full = Array.from({ length: GROUP_MAX_INSERTS }, () =>
      jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW),
    );
    expect(jobs.countForUser(userId)).toBe(1 + GROUP_MAX_INSERTS); // committed when the group filled
    const rest = jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW);
    const results = await Promise.all([first, ...full]);
    expect(turnEnded).toBe(false); // their callers go on in this turn
    expect(results.every((r) => r.ok)).toBe(true);
    expect(jobs.countForUser(userId)).toBe(1 + GROUP_MAX_INSERTS); // the next group waits for the turn's end
    await expect(rest).resolves.toMatchObject({ ok: true });
    expect(turnEnded).toBe(true);
    expect(jobs.countForUser(userId)).toBe(2 + GROUP_MAX_INSERTS);
  });

  it('commits inserts asked for together as one group, each checked in order against the ones before it', async () => {
    const { jobs } = repo();
    const quota = { maxActive: 2, dailyLimit: 0, dayStart: DAY };
    const again = newJob({ userId: '2' });
    const results = await Promise.all([
      jobs.insertWithinQuotaGrouped(newJob({ userId: '1' }), quota, NOW),
      jobs.insertWithinQuotaGrouped(newJob({ userId: '1' }), quota, NOW),
      jobs.insertWithinQuotaGrouped(newJob({ userId: '1' }), quota, NOW),
      jobs.insertWithinQuotaGrouped(again, quota, NOW),
      jobs.insertWithinQuotaGrouped(again, quota, NOW),
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.reason))).toEqual(['ok', 'ok', 'max_active', 'ok', 'duplicate']);
    const ids = results.flatMap((r) => (r.ok ? [r.job.id] : []));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    for (const r of results) if (r.ok) expect(r.job).toStrictEqual(jobs.get(r.job.id));
  });

  it('fails only the grouped insert that fails; a group that cannot commit fails every one of its inserts', async () => {
    const { db, jobs } = repo();
    const broken = { ...newJob(), channelId: null as unknown as string }; // NOT NULL
    // The first of the turn commits at once, the three after it as one group.
    const [atOnce, before, bad, after] = await Promise.allSettled([
      jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW),
      jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW),
      jobs.insertWithinQuotaGrouped(broken, unlimited, NOW),
      jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW),
    ]);
    expect(atOnce).toMatchObject({ status: 'fulfilled', value: { ok: true } });
    expect(before).toMatchObject({ status: 'fulfilled', value: { ok: true } });
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'SQLITE_CONSTRAINT_NOTNULL' } });
    expect(after).toMatchObject({ status: 'fulfilled', value: { ok: true } });
    expect(jobs.countForUser(newJob().userId)).toBe(3);
    // Failing at once, on its own, rejects that insert only.
    await expect(jobs.insertWithinQuotaGrouped(broken, unlimited, NOW)).rejects.toMatchObject({
      code: 'SQLITE_CONSTRAINT_NOTNULL',
    });

    await new Promise((resolve) => setImmediate(resolve)); // the next turn
    const atOnceBeforeClose = jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW);
    const pending = [
      jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW),
      jobs.insertWithinQuotaGrouped(newJob(), unlimited, NOW),
    ];
    db.close();
    await expect(atOnceBeforeClose).resolves.toMatchObject({ ok: true });
    for (const outcome of await Promise.allSettled(pending)) expect(outcome.status).toBe('rejected');
  });

  it('refuses a second row for the same interaction', () => {
    const { jobs } = repo();
    const input = newJob();
    expect(jobs.insertWithinQuota(input, unlimited, NOW).ok).toBe(true);
    expect(jobs.insertWithinQuota(input, unlimited, NOW)).toMatchObject({ ok: false, reason: 'duplicate' });
  });

  it('enforces max_active on unfinished jobs only', () => {
    const { jobs } = repo();
    const quota = { maxActive: 2, dailyLimit: 0, dayStart: DAY };
    const a = jobs.insertWithinQuota(newJob(), quota, NOW);
    const b = jobs.insertWithinQuota(newJob(), quota, NOW);
    expect(a.ok && b.ok).toBe(true);
    expect(jobs.insertWithinQuota(newJob(), quota, NOW)).toEqual({ ok: false, reason: 'max_active', active: 2 });
    if (a.ok) jobs.transition(a.job.id, 'waiting', 'failed', {}, NOW);
    expect(jobs.insertWithinQuota(newJob(), quota, NOW).ok).toBe(true);
  });

  it('enforces the daily limit per UTC day, not counting jobs that never started', () => {
    const { jobs } = repo();
    const quota = { maxActive: 0, dailyLimit: 2, dayStart: DAY };
    const first = jobs.insertWithinQuota(newJob(), quota, NOW);
    if (first.ok) jobs.transition(first.job.id, 'waiting', 'submit_failed', {}, NOW);
    expect(jobs.insertWithinQuota(newJob(), quota, NOW).ok).toBe(true);
    expect(jobs.insertWithinQuota(newJob(), quota, NOW).ok).toBe(true);
    expect(jobs.insertWithinQuota(newJob(), quota, NOW)).toEqual({ ok: false, reason: 'daily_limit', today: 2 });
    // Yesterday's jobs do not count towards today.
    const tomorrow = { ...quota, dayStart: DAY + 86_400_000 };
    expect(jobs.insertWithinQuota(newJob(), tomorrow, DAY + 86_400_000).ok).toBe(true);
  });

  it('keeps limits per server and per member', () => {
    const { jobs } = repo();
    const quota = { maxActive: 1, dailyLimit: 0, dayStart: DAY };
    expect(jobs.insertWithinQuota(newJob(), quota, NOW).ok).toBe(true);
    expect(jobs.insertWithinQuota(newJob({ userId: '1200000000000000099' }), quota, NOW).ok).toBe(true);
    expect(jobs.insertWithinQuota(newJob({ guildId: '1200000000000000098' }), quota, NOW).ok).toBe(true);
    expect(jobs.insertWithinQuota(newJob(), quota, NOW).ok).toBe(false);
  });

  it('transitions with compare-and-swap: only one of two racing claims wins', () => {
    const { jobs } = repo();
    const r = jobs.insertWithinQuota(newJob(), unlimited, NOW);
    if (!r.ok) throw new Error();
    jobs.transition(r.job.id, 'waiting', 'completed', { upstreamId: 'sora-2:task_x' }, NOW);
    const first = jobs.transition(r.job.id, 'completed', 'delivering', { deliveryAttempts: 1 }, NOW);
    const second = jobs.transition(r.job.id, 'completed', 'delivering', { deliveryAttempts: 1 }, NOW);
    expect(first?.status).toBe('delivering');
    expect(second).toBeUndefined();
  });

  it('finds due jobs in time order and the next due time', () => {
    const { jobs } = repo();
    const ids = [30, 10, 20].map((offset) => {
      const r = jobs.insertWithinQuota(newJob(), unlimited, NOW);
      if (!r.ok) throw new Error();
      jobs.transition(
        r.job.id,
        'waiting',
        'queued',
        { upstreamId: `sora-2:task_${offset}`, nextRunAt: NOW + offset },
        NOW,
      );
      return r.job.id;
    });
    expect(jobs.nextDueAt()).toBe(NOW + 10);
    expect(jobs.due(NOW + 20, 10).map((j) => j.id)).toEqual([ids[1], ids[2]]);
    jobs.transition(ids[1]!, 'queued', 'failed', { nextRunAt: null }, NOW);
    expect(jobs.nextDueAt()).toBe(NOW + 20);
  });

  it('searches a member’s finished videos by prompt or id, newest first', () => {
    const { jobs } = repo();
    const make = (prompt: string, at: number, status: 'delivered' | 'failed') => {
      const r = jobs.insertWithinQuota(newJob({ prompt }), unlimited, at);
      if (!r.ok) throw new Error();
      jobs.transition(r.job.id, 'waiting', status, { upstreamId: `sora-2:task_${prompt.replace(/\s/g, '')}` }, at);
    };
    make('red fox', NOW, 'delivered');
    make('blue fox', NOW + 1, 'delivered');
    make('fox failed', NOW + 2, 'failed');
    expect(jobs.searchCompleted('1200000000000000003', 'FOX', 10).map((j) => j.prompt)).toEqual([
      'blue fox',
      'red fox',
    ]);
    expect(jobs.searchCompleted('1200000000000000003', 'task_redfox', 10).map((j) => j.prompt)).toEqual(['red fox']);
    expect(jobs.searchCompleted('someone-else', '', 10)).toEqual([]);
  });
});

describe('JobsRepository line pages', () => {
  it('reads the line in pages by id that add up to the whole line, leaving out the preparing and the sent', () => {
    const { jobs } = repo();
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = jobs.insertWithinQuota(newJob({ userId: `${3_000 + i}` }), unlimited, NOW);
      if (!r.ok) throw new Error('insert refused');
      ids.push(r.job.id);
      if (i !== 2) jobs.patch(r.job.id, { nextRunAt: NOW }, NOW); // the third is still preparing
    }
    jobs.transition(ids[4]!, 'waiting', 'submitting', {}, NOW); // the fifth left the line
    const read: LineRead = { waiting: [], holders: [], mine: new Set() };
    const starts: number[] = [];
    for (let after: number | undefined = 0; after !== undefined;) {
      starts.push(after);
      after = jobs.linePage(read, after, 2);
    }
    // Pages count rows, the preparing one too: 6 in line (5 ready + 1 preparing), 2 a page, then an empty one.
    expect(starts).toEqual([0, ids[1], ids[3], ids[6]]);
    const ready = [0, 1, 3, 5, 6].map((i) => ids[i]!);
    expect(read.waiting.map((w) => w.id)).toEqual(ready);
    expect([...read.mine]).toEqual(ready);
    expect(jobs.line().waiting).toEqual(read.waiting);
    expect(jobs.slotsHeld()).toEqual([{ guildId: '1200000000000000001', userId: '3004', slots: 1 }]);
  });
});

describe('SettingsRepository', () => {
  it('stores overrides, keeps an audit trail, and resets', () => {
    const { settings } = repo();
    expect(settings.get('g1')).toBeUndefined();
    settings.update('g1', { private: true, lockPrivate: true, allowedModels: ['sora-2'] }, 'mod1', NOW);
    settings.update('g1', { dailyLimit: 3, allowedChannels: ['c1', 'c2'] }, 'mod2', NOW + 1);
    expect(settings.get('g1')).toMatchObject({
      private: true,
      lockPrivate: true,
      watermark: null,
      dailyLimit: 3,
      allowedModels: ['sora-2'],
      allowedChannels: ['c1', 'c2'],
      updatedBy: 'mod2',
    });
    settings.reset('g1', 'mod3', NOW + 2);
    expect(settings.get('g1')).toBeUndefined();
    expect(settings.history('g1', 10).map((h) => [h.userId, h.changes])).toEqual([
      ['mod3', { reset: true }],
      ['mod2', { dailyLimit: 3, allowedChannels: ['c1', 'c2'] }],
      ['mod1', { private: true, lockPrivate: true, allowedModels: ['sora-2'] }],
    ]);
  });
});

describe('StateRepository', () => {
  it('upserts values', () => {
    const { state } = repo();
    expect(state.get('x')).toBeUndefined();
    state.set('x', '1');
    state.set('x', '2');
    expect(state.get('x')).toBe('2');
  });
});
