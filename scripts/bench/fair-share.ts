/**
 * What "a fair share of the upstream slots" means in bench part 10, as pure
 * functions of one moment: how many slots each server holds and how many of
 * its jobs wait.
 */

/**
 * Max-min fair shares of `capacity` slots among servers wanting `demand`
 * slots each (running + waiting): a server wanting less than an equal split
 * gets what it wants, and what it leaves is split among the others (water
 * filling). Shares may be fractional: 8 slots among 3 busy servers is 2.67 each.
 */
export function fairShares(demand: ReadonlyMap<string, number>, capacity: number): Map<string, number> {
  const shares = new Map<string, number>();
  const wanting = [...demand].filter(([, d]) => d > 0).sort((a, b) => a[1] - b[1]);
  let left = capacity;
  for (const [i, [server, d]] of wanting.entries()) {
    const share = Math.min(d, left / (wanting.length - i));
    shares.set(server, share);
    left -= share;
  }
  return shares;
}

export interface Holding {
  server: string;
  held: number;
  fair: number;
  /** held − fair. */
  excess: number;
}

const demandOf = (running: ReadonlyMap<string, number>, waiting: ReadonlyMap<string, number>) => {
  const servers = new Set([...running.keys(), ...waiting.keys()]);
  return new Map([...servers].map((s) => [s, (running.get(s) ?? 0) + (waiting.get(s) ?? 0)]));
};

/** Whether a server other than `server` has a job waiting. */
export function othersWait(server: string, waiting: ReadonlyMap<string, number>): boolean {
  return [...waiting].some(([s, n]) => s !== server && n > 0);
}

/** What `server` holds against its fair share, every server's demand (running + waiting) counted. */
export function holdingOf(
  server: string,
  running: ReadonlyMap<string, number>,
  waiting: ReadonlyMap<string, number>,
  capacity: number,
): Holding {
  const fair = fairShares(demandOf(running, waiting), capacity).get(server) ?? 0;
  const held = running.get(server) ?? 0;
  return { server, held, fair, excess: held - fair };
}

/**
 * The server holding the most slots beyond its fair share while another
 * server has a job waiting — the moment the fair line is about — or
 * undefined when no other server waits for any holder.
 */
export function worstHolding(
  running: ReadonlyMap<string, number>,
  waiting: ReadonlyMap<string, number>,
  capacity: number,
): Holding | undefined {
  const fair = fairShares(demandOf(running, waiting), capacity);
  let worst: Holding | undefined;
  for (const [server, held] of running) {
    if (held === 0 || !othersWait(server, waiting)) continue;
    const share = fair.get(server) ?? 0;
    const h = { server, held, fair: share, excess: held - share };
    if (!worst || h.excess > worst.excess) worst = h;
  }
  return worst;
}
