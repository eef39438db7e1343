import type { App } from '../src/app.js';
import type { ManualClock } from '../src/clock.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits (real time) until the bot has nothing running: no handler, no job
 * step, no timer due now. Timers that fall due at the current simulated time
 * (a finished step re-arming the scheduler with 0 ms) fire at once, as they
 * would in real time. Shared by World.settle and the simulated-clock bot
 * process; it imports no emulator, so that process stays the bot alone.
 */
export async function settleBot(app: App | undefined, clock: ManualClock | undefined, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  let quiet = 0;
  while (quiet < 3) {
    if (Date.now() > deadline) throw new Error('the bot did not settle');
    await clock?.advance(0);
    await sleep(2);
    quiet = (!app || app.idle()) && !clock?.dueTimers ? quiet + 1 : 0;
  }
}
