import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { statusesIn } from '../../src/jobs/lifecycle.js';
import { lineOrder } from '../../src/jobs/fair-line.js';
import { shardOfGuild } from '../../src/shard/ownership.js';
import { newJob } from '../../emulators/job-rows.js';
import { guildIdFor } from './helpers.js';

const RACER = fileURLToPath(new URL('./fixtures/racer.ts', import.meta.url));
const NOW = Date.UTC(2026, 0, 1, 12);
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function tempDb(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sora-race-')), 'bot.db');
}

/** Starts `n` racer processes on `file`, waits until all are ready, lets them go at once, returns what each won. */
async function race(n: number, file: string, args: (i: number) => string[]): Promise<number[][]> {
  const racers = Array.from({ length: n }, (_, i) => {
    const child = fork(RACER, [file, ...args(i)], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    children.push(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`racer exited early (${code})`)));
    });
    const result = new Promise<number[]>((resolve, reject) => {
      child.on('message', (m: { won?: number[]; error?: string }) => {
        if (m.won) resolve(m.won);
        if (m.error) reject(new Error(m.error));
      });
    });
    return { child, ready, result };
  });
  await Promise.all(racers.map((r) => r.ready));
  for (const r of racers) r.child.send('go');
  return Promise.all(racers.map((r) => r.result));
}

function expectDisjoint(wins: number[][]): number[] {
  const all = wins.flat();
  expect(new Set(all).size).toBe(all.length);
  return all;
}

describe('two processes on one database never both claim a job', () => {
  /** 2,000 jobs ready to send, over 40 servers; job i's prompt names it. */
  function lineOf2000(file: string): { db: ReturnType<typeof openDatabase>; jobs: JobsRepository } {
    const db = openDatabase(file);
    const jobs = new JobsRepository(db);
    for (let i = 1; i <= 2_000; i++) {
      const r = jobs.insertWithinQuota(
        newJob({
          prompt: `race #${i}`,
          guildId: guildIdFor(i % 40),
          userId: `${1_300_000_000_000_000_000n + BigInt(i % 7)}`,
        }),
        { maxActive: 0, dailyLimit: 0, dayStart: 0 },
        NOW,
      );
      expect(r.ok && r.job.id).toBe(i);
      jobs.patch(i, { nextRunAt: NOW }, NOW); // ready to send
    }
    return { db, jobs };
  }

  const running = (db: ReturnType<typeof openDatabase>) =>
    (
      db
        .prepare(`SELECT count(*) AS n FROM jobs WHERE status IN (${statusesIn('usesCapacity').map((s) => `'${s}'`)})`)
        .get() as { n: number }
    ).n;

  it('submissions, three shards: the cap is the key’s, and the jobs sent are the ones one process would have sent', async () => {
    const file = tempDb();
    const { db, jobs } = lineOf2000(file);
    const { waiting, holders } = jobs.line();
    const fairFirst500 = lineOrder(waiting, holders).slice(0, 500);
    // Each claim reads the whole line: 500 of them keep the shards at it together for a while.
    const wins = await race(3, file, (i) => [String(i), '3', 'submit', '500']);
    const sent = expectDisjoint(wins);
    expect(sent).toHaveLength(500);
    expect(running(db)).toBe(500);
    // Each shard sent only its own servers' jobs, and every shard had some among the fair first 500.
    wins.forEach((won, shard) => {
      expect(won.length).toBeGreaterThan(0);
      for (const id of won) expect(shardOfGuild(jobs.get(id)!.guildId, 3)).toBe(shard);
    });
    // Fair across servers, whichever shard claimed first.
    expect(new Set(sent)).toEqual(new Set(fairFirst500));
    db.close();
  });

  it('submissions, two processes that both own every job (a misconfiguration): still each job once, within the cap', async () => {
    const file = tempDb();
    const { db, jobs } = lineOf2000(file);
    const wins = await race(2, file, () => ['0', '1', 'submit', '500']);
    const sent = expectDisjoint(wins);
    expect(sent).toHaveLength(500);
    expect(running(db)).toBe(500);
    expect(new Set(sent)).toEqual(new Set(jobs.withStatus('queued').map((j) => j.id)));
    db.close();
  });

  it('deliveries: of processes that all saw the same 300 jobs completed, exactly one claims each', async () => {
    const file = tempDb();
    const db = openDatabase(file);
    const jobs = new JobsRepository(db);
    for (let i = 1; i <= 300; i++) {
      const r = jobs.insertWithinQuota(newJob(), { maxActive: 0, dailyLimit: 0, dayStart: 0 }, NOW);
      if (r.ok) jobs.transition(r.job.id, 'waiting', 'completed', { upstreamId: `t${i}`, nextRunAt: NOW }, NOW);
    }
    const wins = await race(3, file, () => ['0', '1', 'deliver']);
    const claimed = expectDisjoint(wins);
    expect(claimed.sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(jobs.withStatus('delivering')).toHaveLength(300);
    for (const job of jobs.withStatus('delivering')) expect(job.deliveryAttempts).toBe(1);
    db.close();
  });
});
