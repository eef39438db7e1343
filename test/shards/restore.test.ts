import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { World } from '../../emulators/world.js';
import { BACKUP_TAKEN_AT_KEY, backupDatabase, integrityProblems } from '../../src/db/backup.js';
import { creates, embedText, MINUTE, sora, videoMessages, world } from '../e2e/helpers.js';

/**
 * Issue #18 part 5: a backup taken during a 50-job run, restored after the
 * run went on, delivers each job that was unfinished in the copy exactly
 * once and posts nothing twice. End to end: the real bot (discord.js
 * against the Discord emulator, the Tuzi emulator), one ManualClock.
 */

let w: World | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

interface CopyRow {
  id: number;
  status: string;
}

/** 50 jobs of 30 s – 3 min, 20 at a time upstream, and a backup taken while some are done, some running, some waiting. */
async function runWithBackupMidway(): Promise<{ world: World; backup: string; inCopy: Map<number, string> }> {
  w = await world({ env: { DEFAULT_MAX_ACTIVE: '0', TUZI_MAX_RUNNING_JOBS: '20' } });
  const world_ = w;
  world_.tuzi.setJobPlan((job) => ({ durationMs: (1 + (job.index % 6)) * 30_000 }));
  for (let i = 0; i < 50; i++) await sora(world_, world_.users.alice, { prompt: `restore ${i}` });
  await world_.advanceUntil(() => videoMessages(world_).length >= 12, 30 * MINUTE, 10_000);

  const backup = path.join(world_.dataDir, 'backup.db');
  await backupDatabase(world_.app!.db, backup, { takenAt: world_.clock.now() });
  const copy = new Database(backup, { readonly: true });
  const inCopy = new Map(
    (copy.prepare('SELECT id, status FROM jobs').all() as CopyRow[]).map((r) => [r.id, r.status] as const),
  );
  expect(integrityProblems(copy)).toEqual([]);
  expect(copy.prepare('SELECT value FROM bot_state WHERE key = ?').get(BACKUP_TAKEN_AT_KEY)).toBeDefined();
  copy.close();
  // The copy caught every kind of job: delivered, upstream or being posted, still in line.
  const kinds = [...inCopy.values()];
  expect(kinds.filter((s) => s === 'delivered').length).toBeGreaterThan(0);
  expect(kinds.filter((s) => ['queued', 'in_progress', 'completed', 'delivering'].includes(s)).length).toBeGreaterThan(
    0,
  );
  expect(kinds.filter((s) => s === 'waiting').length).toBeGreaterThan(0);

  // The run goes on to the end after the backup; then the machine is lost.
  await world_.advanceUntil(() => videoMessages(world_).length === 50, 60 * MINUTE, 10_000);
  await world_.stopBot();
  return { world: world_, backup, inCopy };
}

/** The documented restore: the live files moved aside, the copy put in place. */
function restore(world_: World, backup: string): void {
  const live = world_.config.databasePath;
  for (const f of [live, `${live}-wal`, `${live}-shm`]) if (fs.existsSync(f)) fs.renameSync(f, `${f}.old`);
  fs.copyFileSync(backup, live);
}

function postsPerJob(world_: World): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of videoMessages(world_))
    for (const a of m.attachments) {
      const id = Number(/^sora-(\d+)\.mp4$/.exec(a.filename)?.[1]);
      out.set(id, (out.get(id) ?? 0) + 1);
    }
  return out;
}

describe('restoring a backup taken during a run', () => {
  it('delivers each job unfinished in the copy exactly once, re-posts nothing, never sends a job twice', async () => {
    const { world: world_, backup, inCopy } = await runWithBackupMidway();
    const posted = new Map(
      videoMessages(world_).map((m) => [Number(/sora-(\d+)/.exec(m.attachments[0]!.filename)![1]), m.id]),
    );
    expect(posted.size).toBe(50);

    restore(world_, backup);
    await world_.startBot();
    await world_.advanceUntil(
      () => [...inCopy.keys()].every((id) => ['delivered', 'submit_failed'].includes(world_.app!.jobs.get(id)!.status)),
      30 * MINUTE,
      10_000,
    );
    await world_.advance(10 * MINUTE, 10_000);

    // Nothing was posted again: still one video per job, the same messages.
    const posts = postsPerJob(world_);
    expect(posts.size).toBe(50);
    for (const [id, n] of posts) expect(n, `posts of job ${id}`).toBe(1);
    // Nothing was sent upstream again: one POST per job, from the first run.
    expect(creates(world_)).toHaveLength(50);

    for (const [id, status] of inCopy) {
      const job = world_.app!.jobs.get(id)!;
      if (['queued', 'in_progress', 'completed', 'delivering', 'delivered'].includes(status)) {
        // Upstream or done in the copy: delivered, recorded against the post the first run made.
        expect(job.status, `job ${id} (${status} in the copy)`).toBe('delivered');
        expect(job.deliveredMessageId).toBe(posted.get(id));
      } else {
        // In line (or mid-POST) in the copy: it may have been sent after the backup — so it is
        // ended as interrupted, never sent again, and the member is told.
        expect(job.status, `job ${id} (${status} in the copy)`).toBe('submit_failed');
        expect(job.errorCode).toBe('interrupted');
        const reply = world_.discord.messages(world_.channelId).find((m) => m.id === job.messageId)!;
        expect(embedText(reply)).toContain('not sent again');
      }
    }
    // The stamp is gone: the restored database is now the live one, and a restart changes nothing.
    expect(
      world_.app!.db.prepare('SELECT value FROM bot_state WHERE key = ?').get(BACKUP_TAKEN_AT_KEY),
    ).toBeUndefined();
  });

  it('what the stamp prevents: the same copy without it posts the jobs finished after the backup a second time', async () => {
    const { world: world_, backup, inCopy } = await runWithBackupMidway();
    // As a plain file copy of the database would be: no `backup.taken_at`.
    const copy = new Database(backup);
    copy.prepare('DELETE FROM bot_state WHERE key = ?').run(BACKUP_TAKEN_AT_KEY);
    copy.close();
    restore(world_, backup);
    await world_.startBot();
    await world_.advanceUntil(
      () => [...inCopy.keys()].every((id) => ['delivered', 'submit_failed'].includes(world_.app!.jobs.get(id)!.status)),
      30 * MINUTE,
      10_000,
    );
    const twice = [...postsPerJob(world_)].filter(([, n]) => n > 1).map(([id]) => id);
    const upstreamInCopy = [...inCopy].filter(([, s]) => ['queued', 'in_progress', 'completed'].includes(s));
    expect(twice.length).toBeGreaterThan(0);
    for (const id of twice) expect(['queued', 'in_progress', 'completed', 'waiting']).toContain(inCopy.get(id));
    expect(upstreamInCopy.length).toBeGreaterThan(0);
    // …and the jobs in line in the copy were sent upstream again.
    expect(creates(world_).length).toBeGreaterThan(50);
  });
});
