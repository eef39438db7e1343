import fs from 'node:fs';
import path from 'node:path';
import type { Clock, TimerHandle, Timers } from '../clock.js';
import { backupDatabase } from '../db/backup.js';
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';

export interface BackupServiceOptions {
  /** Folder the copies go to (created if missing). */
  dir: string;
  /** Copies kept; older ones are deleted after each successful backup. */
  keep: number;
  /** Time between two backups. */
  everyMs: number;
  /** With no earlier backup, the first is taken this long after start (after the bot settled in). */
  firstDelayMs: number;
  /** After a failure, try again this much later (not a whole day). */
  retryMs: number;
  /** File name prefix, e.g. `sora-bot`. */
  prefix: string;
}

export interface BackupOutcome {
  ok: boolean;
  at: number;
  file?: string;
  error?: unknown;
}

const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/;

/**
 * The daily backup inside the bot: `<prefix>-<UTC time>.db` files in one
 * folder, the newest `keep` kept. Scheduled through the injected Timers.
 * The schedule follows the newest copy on disk, not the process: a bot
 * restarted every hour still backs up once a day, and one restarted after a
 * week backs up soon after start.
 */
export class BackupService {
  private timer: TimerHandle | undefined;
  private running: Promise<BackupOutcome> | undefined;
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly log: Logger,
    private readonly options: BackupServiceOptions,
    private readonly onOutcome: (outcome: BackupOutcome) => void = () => undefined,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    fs.mkdirSync(this.options.dir, { recursive: true });
    this.removeLeftovers();
    const newest = this.backups()[0];
    const now = this.clock.now();
    // Clamped: a copy stamped in the future (the clock was set back) must not postpone backups for longer than a period.
    const delay = newest
      ? Math.min(this.options.everyMs, Math.max(0, newest.at + this.options.everyMs - now))
      : this.options.firstDelayMs;
    this.arm(delay);
    this.log.info({ dir: this.options.dir, keep: this.options.keep, inMs: delay }, 'daily backups on');
  }

  /** Stops scheduling and waits for a backup in progress (the database must stay open until it ends). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.running;
  }

  /** Takes a backup now (the schedule carries on from it). Concurrent calls share one backup. */
  runNow(): Promise<BackupOutcome> {
    this.running ??= this.backupOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Resolves when no backup is running (tests on a manual clock wait for the one a timer started). */
  async whenIdle(): Promise<void> {
    await this.running;
  }

  /** The copies in the folder, newest first. */
  backups(): Array<{ file: string; at: number }> {
    const pattern = new RegExp(`^${escapeRegExp(this.options.prefix)}-(\\d{8}T\\d{9}Z)\\.db$`);
    let names: string[];
    try {
      names = fs.readdirSync(this.options.dir);
    } catch {
      return [];
    }
    const out: Array<{ file: string; at: number }> = [];
    for (const name of names) {
      const stamp = pattern.exec(name)?.[1];
      const at = stamp === undefined ? undefined : parseStamp(stamp);
      if (at !== undefined) out.push({ file: path.join(this.options.dir, name), at });
    }
    return out.sort((a, b) => b.at - a.at);
  }

  private arm(ms: number): void {
    this.timer?.cancel();
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.runNow();
    }, ms);
  }

  private async backupOnce(): Promise<BackupOutcome> {
    const at = this.clock.now();
    const file = path.join(this.options.dir, `${this.options.prefix}-${formatStamp(at)}.db`);
    let outcome: BackupOutcome;
    try {
      const result = await backupDatabase(this.db, file, { takenAt: at, mode: 'stepwise' });
      const removed = this.prune();
      this.log.info({ file, bytes: result.bytes, removed }, 'database backed up');
      outcome = { ok: true, at, file };
    } catch (error) {
      this.log.error({ err: error, file }, 'database backup failed');
      outcome = { ok: false, at, error };
    }
    this.onOutcome(outcome);
    if (!this.stopped) this.arm(outcome.ok ? this.options.everyMs : this.options.retryMs);
    return outcome;
  }

  /** Deletes copies beyond `keep`, oldest first; only files this service named. */
  private prune(): number {
    const old = this.backups().slice(this.options.keep);
    for (const b of old) fs.rmSync(b.file, { force: true });
    return old.length;
  }

  /** A crash mid-backup leaves a `.partial` file behind; it is never a valid copy. */
  private removeLeftovers(): void {
    for (const name of fs.readdirSync(this.options.dir)) {
      if (name.startsWith(`.${this.options.prefix}-`) && /\.partial(-journal|-wal|-shm)?$/.test(name)) {
        fs.rmSync(path.join(this.options.dir, name), { force: true });
      }
    }
  }
}

/** `20260101T120000000Z`: sortable, unambiguous, and safe in every file system. */
export function formatStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:.]/g, '');
}

function parseStamp(stamp: string): number | undefined {
  const m = STAMP.exec(stamp);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as [number, number, number, number, number, number, number, number];
  const at = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  return Number.isFinite(at) ? at : undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
