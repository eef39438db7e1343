import { performance } from 'node:perf_hooks';
import type { App } from '../../src/app.js';
import type { ManualClock } from '../../src/clock.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RunOptions {
  /** Stop once this holds. */
  until: () => boolean;
  /** Fail after this much simulated time. */
  maxMs: number;
  /** Called on every tick before time moves (arrivals, sampling). */
  tick?: () => void;
  /** Something else under way that time must not jump over (an interaction not yet acknowledged). */
  busy?: () => boolean;
  /** The next moment the caller has something planned; a jump stops there. */
  nextAt?: () => number;
}

/**
 * Hours of an in-process bot in seconds, without distorting what it waits
 * for. While nothing runs (no handler, no job step, no dispatch pass, no
 * timer due) the simulated clock jumps ahead by up to `stepMs`; while
 * anything runs, it moves at the pace of real time. That matters here:
 * discord.js sleeps a rate limit's `Retry-After` on real timers, and the
 * emulators' windows run on the simulated clock, so a frozen clock would
 * answer a retry with the same 429 forever, and a jumping one would let a
 * wait pass in no time.
 *
 * discord.js also does its rate-limit bookkeeping (its count of 50 requests
 * per second, each bucket's reset) on `Date.now()`. Read in real time, a
 * compressed hour would pack many seconds' requests into one real second,
 * and discord.js would hold requests that real time spreads out. So while a
 * run is installed, `Date.now()` in this process reads the simulated clock —
 * the emulators, the bot and discord.js share one time, and only sleeps stay
 * real (during which the clock runs at real pace, as above).
 */
export class CompressedTime {
  private readonly realDateNow = Date.now;
  private installed = false;

  constructor(
    private readonly clock: ManualClock,
    private readonly app: () => App | undefined,
    private readonly stepMs = 1_000,
  ) {}

  /** Date.now() follows the simulated clock until uninstall(). */
  install(): void {
    if (this.installed) return;
    this.installed = true;
    Date.now = () => this.clock.now();
  }

  uninstall(): void {
    if (!this.installed) return;
    this.installed = false;
    Date.now = this.realDateNow;
  }

  /** Whether the bot has nothing running and nothing due now. */
  private idle(busy?: () => boolean): boolean {
    const app = this.app();
    return (!app || app.idle()) && this.clock.dueTimers === 0 && !busy?.();
  }

  /** Runs until `until()` holds: real pace while the bot works, jumps while it waits. */
  async run(options: RunOptions): Promise<void> {
    const deadline = this.clock.now() + options.maxMs;
    let last = performance.now();
    let quiet = 0;
    for (;;) {
      options.tick?.();
      if (options.until()) return;
      if (this.clock.now() > deadline)
        throw new Error(`condition not reached after ${options.maxMs} ms of simulated time`);
      await sleep(1);
      const now = performance.now();
      const elapsed = now - last;
      last = now;
      // Two quiet looks in a row: a step that just ended may have armed its successor's timer a microtask later.
      quiet = this.idle(options.busy) ? quiet + 1 : 0;
      let step = elapsed;
      if (quiet >= 2) {
        step = Math.max(elapsed, this.stepMs);
        const next = options.nextAt?.();
        if (next !== undefined) step = Math.max(elapsed, Math.min(step, next - this.clock.now()));
      }
      await this.clock.advance(step);
    }
  }

  /** Waits for `work` with the clock at real pace (an acknowledgement, a request in flight). */
  async during<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const settled = work.finally(() => (done = true));
    let last = performance.now();
    while (!done) {
      await sleep(1);
      const now = performance.now();
      await this.clock.advance(now - last);
      last = now;
    }
    return settled;
  }
}
