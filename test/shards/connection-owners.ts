import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';

/**
 * Which process sent each request an emulator saw, without asking the bot:
 * a TCP relay in front of the emulator that, for every connection it
 * accepts, finds the local process holding the other end — the kernel's
 * socket table (/proc/net/tcp: the inode of the socket bound to that port)
 * and the processes' file descriptors (/proc/<pid>/fd → `socket:[inode]`),
 * as `ss -p` does. The relay's own connection to the emulator is then
 * tied to that process by its local port, which the emulator records as
 * `remotePort`. Linux only (CI and this machine are Linux).
 */
export interface ConnectionOwners {
  /** Point the bot here instead of at the emulator. */
  url: string;
  /** The pid that sent a request the emulator recorded with `remotePort` at `at` (ms, real time). */
  ownerOf(remotePort: number, at: number): number | undefined;
  /** Connections the relay could not tie to a process. */
  readonly unattributed: number;
  close(): Promise<void>;
}

interface Link {
  port: number;
  pid: number | undefined;
  openedAt: number;
  closedAt: number;
}

/** The inode of the IPv4 socket whose local port is `local` and remote port `remote` (hex columns of /proc/net/tcp). */
function socketInode(local: number, remote: number): string | undefined {
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10) continue;
    const localPort = parseInt(cols[1]!.split(':')[1]!, 16);
    const remotePort = parseInt(cols[2]!.split(':')[1]!, 16);
    if (localPort === local && remotePort === remote) return cols[9];
  }
  return undefined;
}

function holderOf(inode: string, candidates: readonly number[]): number | undefined {
  const target = `socket:[${inode}]`;
  for (const pid of candidates) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** Direct children of `parent` (the shards of a manager), read from /proc/<pid>/stat. */
export function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 is the ppid; the command name (field 2) may hold spaces, so read after its closing parenthesis.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export async function startConnectionOwners(
  target: string,
  candidates: () => readonly number[],
): Promise<ConnectionOwners> {
  const upstream = new URL(target);
  const links: Link[] = [];
  const sockets = new Set<net.Socket>();
  let unattributed = 0;
  const server = net.createServer((client) => {
    sockets.add(client);
    // Synchronously, while the client's socket certainly exists.
    const inode = socketInode(client.remotePort!, (server.address() as AddressInfo).port);
    const pid = inode === undefined ? undefined : holderOf(inode, candidates());
    if (pid === undefined) unattributed++;
    const relay = net.connect({ host: upstream.hostname, port: Number(upstream.port) });
    sockets.add(relay);
    relay.once('connect', () => {
      const link: Link = { port: relay.localPort!, pid, openedAt: Date.now(), closedAt: Infinity };
      links.push(link);
      relay.once('close', () => (link.closedAt = Date.now()));
    });
    client.pipe(relay).pipe(client);
    const end = () => {
      client.destroy();
      relay.destroy();
      sockets.delete(client);
      sockets.delete(relay);
    };
    client.once('error', end);
    relay.once('error', end);
    client.once('close', end);
    relay.once('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    ownerOf(remotePort, at) {
      // The link on that port open at that time (ports are reused only after a close).
      return links.findLast((l) => l.port === remotePort && l.openedAt <= at + 5 && at <= l.closedAt)?.pid;
    },
    get unattributed() {
      return unattributed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
