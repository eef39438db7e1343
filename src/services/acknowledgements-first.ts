import { systemTimers, type TimerHandle, type Timers } from '../clock.js';

/**
 * Acknowledgements before follow-up work. Discord refuses an acknowledgement
 * after 3 s, while a deferred reply can be edited for 15 minutes; yet in a
 * burst, the first replies of the commands acknowledged first (rendering, an
 * edit request, often a new connection, then the job's bookkeeping) would
 * run on the one event loop ahead of the checks and acknowledgements of the
 * commands behind them. So a command's work after its deferral waits until
 * no deferral of this process is pending — at most `maxWaitMs`, so a steady
 * stream never starves the first replies. Measured in bench part 1.
 */
export class AcknowledgementsFirst {
  private pending = 0;
  private waiting: (() => void)[] = [];
  private timer: TimerHandle | undefined;

  constructor(
    private readonly timers: Timers = systemTimers,
    // 2 s, not 1: in a burst of 1,000 the acknowledgements take about 1 s here, and the first replies
    // released all at once by a 1 s bound delayed the last of them (bench part 1b: p99 1.7 s).
    private readonly maxWaitMs = 2_000,
  ) {}

  /** No acknowledgement is pending: one sent now would not hold up another (the first reply may be it). */
  get idle(): boolean {
    return this.pending === 0;
  }

  /** Sends an acknowledgement, counted as pending until Discord answered it. */
  async acknowledge(send: () => Promise<unknown>): Promise<void> {
    this.pending++;
    try {
      await send();
    } finally {
      if (--this.pending === 0) this.release();
    }
  }

  /** Resolves once no acknowledgement is pending, or within `maxWaitMs`. */
  clear(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    // One timer for everyone waiting: it releases them all, so none waits longer than maxWaitMs.
    this.timer ??= this.timers.setTimeout(() => this.release(), this.maxWaitMs);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}
