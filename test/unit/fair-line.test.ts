import { describe, expect, it } from 'vitest';
import { lineOrder, type LineEntry, type SlotHolder } from '../../src/jobs/fair-line.js';

/**
 * The line's rule written as plainly as it reads, in O(N × M): repeatedly the
 * lightest server (fewest slots, then oldest waiting job), its lightest member
 * likewise, that member's oldest job, each pick counted as a slot taken.
 * lineOrder must give exactly this order.
 */
function plainOrder(waiting: readonly LineEntry[], holders: readonly SlotHolder[]): number[] {
  const load = new Map<string, number>();
  const add = (key: string, n: number) => load.set(key, (load.get(key) ?? 0) + n);
  const server = (g: string | null) => `s:${g ?? ''}`;
  const member = (g: string | null, u: string) => `m:${g ?? ''}:${u}`;
  for (const h of holders) {
    add(server(h.guildId), h.slots);
    add(member(h.guildId, h.userId), h.slots);
  }
  const left = [...waiting].sort((a, b) => a.id - b.id);
  const order: number[] = [];
  const better = (a: [number, number], b: [number, number]) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  while (left.length > 0) {
    // Each server's key: its load and its oldest waiting job.
    const servers = new Map<string | null, [number, number]>();
    for (const w of left) if (!servers.has(w.guildId)) servers.set(w.guildId, [load.get(server(w.guildId)) ?? 0, w.id]);
    let g: string | null = null;
    let best: [number, number] | undefined;
    for (const [key, k] of servers)
      if (!best || better(k, best)) {
        best = k;
        g = key;
      }
    const members = new Map<string, [number, number]>();
    for (const w of left)
      if (w.guildId === g && !members.has(w.userId)) members.set(w.userId, [load.get(member(g, w.userId)) ?? 0, w.id]);
    let u = '';
    let bestMember: [number, number] | undefined;
    for (const [key, k] of members)
      if (!bestMember || better(k, bestMember)) {
        bestMember = k;
        u = key;
      }
    const i = left.findIndex((w) => w.guildId === g && w.userId === u);
    order.push(left[i]!.id);
    left.splice(i, 1);
    add(server(g), 1);
    add(member(g, u), 1);
  }
  return order;
}

/** A deterministic pseudo-random sequence (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the fair line (lineOrder)', () => {
  it('takes one job per server, then per member, oldest first, before anyone gets a second', () => {
    const waiting: LineEntry[] = [
      { id: 1, guildId: 'busy', userId: 'a' },
      { id: 2, guildId: 'busy', userId: 'a' },
      { id: 3, guildId: 'busy', userId: 'b' },
      { id: 4, guildId: 'quiet', userId: 'c' },
      { id: 5, guildId: 'busy', userId: 'a' },
    ];
    expect(lineOrder(waiting, [])).toEqual([1, 4, 3, 2, 5]);
  });

  it('puts a server already holding slots behind one holding none, and a direct message (no server) is a server too', () => {
    const waiting: LineEntry[] = [
      { id: 1, guildId: 'full', userId: 'a' },
      { id: 2, guildId: null, userId: 'b' },
      { id: 3, guildId: 'other', userId: 'c' },
    ];
    const holders: SlotHolder[] = [{ guildId: 'full', userId: 'x', slots: 2 }];
    expect(lineOrder(waiting, holders)).toEqual([2, 3, 1]);
  });

  it('is empty for an empty line, whoever holds slots', () => {
    expect(lineOrder([], [{ guildId: 'g', userId: 'u', slots: 3 }])).toEqual([]);
  });

  it('gives exactly the order of the rule applied one pick at a time, on 300 random lines', () => {
    const next = random(7);
    for (let round = 0; round < 300; round++) {
      const servers = 1 + Math.floor(next() * 5);
      const members = 1 + Math.floor(next() * 8);
      const n = Math.floor(next() * 60);
      const pick = (k: number) => Math.floor(next() * k);
      const guild = () => (pick(servers + 1) === servers ? null : `g${pick(servers)}`);
      const ids = new Set<number>();
      const waiting: LineEntry[] = [];
      while (waiting.length < n) {
        const id = 1 + pick(500);
        if (ids.has(id)) continue;
        ids.add(id);
        waiting.push({ id, guildId: guild(), userId: `u${pick(members)}` });
      }
      const holders: SlotHolder[] = Array.from({ length: pick(6) }, () => ({
        guildId: guild(),
        userId: `u${pick(members)}`,
        slots: 1 + pick(3),
      }));
      expect(lineOrder(waiting, holders), `round ${round}`).toEqual(plainOrder(waiting, holders));
    }
  });

  it('orders a long line of many members (3,000 jobs of 500) as the rule does', () => {
    const waiting: LineEntry[] = Array.from({ length: 3_000 }, (_, i) => ({
      id: i + 1,
      guildId: i % 7 === 0 ? 'other' : 'main',
      userId: `u${(i * 37) % 500}`,
    }));
    const holders: SlotHolder[] = [{ guildId: 'main', userId: 'u1', slots: 8 }];
    expect(lineOrder(waiting, holders)).toEqual(plainOrder(waiting, holders));
  });
});
