/**
 * Time as a dependency. Production code reads the time and schedules the
 * jobs' work (polls, delivery retries, image retention) through these
 * interfaces, so tests (and the benchmarks' simulated clock) can run a
 * ten-minute job in milliseconds. Two kinds of wait stay on real timers on
 * purpose: shutdown deadlines (app.stop, Poller.stop, TuziClient.close), which
 * must fire even while a test's clock stands still, and the HTTP client's
 * short in-request backoff, injected on its own as `sleep`.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface TimerHandle {
  cancel(): void;
}

export interface Timers {
  /** Runs `fn` once after `ms` milliseconds (never synchronously). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = { now: () => Date.now() };

export const systemTimers: Timers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock and timer source that only moves when told to. `advance()` fires
 * due timers in time order and lets promises settle between them, so code
 * that awaits I/O inside a timer callback still progresses deterministically.
 */
export class ManualClock implements Clock, Timers {
  private current: number;
  private seq = 0;
  private pending: PendingTimer[] = [];

  constructor(start = Date.UTC(2026, 0, 1, 12, 0, 0)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: PendingTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.pending.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Number of timers that have not fired or been cancelled. */
  get pendingTimers(): number {
    return this.pending.filter((t) => !t.cancelled).length;
  }

  /** Number of live timers due at the current time (they fire on the next `advance`, even `advance(0)`). */
  get dueTimers(): number {
    return this.pending.filter((t) => !t.cancelled && t.at <= this.current).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number, settle: () => Promise<void> = flushMicrotasks): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      this.pending = this.pending.filter((t) => !t.cancelled);
      this.pending.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.pending[0];
      if (!next || next.at > target) break;
      this.pending.shift();
      this.current = Math.max(this.current, next.at);
      next.fn();
      await settle();
    }
    this.current = target;
    await settle();
  }

  /** Sets the time without firing timers (for tests that only read the clock). */
  set(ms: number): void {
    this.current = ms;
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
