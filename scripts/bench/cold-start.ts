/**
 * Part 1f of `npm run bench`: the bot's own steps before and after an
 * acknowledgement, timed back to back and after the machine sat idle. At 100
 * /sora per second each command arrives ~10 ms after the last one's work
 * ended, and on a shared virtual machine the first work after an idle spell
 * runs several times slower than the same work a moment later (the CPU's
 * caches and idle state) — so the steady stream pays for every step of a
 * command at its cold price, where a burst pays it once. The baseline's one
 * step pays it too, on far less code.
 *
 * Each step gets its own loop: wait (a turn of the event loop, or `idleMs`
 * on a timer), then time that step alone. The database is a WAL file like
 * production's; the steps are the bot's own code.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository, type Job } from '../../src/db/jobs-repository.js';
import { renderJob } from '../../src/ui/render.js';
import { newJob } from '../../emulators/job-rows.js';
import { median } from './stats.js';

export interface ColdStep {
  label: string;
  /** Median µs, the step run again a turn of the event loop after the last. */
  hotUs: number;
  /** Median µs, the step run after `idleMs` of idle. */
  coldUs: number;
}

export interface ColdStart {
  idleMs: number;
  samples: number;
  steps: ColdStep[];
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const idle = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function measureColdStart(options: { samples: number; idleMs?: number }): Promise<ColdStart> {
  const idleMs = options.idleMs ?? 10;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cold-start-'));
  const db = openDatabase(path.join(dir, 'bot.sqlite'));
  try {
    const jobs = new JobsRepository(db);
    const quota = { maxActive: 0, dailyLimit: 0, dayStart: 0, serverDailyLimit: 0, serverDailyCredits: 0 };
    const made: Job[] = [];
    let n = 0;
    const insert = async () => {
      const now = Date.now();
      const r = await jobs.insertWithinQuotaGrouped(
        newJob({ userId: `${1_250_000_000_000_000_000n + BigInt(n++ % 500)}` }),
        quota,
        now,
      );
      if (!r.ok) throw new Error(`insert refused: ${r.reason}`);
      made.push(r.job);
    };
    // A line of a few thousand rows, as in the steady stream.
    for (let i = 0; i < 2_000; i++) await insert();
    const pick = () => made[Math.floor(Math.random() * made.length)]!;
    const steps: [string, () => unknown][] = [
      ['the insert and its commit before the acknowledgement (JobsRepository.insertWithinQuotaGrouped)', insert],
      [
        'the row update after the first reply (JobsRepository.patch)',
        () => jobs.patch(pick().id, { messageId: '1300000000000000001', nextRunAt: Date.now() }, Date.now()),
      ],
      ['a row read by id (JobsRepository.get)', () => jobs.get(pick().id)],
      ['the first reply rendered (renderJob)', () => renderJob(pick())],
    ];
    const result: ColdStep[] = [];
    for (const [label, step] of steps) {
      const time = async (wait: () => Promise<void>) => {
        const us: number[] = [];
        for (let i = 0; i < options.samples; i++) {
          await wait();
          const t = performance.now();
          await step();
          us.push((performance.now() - t) * 1000);
        }
        return median(us);
      };
      result.push({ label, hotUs: await time(turn), coldUs: await time(() => idle(idleMs)) });
    }
    return { idleMs, samples: options.samples, steps: result };
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
