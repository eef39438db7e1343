/**
 * A JSON gateway (no compression) that speaks the part of Discord's
 * protocol discord.js relies on: HELLO, IDENTIFY → READY + GUILD_CREATE,
 * heartbeats, sequenced dispatches, and RESUME that replays what a
 * disconnected session missed. Sessions outlive their socket until the
 * client closes with 1000/1001 or the emulator invalidates them, exactly the
 * window in which Discord accepts a resume.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Clock } from '../../src/clock.js';

export const GatewayOp = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  PresenceUpdate: 3,
  VoiceStateUpdate: 4,
  Resume: 6,
  Reconnect: 7,
  RequestGuildMembers: 8,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const;

/** Intents Discord only grants when enabled for the app in the portal. */
export const PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15);

/** How many dispatches a session keeps for replay. */
const HISTORY_LIMIT = 2_000;

export interface GatewayLogEntry {
  /** Emulator clock time. */
  at: number;
  kind: 'connect' | 'identify' | 'resume' | 'resumed' | 'invalid_session' | 'close' | 'dispatch' | 'reconnect_request';
  sessionId?: string;
  /** Close code (for `close`). */
  code?: number;
  reason?: string;
  /** Dispatch event name and sequence. */
  t?: string;
  s?: number;
  /** Whether the dispatch was sent again during a resume. */
  replayed?: boolean;
  /** Whether the dispatch waited in the session buffer because no socket was attached. */
  buffered?: boolean;
  /** `/gateway` or the resume path the client connected to. */
  path?: string;
  /** `[shard_id, num_shards]` of the session (identify). */
  shard?: [number, number];
}

export interface DispatchPayload {
  op: 0;
  t: string;
  s: number;
  d: unknown;
}

interface Session {
  id: string;
  seq: number;
  intents: number;
  /** `[shard_id, num_shards]` from IDENTIFY; `[0, 1]` when none was sent. */
  shard: [number, number];
  history: DispatchPayload[];
  socket: WebSocket | null;
  valid: boolean;
}

export interface IdentifyResult {
  ready: Record<string, unknown>;
  guildCreates: Record<string, unknown>[];
}

export interface GatewayOptions {
  clock: Clock;
  botToken: string;
  heartbeatIntervalMs: number;
  /** Privileged intents the application has enabled (0: none, like a fresh app). */
  privilegedIntents: number;
  /** Builds READY and the GUILD_CREATE burst for a new session of one shard. */
  onIdentify(sessionId: string, shard: [number, number]): IdentifyResult;
  /** Every guild the bot is in, for sharding checks. */
  guildIds(): string[];
  /** Sessions holding more guilds than this are closed with 4011; Discord: 2,500. */
  maxGuildsPerShard: number;
}

/** `shard_id = (guild_id >> 22) % num_shards` (developers/events/gateway, "Sharding Formula"). */
export function shardOf(guildId: string, shardCount: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

interface Connection {
  socket: WebSocket;
  session: Session | null;
  path: string;
}

export interface GatewayStats {
  connections: number;
  identifies: number;
  resumes: number;
  heartbeats: number;
  dispatches: number;
}

export class Gateway {
  readonly log: GatewayLogEntry[] = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Map<string, Session>();
  private readonly connections = new Set<Connection>();
  private readonly counters: GatewayStats = { connections: 0, identifies: 0, resumes: 0, heartbeats: 0, dispatches: 0 };

  constructor(private readonly opts: GatewayOptions) {}

  get stats(): GatewayStats {
    return { ...this.counters };
  }

  /** Sockets with an identified or resumed session attached. */
  get liveSessions(): number {
    return [...this.sessions.values()].filter((s) => s.valid && s.socket?.readyState === WebSocket.OPEN).length;
  }

  /** Sessions that can still receive (or buffer) dispatches. */
  get validSessions(): number {
    return [...this.sessions.values()].filter((s) => s.valid).length;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/gateway' && url.pathname !== '/resume') {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, url));
  }

  private onConnection(ws: WebSocket, url: URL): void {
    const conn: Connection = { socket: ws, session: null, path: url.pathname };
    this.connections.add(conn);
    this.counters.connections++;
    this.record({ kind: 'connect', path: url.pathname });
    ws.on('close', (code, reason) => this.onClose(conn, code, reason.toString()));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => this.onMessage(conn, data, isBinary));
    if (url.searchParams.get('v') !== '10') {
      ws.close(4012, 'Invalid API version');
      return;
    }
    // `compress=zlib-stream` is ignored on purpose: discord.js parses text
    // frames as plain JSON even when it asked for compression.
    const encoding = url.searchParams.get('encoding') ?? 'json';
    if (encoding !== 'json') {
      ws.close(4002, 'The emulator only speaks encoding=json');
      return;
    }
    this.send(ws, {
      op: GatewayOp.Hello,
      d: { heartbeat_interval: this.opts.heartbeatIntervalMs, _trace: ['["emulator-gateway",{"micros":0}]'] },
      s: null,
      t: null,
    });
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      conn.socket.close(4002, 'Decode error');
      return;
    }
    let payload: { op?: unknown; d?: unknown };
    try {
      payload = JSON.parse(data.toString()) as { op?: unknown; d?: unknown };
    } catch {
      conn.socket.close(4002, 'Decode error');
      return;
    }
    const d = (typeof payload.d === 'object' && payload.d !== null ? payload.d : {}) as Record<string, unknown>;
    switch (payload.op) {
      case GatewayOp.Heartbeat:
        this.counters.heartbeats++;
        this.send(conn.socket, { op: GatewayOp.HeartbeatAck });
        return;
      case GatewayOp.Identify:
        this.identify(conn, d);
        return;
      case GatewayOp.Resume:
        this.resume(conn, d);
        return;
      case GatewayOp.PresenceUpdate:
      case GatewayOp.VoiceStateUpdate:
      case GatewayOp.RequestGuildMembers:
        if (!conn.session) conn.socket.close(4003, 'Not authenticated');
        return;
      default:
        conn.socket.close(4001, 'Unknown opcode');
    }
  }

  private identify(conn: Connection, d: Record<string, unknown>): void {
    if (conn.session) {
      conn.socket.close(4005, 'Already authenticated');
      return;
    }
    if (d.token !== this.opts.botToken) {
      conn.socket.close(4004, 'Authentication failed');
      return;
    }
    const shard = d.shard;
    let shardPair: [number, number] = [0, 1];
    if (shard !== undefined) {
      const valid =
        Array.isArray(shard) &&
        shard.length === 2 &&
        Number.isInteger(shard[1]) &&
        (shard[1] as number) >= 1 &&
        Number.isInteger(shard[0]) &&
        (shard[0] as number) >= 0 &&
        (shard[0] as number) < (shard[1] as number);
      if (!valid) {
        conn.socket.close(4010, 'Invalid shard');
        return;
      }
      shardPair = [shard[0] as number, shard[1] as number];
    }
    // "apps that are in 2500+ guilds must enable sharding" (developers/events/gateway#sharding):
    // a session (unsharded, or with too few shards) that would hold more is refused.
    const held = this.opts.guildIds().filter((g) => shardOf(g, shardPair[1]) === shardPair[0]).length;
    if (held > this.opts.maxGuildsPerShard) {
      conn.socket.close(4011, 'Sharding required');
      return;
    }
    const intents = d.intents;
    if (typeof intents !== 'number' || !Number.isInteger(intents) || intents < 0 || intents >= 1 << 26) {
      conn.socket.close(4013, 'Invalid intent(s)');
      return;
    }
    if ((intents & PRIVILEGED_INTENTS & ~this.opts.privilegedIntents) !== 0) {
      conn.socket.close(4014, 'Disallowed intent(s)');
      return;
    }
    const session: Session = {
      id: randomBytes(16).toString('hex'),
      seq: 0,
      intents,
      shard: shardPair,
      history: [],
      socket: conn.socket,
      valid: true,
    };
    // Built before the session is listed: events the build itself causes (a thread found due to
    // archive) go to the other sessions, and must not reach this one ahead of READY.
    const { ready, guildCreates } = this.opts.onIdentify(session.id, shardPair);
    this.sessions.set(session.id, session);
    conn.session = session;
    this.counters.identifies++;
    this.record({ kind: 'identify', sessionId: session.id, path: conn.path, shard: shardPair });
    this.dispatchTo(session, 'READY', ready);
    for (const guild of guildCreates) this.dispatchTo(session, 'GUILD_CREATE', guild);
  }

  private resume(conn: Connection, d: Record<string, unknown>): void {
    if (conn.session) {
      conn.socket.close(4005, 'Already authenticated');
      return;
    }
    if (d.token !== this.opts.botToken) {
      conn.socket.close(4004, 'Authentication failed');
      return;
    }
    this.counters.resumes++;
    const session = typeof d.session_id === 'string' ? this.sessions.get(d.session_id) : undefined;
    const seq = typeof d.seq === 'number' ? d.seq : 0;
    this.record({
      kind: 'resume',
      sessionId: typeof d.session_id === 'string' ? d.session_id : undefined,
      s: seq,
      path: conn.path,
    });
    const oldest = session?.history[0]?.s ?? 1;
    if (!session || !session.valid || seq < oldest - 1) {
      this.record({ kind: 'invalid_session', sessionId: session?.id });
      this.send(conn.socket, { op: GatewayOp.InvalidSession, d: false });
      return;
    }
    if (seq > session.seq) {
      conn.socket.close(4007, 'Invalid seq');
      return;
    }
    // A session lives on one socket; a resume elsewhere takes it over.
    if (session.socket && session.socket !== conn.socket && session.socket.readyState === WebSocket.OPEN) {
      session.socket.close(4000, 'Session resumed elsewhere');
    }
    session.socket = conn.socket;
    conn.session = session;
    for (const payload of session.history) {
      if (payload.s <= seq) continue;
      this.send(conn.socket, payload);
      this.record({ kind: 'dispatch', sessionId: session.id, t: payload.t, s: payload.s, replayed: true });
    }
    this.dispatchTo(session, 'RESUMED', { _trace: ['["emulator-gateway",{"micros":0}]'] });
    this.record({ kind: 'resumed', sessionId: session.id });
  }

  private onClose(conn: Connection, code: number, reason: string): void {
    this.connections.delete(conn);
    const session = conn.session;
    this.record({ kind: 'close', sessionId: session?.id, code, reason, path: conn.path });
    if (!session || session.socket !== conn.socket) return;
    session.socket = null;
    // Closing with 1000/1001 ends the session for good; any other close leaves it resumable.
    if (code === 1000 || code === 1001) session.valid = false;
  }

  /**
   * Sends an event to every valid session of the shard it belongs to: the
   * shard of its guild, or shard 0 for events without one ("Gateway events
   * that do not contain a guild_id will only be sent to the first shard",
   * developers/events/gateway#sharding). Sessions without a socket buffer it
   * for their resume. Returns how many sessions got it (sent or buffered).
   */
  dispatch(t: string, d: unknown, filter?: (intents: number) => boolean): number {
    const guildId = guildIdOf(t, d);
    let reached = 0;
    for (const session of this.sessions.values()) {
      if (!session.valid) continue;
      if (filter && !filter(session.intents)) continue;
      const [shardId, shardCount] = session.shard;
      if ((guildId === undefined ? 0 : shardOf(guildId, shardCount)) !== shardId) continue;
      this.dispatchTo(session, t, d);
      reached++;
    }
    return reached;
  }

  private dispatchTo(session: Session, t: string, d: unknown): void {
    const payload: DispatchPayload = { op: 0, t, s: ++session.seq, d };
    session.history.push(payload);
    if (session.history.length > HISTORY_LIMIT) session.history.shift();
    this.counters.dispatches++;
    const live = session.socket?.readyState === WebSocket.OPEN;
    if (live) this.send(session.socket!, payload);
    this.record({ kind: 'dispatch', sessionId: session.id, t, s: payload.s, buffered: !live });
  }

  /**
   * Drops every connected session's socket. Resumable: the close code makes
   * discord.js resume (4000 by default). Not resumable: the session is
   * invalidated and the client is told so (op 9), so it identifies again.
   */
  disconnect(opts: { resumable?: boolean; code?: number } = {}): number {
    const resumable = opts.resumable ?? true;
    let count = 0;
    for (const session of this.sessions.values()) {
      const socket = session.socket;
      if (!session.valid || !socket || socket.readyState !== WebSocket.OPEN) continue;
      count++;
      if (resumable) {
        socket.close(opts.code ?? 4000, 'Emulated disconnect');
      } else {
        session.valid = false;
        this.record({ kind: 'invalid_session', sessionId: session.id });
        this.send(socket, { op: GatewayOp.InvalidSession, d: false });
      }
    }
    return count;
  }

  /** Asks connected clients to reconnect and resume (op 7), as Discord does before maintenance. */
  requestReconnect(): number {
    let count = 0;
    for (const session of this.sessions.values()) {
      if (session.valid && session.socket?.readyState === WebSocket.OPEN) {
        count++;
        this.record({ kind: 'reconnect_request', sessionId: session.id });
        this.send(session.socket, { op: GatewayOp.Reconnect, d: null, s: null, t: null });
      }
    }
    return count;
  }

  async close(): Promise<void> {
    for (const conn of this.connections) conn.socket.terminate();
    this.connections.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private send(ws: WebSocket, payload: unknown): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(payload));
  }

  private record(entry: Omit<GatewayLogEntry, 'at'>): void {
    this.log.push({ at: this.opts.clock.now(), ...entry });
  }
}

/** The guild an event is about: `guild_id`, or the guild itself for GUILD_CREATE / UPDATE / DELETE. */
function guildIdOf(t: string, d: unknown): string | undefined {
  if (typeof d !== 'object' || d === null) return undefined;
  const rec = d as Record<string, unknown>;
  if (typeof rec.guild_id === 'string') return rec.guild_id;
  if ((t === 'GUILD_CREATE' || t === 'GUILD_UPDATE' || t === 'GUILD_DELETE') && typeof rec.id === 'string')
    return rec.id;
  return undefined;
}
