import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';

describe('ManualClock', () => {
  it('fires due timers in time order, and a 0 ms timer on advance(0)', async () => {
    const clock = new ManualClock(1_000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    const cancelled = clock.setTimeout(() => fired.push('never'), 5);
    cancelled.cancel();
    await clock.advance(15);
    expect(fired).toEqual(['a']);
    expect(clock.now()).toBe(1_015);

    clock.setTimeout(() => fired.push('now'), 0);
    expect(clock.dueTimers).toBe(1);
    expect(clock.pendingTimers).toBe(2);
    await clock.advance(0);
    expect(fired).toEqual(['a', 'now']);
    expect(clock.dueTimers).toBe(0);
    await clock.advance(5);
    expect(fired).toEqual(['a', 'now', 'b']);
    expect(clock.pendingTimers).toBe(0);
  });
});
