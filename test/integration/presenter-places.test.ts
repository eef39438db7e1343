import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { FAR_PLACE_SPACING, Presenter } from '../../src/jobs/presenter.js';
import { createLogger } from '../../src/logger.js';
import type { DiscordMessenger } from '../../src/services/discord-messenger.js';
import { newJob } from '../../emulators/job-rows.js';

const EDIT_MS = 5_000;
const unlimited = { maxActive: 0, dailyLimit: 0, dayStart: 0 };

/** The real presenter on a real database; the messenger records the edits and accepts them. */
function world() {
  const db = openDatabase(':memory:');
  const jobs = new JobsRepository(db);
  const clock = new ManualClock(Date.UTC(2026, 11, 2, 9));
  const edits: { jobId: number; at: number; text: string }[] = [];
  const messenger = {
    editReply: (job: { id: number }, body: { embeds: unknown[] }) => {
      edits.push({ jobId: job.id, at: clock.now(), text: JSON.stringify(body.embeds) });
      return Promise.resolve({ ok: true, messageId: '1300000000000000099' });
    },
    // A reply created just now: far from the hour at which replies move.
    replyCreatedAt: () => clock.now(),
  } as unknown as DiscordMessenger;
  const presenter = new Presenter(jobs, messenger, clock, createLogger({ level: 'silent', secrets: [] }), {
    progressEditMs: EDIT_MS,
  });
  const insert = () => {
    const result = jobs.insertWithinQuota(newJob(), unlimited, clock.now());
    if (!result.ok) throw new Error('not inserted');
    return result.job.id;
  };
  /** Shows each job its place as the dispatcher's refresh would, every second for `seconds`. */
  const refresh = async (places: [id: number, place: (s: number) => number][], seconds: number) => {
    for (let s = 0; s < seconds; s++) {
      for (const [id, place] of places)
        await presenter.showProgress(jobs.get(id)!, { position: Math.round(place(s)), paused: false });
      await clock.advance(1_000);
    }
  };
  return { jobs, clock, edits, insert, refresh, presenter };
}

describe('places in line shown on the reply (Presenter)', () => {
  it('edits a near place at the edit spacing, a far one at most once per FAR_PLACE_SPACING spacings', async () => {
    const w = world();
    const near = w.insert();
    const far = w.insert();
    // Both move forward every second for 2 minutes: the near one inside the exact places, the far one far back.
    await w.refresh(
      [
        [near, (s) => 49 - 0.3 * s],
        [far, (s) => 3_000 - 20 * s],
      ],
      120,
    );
    const gaps = (id: number) => {
      const at = w.edits.filter((e) => e.jobId === id).map((e) => e.at);
      return at.slice(1).map((t, i) => t - at[i]!);
    };
    expect(gaps(near).length).toBeGreaterThan(10);
    expect(Math.min(...gaps(near))).toBeGreaterThanOrEqual(EDIT_MS);
    expect(Math.min(...gaps(near))).toBeLessThan(FAR_PLACE_SPACING * EDIT_MS);
    expect(gaps(far).length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...gaps(far))).toBeGreaterThanOrEqual(FAR_PLACE_SPACING * EDIT_MS);
  });

  it('shows a pause at once, however far back the place', async () => {
    const w = world();
    const id = w.insert();
    await w.presenter.showProgress(w.jobs.get(id)!, { position: 2_000, paused: false });
    await w.clock.advance(EDIT_MS);
    expect(await w.presenter.showProgress(w.jobs.get(id)!, { position: 2_000, paused: true })).toBe(true);
    expect(w.edits.at(-1)!.text).toContain('paused');
  });
});
