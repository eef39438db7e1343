import { statusesIn } from '../jobs/lifecycle.js';
import { BACKUP_TAKEN_AT_KEY } from './backup.js';
import type { Db } from './database.js';
import { sqlList } from './derived-schema.js';

/** What opening a restored copy changed. */
export interface RestoredCopy {
  /** When the backup was taken (ms), from its stamp. */
  takenAt: number;
  /** Unfinished jobs that will look in their channel for a post before posting. */
  lookFirst: number;
  /** Jobs that were in line in the copy, now ended as interrupted like a crash mid-submission. */
  interrupted: number;
}

/**
 * A backup made by src/db/backup.ts carries `bot_state['backup.taken_at']`;
 * the live database never does. A database that has it was restored from a
 * copy, and every unfinished row in it may have moved on after the copy was
 * taken, while the old process ran on:
 *
 * - A job upstream or done (queued, in_progress, completed, delivering) may
 *   have been posted since. Its row is marked as if a post had gone out at
 *   its start (`post_attempted_at = created_at` unless already set), so its
 *   delivery looks in the channel for the post first (Delivery.deliver →
 *   DiscordMessenger.findPosted, which pages back at most 1,000 messages and
 *   fails the look, never posts, when there are more) and records the one it
 *   finds instead of posting again.
 * - A job in line (waiting) may have been sent upstream since: sending it
 *   again could make and charge a second video, and the copy cannot tell.
 *   It is moved to `submitting` — the one status that means "may or may not
 *   exist upstream" — so the shard that owns it settles it at start exactly
 *   like a row a crash left mid-submission (JobService.settleInterrupted):
 *   ended as interrupted, never resent, and the member is told. Rows already
 *   in `submitting` in the copy take the same path.
 *
 * All of it, and the removal of the stamp, in one immediate transaction at
 * open: the first process (the sharding manager, or the single bot) does it
 * once, and the others find no stamp. Returns undefined for a database that
 * is not a restored copy.
 */
export function settleRestoredCopy(db: Db, now: number): RestoredCopy | undefined {
  const stamp = db.prepare<[string], { value: string }>('SELECT value FROM bot_state WHERE key = ?');
  const lookFirst = db.prepare<[number]>(
    `UPDATE jobs SET post_attempted_at = created_at, updated_at = ?
       WHERE post_attempted_at IS NULL AND status IN (${sqlList(statusesIn('scheduled'))})`,
  );
  const maySent = db.prepare<[number]>(
    `UPDATE jobs SET status = 'submitting', updated_at = ? WHERE status IN (${sqlList(statusesIn('inLine'))})`,
  );
  const unstamp = db.prepare<[string]>('DELETE FROM bot_state WHERE key = ?');
  return db
    .transaction((): RestoredCopy | undefined => {
      const value = stamp.get(BACKUP_TAKEN_AT_KEY)?.value;
      if (value === undefined) return undefined;
      const marked = lookFirst.run(now).changes;
      const interrupted = maySent.run(now).changes;
      unstamp.run(BACKUP_TAKEN_AT_KEY);
      return { takenAt: Number(value), lookFirst: marked, interrupted };
    })
    .immediate();
}
