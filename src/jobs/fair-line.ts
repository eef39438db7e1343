/**
 * The fair line for upstream capacity, as a pure function of what the
 * database holds: who waits, and who holds the provider's running slots.
 *
 * The next job to send comes from the server holding the fewest slots (and,
 * among equals, the one whose oldest waiting job is oldest), then from that
 * server's member holding the fewest slots (likewise), then that member's
 * oldest job. Repeating the choice while counting each pick as a slot taken
 * gives the whole line: one busy server, or one member with ten jobs, cannot
 * starve the others, and no server holds more than its fair share plus one
 * while others wait. The dispatcher sends the head of this order, and the
 * replies show places in it, so what members are told is what happens.
 */
export interface LineEntry {
  id: number;
  guildId: string | null;
  userId: string;
}

export interface SlotHolder {
  guildId: string | null;
  userId: string;
  /** Upstream slots this member of this server holds now. */
  slots: number;
}

interface MemberLine {
  load: number;
  jobs: number[];
  next: number;
}

interface ServerLine {
  load: number;
  members: Map<string, MemberLine>;
  /** Its oldest waiting job, kept up to date as jobs leave (Infinity when none is left). */
  oldest: number;
}

const head = (m: MemberLine): number => m.jobs[m.next] ?? Infinity;
const oldestOf = (s: ServerLine): number => {
  let oldest = Infinity;
  for (const m of s.members.values()) oldest = Math.min(oldest, head(m));
  return oldest;
};

/** Picks the entry with the smallest (load, oldest job), or undefined when none has jobs left. */
function lightest<T>(items: Iterable<T>, load: (t: T) => number, oldest: (t: T) => number): T | undefined {
  let best: T | undefined;
  for (const item of items) {
    if (oldest(item) === Infinity) continue;
    if (best === undefined || load(item) < load(best) || (load(item) === load(best) && oldest(item) < oldest(best)))
      best = item;
  }
  return best;
}

/** Job ids in the order they will be sent if no running job finished meanwhile. */
export function lineOrder(waiting: readonly LineEntry[], holders: readonly SlotHolder[]): number[] {
  const servers = new Map<string, ServerLine>();
  const server = (guildId: string | null) => {
    const key = guildId ?? '';
    let s = servers.get(key);
    if (!s) servers.set(key, (s = { load: 0, members: new Map(), oldest: Infinity }));
    return s;
  };
  const member = (s: ServerLine, userId: string) => {
    let m = s.members.get(userId);
    if (!m) s.members.set(userId, (m = { load: 0, jobs: [], next: 0 }));
    return m;
  };
  for (const h of holders) {
    const s = server(h.guildId);
    s.load += h.slots;
    member(s, h.userId).load += h.slots;
  }
  for (const w of [...waiting].sort((a, b) => a.id - b.id)) member(server(w.guildId), w.userId).jobs.push(w.id);
  for (const s of servers.values()) s.oldest = oldestOf(s);

  const order: number[] = [];
  for (;;) {
    const s = lightest(
      servers.values(),
      (x) => x.load,
      (x) => x.oldest,
    );
    if (!s) return order;
    const m = lightest(s.members.values(), (x) => x.load, head)!;
    order.push(m.jobs[m.next++]!);
    s.load++;
    m.load++;
    s.oldest = oldestOf(s);
  }
}
