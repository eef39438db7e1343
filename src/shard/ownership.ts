import { ShardClientUtil } from 'discord.js';

/**
 * Which jobs a process follows. A job belongs to the shard that owns its
 * guild, by Discord's own formula `shard_id = (guild_id >> 22) % num_shards`
 * (developers/events/gateway, "Sharding Formula"); a DM job belongs to shard
 * 0, where Discord sends every event without a guild. The same shard gets
 * the guild's interactions, so the process that made a job is the one that
 * follows it. Ownership is computed from the guild id and the current count,
 * never stored: a restart with another count re-homes every unfinished job
 * by itself.
 */
export interface ShardOwnership {
  readonly id: number;
  readonly count: number;
}

/** One process, no manager: it owns everything. */
export const WHOLE: ShardOwnership = { id: 0, count: 1 };

/** The shard of a guild (discord.js's own calculation), 0 for DMs. */
export function shardOfGuild(guildId: string | null, count: number): number {
  if (guildId === null || count === 1) return 0;
  return ShardClientUtil.shardIdForGuildId(guildId, count);
}

export function ownsGuild(ownership: ShardOwnership, guildId: string | null): boolean {
  return shardOfGuild(guildId, ownership.count) === ownership.id;
}

/**
 * The same rule in SQL, as ` AND …` for a query on `jobs`; empty for a single
 * process, so its queries (and their plans) stay exactly as they were.
 * Guild ids are decimal snowflakes below 2^63, so SQLite's 64-bit integer
 * shift is exact. The numbers are validated integers, never user input.
 */
export function ownershipSql(ownership: ShardOwnership, column = 'guild_id'): string {
  const { id, count } = ownership;
  if (!Number.isInteger(id) || !Number.isInteger(count) || count < 1 || id < 0 || id >= count)
    throw new RangeError(`not a shard: ${id} of ${count}`);
  if (count === 1) return '';
  return ` AND (CASE WHEN ${column} IS NULL THEN 0 ELSE (CAST(${column} AS INTEGER) >> 22) % ${count} END) = ${id}`;
}
