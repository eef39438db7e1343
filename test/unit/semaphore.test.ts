import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/services/tuzi/semaphore.js';

/** A task the test finishes by hand. */
function gate() {
  let open!: () => void;
  const done = new Promise<void>((resolve) => (open = resolve));
  return { done, open };
}

describe('Semaphore', () => {
  it('caps concurrency, serves waiters in order, and tells when idle', async () => {
    const s = new Semaphore(1);
    const order: string[] = [];
    const a = gate();
    const b = gate();
    const ra = s.run(async () => {
      order.push('a');
      await a.done;
    });
    const rb = s.run(async () => {
      order.push('b');
      await b.done;
    });
    let idle = false;
    const whenIdle = s.whenIdle().then(() => (idle = true));
    await Promise.resolve();
    expect(order).toEqual(['a']);
    expect(s.inUse).toBe(1);

    a.open();
    await ra;
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['a', 'b']);
    expect(idle).toBe(false); // b still holds the slot

    b.open();
    await rb;
    await whenIdle;
    expect(idle).toBe(true);
    expect(s.inUse).toBe(0);
    await expect(s.whenIdle()).resolves.toBeUndefined();
  });
});
