import { Worker } from 'node:worker_threads';
import type { TimerHandle, Timers } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Db } from './database.js';

/** SQLite's own default for `wal_autocheckpoint`, put back when the checkpointer's thread is gone. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1_000;
/** How often the thread checkpoints: the WAL stays a few MB even at 100 /sora per second. */
export const CHECKPOINT_EVERY_MS = 1_000;

/** SQLite's answer to `PRAGMA wal_checkpoint`: frames in the WAL, frames copied into the database. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs
 * inside the commit that takes the WAL past `wal_autocheckpoint` pages: that
 * commit copies the WAL into the database file and syncs both. At 100 /sora
 * per second it came every ~1.5 s and took 7–14 ms, and the commit before an
 * acknowledgement was often the one (bench part 1e: the main connection's
 * commit blocks). Here the main connection never checkpoints; a worker
 * thread with its own connection (src/db/checkpoint-worker.mjs) runs a
 * PASSIVE checkpoint on each tick of the injected timers, one at a time.
 * Should the thread end, the main connection checkpoints by itself again.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private timer: TimerHandle | undefined;
  private inFlight = false;
  private closed = false;
  private readonly exited: Promise<void>;
  private readonly waiters: ((result: CheckpointResult) => void)[] = [];

  /**
   * Starts one for a file database in WAL mode; undefined for anything else
   * (an in-memory database has no WAL to checkpoint).
   */
  static start(db: Db, timers: Timers, log: Logger, everyMs = CHECKPOINT_EVERY_MS): WalCheckpointer | undefined {
    if (db.memory || db.pragma('journal_mode', { simple: true }) !== 'wal') return undefined;
    return new WalCheckpointer(db, timers, log, everyMs);
  }

  private constructor(
    private readonly db: Db,
    private readonly timers: Timers,
    private readonly log: Logger,
    private readonly everyMs: number,
  ) {
    this.worker = new Worker(new URL('./checkpoint-worker.mjs', import.meta.url), { workerData: { file: db.name } });
    this.worker.unref(); // never what keeps the process alive
    db.pragma('wal_autocheckpoint = 0');
    this.worker.on('message', (result: ({ ok: true } & CheckpointResult) | { ok: false; error: string }) => {
      this.inFlight = false;
      if (!result.ok) this.log.warn({ error: result.error }, 'WAL checkpoint failed; the next tick tries again');
      else for (const resolve of this.waiters.splice(0)) resolve(result);
    });
    this.worker.on('error', (err) => this.log.warn({ err }, 'the WAL checkpointer thread failed'));
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', () => {
        this.timer?.cancel();
        if (!this.closed)
          this.log.warn('the WAL checkpointer thread ended; the database connection checkpoints by itself again');
        this.selfCheckpoint();
        resolve();
      }),
    );
    this.arm();
  }

  /** The next checkpoint's result (tests, and whoever wants to see the WAL drained). */
  next(): Promise<CheckpointResult> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops the thread (its connection closed); the main connection checkpoints by itself from then on. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.timer?.cancel();
      this.worker.postMessage('close');
    }
    await this.exited;
  }

  private arm(): void {
    this.timer = this.timers.setTimeout(() => {
      if (this.closed) return;
      if (!this.inFlight) {
        this.inFlight = true;
        this.worker.postMessage('checkpoint');
      }
      this.arm();
    }, this.everyMs);
  }

  private selfCheckpoint(): void {
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
  }
}
