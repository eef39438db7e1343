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
import { Heap } from '../heap.js';

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
  /** Its members with jobs left, lightest (load, then oldest job) first. */
  byLoad: Heap<MemberLine>;
  /** Its members by their oldest job: the server's oldest is the top's (entries go stale as jobs leave). */
  byAge: Heap<{ member: MemberLine; head: number }>;
}

const head = (m: MemberLine): number => m.jobs[m.next] ?? Infinity;

/** Its oldest waiting job (Infinity when none is left), dropping entries made stale by jobs that left. */
function oldestOf(s: ServerLine): number {
  for (;;) {
    const top = s.byAge.peek();
    if (!top) return Infinity;
    if (top.head === head(top.member)) return top.head;
    s.byAge.pop();
  }
}

/** Members by (slots held, oldest waiting job). */
const lighter = (a: MemberLine, b: MemberLine) => a.load < b.load || (a.load === b.load && head(a) < head(b));

/**
 * Job ids in the order they will be sent if no running job finished
 * meanwhile. The choice above, repeated — each time the lightest server
 * (fewest slots, then oldest waiting job), its lightest member likewise,
 * that member's oldest job — kept in heaps, so a line of N jobs from M
 * members orders in O(N log M): a long line is ordered on every claim and
 * refresh, and one member with many jobs, or many members, must not make that
 * quadratic (bench part 1c). Job ids are unique, so no two choices tie.
 */
export function lineOrder(waiting: readonly LineEntry[], holders: readonly SlotHolder[]): number[] {
  return [...inLineOrder(waiting, holders)];
}

/**
 * The same order, one job id at a time: a caller that needs only the head
 * (a claim) stops there, and one that walks a long line (the places'
 * refresh) can let the event loop run between stretches of it.
 */
export function* inLineOrder(waiting: readonly LineEntry[], holders: readonly SlotHolder[]): Generator<number> {
  const servers = new Map<string, { load: number; members: Map<string, MemberLine> }>();
  const server = (guildId: string | null) => {
    const key = guildId ?? '';
    let s = servers.get(key);
    if (!s) servers.set(key, (s = { load: 0, members: new Map() }));
    return s;
  };
  const member = (s: { members: Map<string, MemberLine> }, userId: string) => {
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

  const line = new Heap<ServerLine>((a, b) => a.load < b.load || (a.load === b.load && oldestOf(a) < oldestOf(b)));
  for (const { load, members } of servers.values()) {
    const s: ServerLine = {
      load,
      byLoad: new Heap(lighter),
      byAge: new Heap((a, b) => a.head < b.head),
    };
    for (const m of members.values()) {
      if (m.jobs.length === 0) continue;
      s.byLoad.push(m);
      s.byAge.push({ member: m, head: head(m) });
    }
    if (s.byLoad.size > 0) line.push(s);
  }

  for (let s = line.pop(); s; s = line.pop()) {
    const m = s.byLoad.pop()!;
    yield m.jobs[m.next++]!;
    m.load++;
    s.load++;
    if (m.next < m.jobs.length) {
      s.byLoad.push(m);
      s.byAge.push({ member: m, head: head(m) });
    }
    if (s.byLoad.size > 0) line.push(s);
  }
}
