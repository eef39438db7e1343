import { Status, type Client } from 'discord.js';
import type { Clock, Timers } from '../clock.js';
import type { Db } from '../db/database.js';
import { WriteProbe } from '../db/ops-queries.js';

export interface CheckResult {
  ok: boolean;
  /** One short line for the operator; never a secret. */
  detail: string;
}

/** A named check, run synchronously on every `/healthz`. */
export type HealthCheck = () => CheckResult;

export interface HealthReport {
  status: 'ok' | 'fail';
  /** The names of the checks that failed. */
  failed: string[];
  checks: Record<string, CheckResult>;
}

/** Runs every check; a check that throws counts as failed with its message. */
export function runChecks(checks: Readonly<Record<string, HealthCheck>>): HealthReport {
  const results: Record<string, CheckResult> = {};
  for (const [name, check] of Object.entries(checks)) {
    try {
      results[name] = check();
    } catch (err) {
      results[name] = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
  }
  const failed = Object.keys(results).filter((n) => !results[n]!.ok);
  return { status: failed.length === 0 ? 'ok' : 'fail', failed, checks: results };
}

/**
 * "Gateway connected": every shard of this client is Ready. discord.js keeps
 * a per-shard status that leaves Ready on a close (Connecting), through
 * HELLO (Identifying or Resuming) and comes back on RESUMED or after READY
 * and the guilds (WebSocketManager.attachEvents). The manager's own
 * `client.ws.status` turns Ready once and stays so, which is why the shards
 * are read instead.
 */
export function gatewayCheck(client: Client): HealthCheck {
  return () => {
    const shards = [...client.ws.shards.values()];
    if (shards.length === 0) return { ok: false, detail: 'not connected to the gateway yet' };
    const down = shards.filter((s) => s.status !== Status.Ready);
    if (down.length > 0) {
      return { ok: false, detail: down.map((s) => `shard ${s.id} ${Status[s.status] ?? s.status}`).join(', ') };
    }
    return { ok: true, detail: `${shards.length} shard(s) ready` };
  };
}

/** "Database writable": a real write (see WriteProbe) on every check. */
export function databaseCheck(db: Db, clock: Clock): HealthCheck {
  const probe = new WriteProbe(db);
  return () => {
    const problem = probe.check(clock.now());
    return problem ? { ok: false, detail: problem } : { ok: true, detail: 'writable' };
  };
}

/**
 * Proof of life of a timer-driven loop. `wrap()` gives the loop a Timers
 * whose callbacks first record the time: the poller arms its one timer at
 * least every idle-check interval (and after every step), so a heartbeat
 * older than a few intervals means the scheduler stopped — it was never
 * started, it was stopped, or every slot is held by steps that never end.
 */
export class Heartbeat {
  private last: number | undefined;

  constructor(private readonly clock: Clock) {}

  /** Timers that record a beat each time one of their callbacks runs. */
  wrap(timers: Timers): Timers {
    return {
      setTimeout: (fn, ms) =>
        timers.setTimeout(() => {
          this.beat();
          fn();
        }, ms),
    };
  }

  /** Records a beat now (the loop ran outside a timer, e.g. its first pass at start). */
  beat(): void {
    this.last = this.clock.now();
  }

  /** When the last beat was, or undefined before the first. */
  get lastAt(): number | undefined {
    return this.last;
  }

  /** Healthy when the last beat is at most `staleMs` old. */
  check(staleMs: number, what = 'poller'): HealthCheck {
    return () => {
      if (this.last === undefined) return { ok: false, detail: `${what} has not started` };
      const age = this.clock.now() - this.last;
      const detail = `${what} last ran ${Math.ceil(age / 1000)} s ago`;
      return age <= staleMs ? { ok: true, detail } : { ok: false, detail: `${detail} (limit ${staleMs / 1000} s)` };
    };
  }
}
