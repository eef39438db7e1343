import { describe, expect, it } from 'vitest';
import { shardOf } from '../../emulators/discord/gateway.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { statusesIn } from '../../src/jobs/lifecycle.js';
import { ownershipSql, ownsGuild, shardOfGuild } from '../../src/shard/ownership.js';
import { guildIdFor, seedJob } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1, 12);

/** Snowflakes from 2015 to 2080, whose shard the formula must get right even near 2^63. */
const SAMPLE_IDS = [
  '1200000000000000001',
  '175928847299117063',
  '81384788765712384',
  '9223372036854775807',
  '4611686018427387904',
  ...Array.from({ length: 200 }, (_, i) => guildIdFor(i * 7919)),
];

describe('shard ownership', () => {
  it("is Discord's sharding formula, as the gateway (emulator) routes a guild's events", () => {
    for (const count of [1, 2, 3, 4, 7, 16])
      for (const id of SAMPLE_IDS) expect(shardOfGuild(id, count)).toBe(shardOf(id, count));
    // DMs are shard 0's ("events that do not contain a guild_id will only be sent to the first shard").
    expect(shardOfGuild(null, 4)).toBe(0);
    expect(ownsGuild({ id: 0, count: 4 }, null)).toBe(true);
    expect(ownsGuild({ id: 1, count: 4 }, null)).toBe(false);
  });

  it('computes the same owner in SQL as in JavaScript, for every id', () => {
    const db = openDatabase(':memory:');
    for (const count of [2, 3, 4, 16]) {
      for (let id = 0; id < count; id++) {
        const owned = db.prepare<[string | null], { v: number }>(
          `SELECT (1${ownershipSql({ id, count })}) AS v FROM (SELECT ? AS guild_id)`,
        );
        for (const g of [...SAMPLE_IDS, null])
          expect(owned.get(g)!.v === 1, `${g} on ${id}/${count}`).toBe(shardOfGuild(g, count) === id);
      }
    }
    expect(ownershipSql({ id: 0, count: 1 })).toBe('');
    expect(() => ownershipSql({ id: 4, count: 4 })).toThrow(RangeError);
    db.close();
  });

  it('partitions what the scheduler, the recovery and the line see: each job in exactly one shard', () => {
    const db = openDatabase(':memory:');
    const all = new JobsRepository(db);
    const statuses = [...statusesIn('scheduled'), 'submitting', 'waiting'] as const;
    for (let g = 0; g < 40; g++)
      for (const status of statuses)
        seedJob(
          all,
          g === 39 ? null : guildIdFor(g),
          status,
          status === 'waiting' ? { nextRunAt: NOW } : { nextRunAt: NOW + g },
        );
    const shards = [0, 1, 2, 3].map((id) => new JobsRepository(db, { id, count: 4 }));
    const seen = new Map<number, number[]>();
    const note = (id: number, shard: number) => seen.set(id, [...(seen.get(id) ?? []), shard]);
    shards.forEach((repo, shard) => {
      for (const job of repo.due(NOW + 1_000, 10_000)) {
        expect(ownsGuild(repo.ownership, job.guildId)).toBe(true);
        note(job.id, shard);
      }
      for (const job of repo.withStatus('submitting')) note(job.id, shard);
      for (const id of repo.line().mine) note(id, shard);
      // The earliest of its own, not of everyone's.
      const own = repo.due(NOW + 1_000, 10_000).map((j) => j.nextRunAt!);
      expect(repo.nextDueAt()).toBe(Math.min(...own));
    });
    const unfinished = db.prepare("SELECT count(*) AS n FROM jobs WHERE status NOT IN ('delivered')").get() as {
      n: number;
    };
    expect(seen.size).toBe(unfinished.n);
    for (const [id, owners] of seen) expect(owners, `job ${id}`).toHaveLength(1);
    // The line's order and the capacity count stay global: every shard reads the same line.
    const lines = shards.map((r) => r.line());
    for (const l of lines) expect(l.waiting).toEqual(lines[0]!.waiting);
    for (const l of lines) expect(l.holders).toEqual(lines[0]!.holders);
    db.close();
  });

  it('keeps the scheduler on its partial index with the shard filter', () => {
    const db = openDatabase(':memory:');
    const repo = new JobsRepository(db, { id: 1, count: 4 });
    // The repository's own statements (better-sqlite3 keeps their SQL in `source`).
    const statements = repo as unknown as Record<'dueStmt' | 'nextDueStmt', { source: string }>;
    const plan = (sql: string, ...args: number[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join('\n');
    expect(statements.dueStmt.source).toContain('>> 22');
    expect(plan(statements.dueStmt.source, NOW, 10)).toContain('jobs_due');
    expect(plan(statements.nextDueStmt.source)).toContain('jobs_due');
    expect(plan(statements.nextDueStmt.source)).not.toContain('TEMP B-TREE');
    db.close();
  });
});
