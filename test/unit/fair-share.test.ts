import { describe, expect, it } from 'vitest';
import { fairShares, holdingOf, othersWait, worstHolding } from '../../scripts/bench/fair-share.js';

const map = (o: Record<string, number>) => new Map(Object.entries(o));

describe('fair shares of the upstream slots (bench part 10)', () => {
  it('splits equally among servers that want more than an equal split', () => {
    const s = fairShares(map({ a: 100, b: 50, c: 9 }), 8);
    expect([...s.values()].reduce((x, y) => x + y, 0)).toBeCloseTo(8);
    for (const v of s.values()) expect(v).toBeCloseTo(8 / 3);
  });

  it('gives a server wanting less what it wants, and its leftover to the others', () => {
    expect(Object.fromEntries(fairShares(map({ busy: 300, q1: 1, q2: 2, q3: 0 }), 8))).toEqual({
      q1: 1,
      q2: 2,
      busy: 5,
    });
  });

  it('never hands out more than the capacity, nor more than is wanted', () => {
    expect(Object.fromEntries(fairShares(map({ a: 1, b: 2 }), 8))).toEqual({ a: 1, b: 2 });
    expect(fairShares(map({}), 8).size).toBe(0);
  });

  it('finds the largest holding beyond the fair share while another server waits', () => {
    // The busy server took 6 slots before the others arrived; two quiet servers now wait.
    const worst = worstHolding(map({ busy: 6, q1: 1, q2: 1 }), map({ busy: 40, q1: 3, q2: 2 }), 8);
    expect(worst).toMatchObject({ server: 'busy', held: 6 });
    expect(worst!.fair).toBeCloseTo(8 / 3);
    expect(worst!.excess).toBeCloseTo(6 - 8 / 3);
  });

  it('counts nothing while no other server waits: a lone busy server may fill every slot', () => {
    expect(worstHolding(map({ busy: 8 }), map({ busy: 100 }), 8)).toBeUndefined();
    expect(worstHolding(map({ busy: 7, q1: 1 }), map({ busy: 100 }), 8)).toMatchObject({ server: 'q1', excess: 0 });
  });

  it('a fair spread stays within one slot of the share', () => {
    const worst = worstHolding(map({ a: 2, b: 2, c: 2, d: 1, e: 1 }), map({ a: 200, b: 20, c: 20, d: 20, e: 20 }), 8);
    expect(worst!.excess).toBeCloseTo(2 - 8 / 5);
    expect(worst!.excess).toBeLessThanOrEqual(1);
  });

  it('judges a grant by the receiver’s holding, the others’ running jobs counted in the shares', () => {
    // q1 runs 1 and wants no more; busy and q2 split the other 7.
    const h = holdingOf('busy', map({ busy: 5, q1: 1, q2: 1 }), map({ busy: 50, q2: 4 }), 8);
    expect(h).toEqual({ server: 'busy', held: 5, fair: 3.5, excess: 1.5 });
    expect(othersWait('busy', map({ busy: 50, q2: 4 }))).toBe(true);
    expect(othersWait('busy', map({ busy: 50, q2: 0 }))).toBe(false);
  });
});
