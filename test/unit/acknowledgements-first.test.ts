import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { AcknowledgementsFirst } from '../../src/services/acknowledgements-first.js';

/** A send that answers when told to. */
function pendingSend() {
  let answer!: () => void;
  let refuse!: (err: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    answer = resolve;
    refuse = reject;
  });
  return { send: () => promise, answer, refuse };
}

/** Whether a promise has settled, after the microtasks queued so far ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
}

describe('AcknowledgementsFirst', () => {
  it('lets follow-up work go at once when no acknowledgement is pending', async () => {
    const first = new AcknowledgementsFirst(new ManualClock());
    expect(await settled(first.clear())).toBe(true);
    await first.acknowledge(() => Promise.resolve());
    expect(await settled(first.clear())).toBe(true);
  });

  it('is idle only while no acknowledgement is pending (a first reply may then be the acknowledgement)', async () => {
    const first = new AcknowledgementsFirst(new ManualClock());
    expect(first.idle).toBe(true);
    const a = pendingSend();
    const acked = first.acknowledge(a.send);
    expect(first.idle).toBe(false);
    a.answer();
    await acked;
    expect(first.idle).toBe(true);
    const b = pendingSend();
    const refused = first.acknowledge(b.send);
    b.refuse(new Error('10062'));
    await expect(refused).rejects.toThrow('10062');
    expect(first.idle).toBe(true);
  });

  it('holds follow-up work until every pending acknowledgement is answered, refused ones included', async () => {
    const clock = new ManualClock();
    const first = new AcknowledgementsFirst(clock);
    const a = pendingSend();
    const b = pendingSend();
    const acked = first.acknowledge(a.send);
    const refused = first.acknowledge(b.send);
    const waiting = first.clear();
    a.answer();
    await acked;
    expect(await settled(waiting)).toBe(false);
    b.refuse(new Error('10062'));
    await expect(refused).rejects.toThrow('10062');
    expect(await settled(waiting)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('never holds follow-up work longer than its bound, however many acknowledgements keep coming', async () => {
    const clock = new ManualClock();
    const first = new AcknowledgementsFirst(clock, 1_000);
    void first.acknowledge(pendingSend().send);
    const early = first.clear();
    await clock.advance(600);
    const late = first.clear();
    expect(await settled(early)).toBe(false);
    await clock.advance(400);
    expect(await settled(early)).toBe(true);
    expect(await settled(late)).toBe(true);
    // The next waiter gets a bound of its own.
    const next = first.clear();
    await clock.advance(999);
    expect(await settled(next)).toBe(false);
    await clock.advance(1);
    expect(await settled(next)).toBe(true);
  });
});
