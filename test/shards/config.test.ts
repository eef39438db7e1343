import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';

const base = () => ({
  DISCORD_TOKEN: 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.secret-discord-token-value',
  TUZI_API_KEY: 'sk-tuzi-secret-key-value-1234567890',
  DATABASE_PATH: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-shards-')), 'bot.db'),
});

function problems(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('SHARD_COUNT', () => {
  it('defaults to one process, no manager', () => {
    const c = parseConfig(base());
    expect(c.shardCount).toBe(1);
    expect(c.shard).toBeUndefined();
  });

  it('takes auto (Discord recommends) or a number of shards', () => {
    expect(parseConfig({ ...base(), SHARD_COUNT: 'auto' }).shardCount).toBe('auto');
    expect(parseConfig({ ...base(), SHARD_COUNT: ' AUTO ' }).shardCount).toBe('auto');
    expect(parseConfig({ ...base(), SHARD_COUNT: '4' }).shardCount).toBe(4);
    for (const bad of ['0', '-1', '2.5', 'many', '65'])
      expect(problems({ ...base(), SHARD_COUNT: bad })).toEqual([
        'SHARD_COUNT must be auto or a whole number from 1 to 64',
      ]);
  });

  it('in a process the ShardingManager spawned, names the one shard it is (SHARDS of SHARD_COUNT)', () => {
    // What discord.js's Shard passes to its child (Shard#env).
    const c = parseConfig({ ...base(), SHARDING_MANAGER: 'true', SHARDS: '2', SHARD_COUNT: '4' });
    expect(c.shard).toEqual({ id: 2, count: 4 });
    expect(c.shardCount).toBe(4);
    expect(problems({ ...base(), SHARDING_MANAGER: 'true', SHARDS: '4', SHARD_COUNT: '4' })).toHaveLength(1);
    expect(problems({ ...base(), SHARDING_MANAGER: 'true', SHARDS: '[0,1]', SHARD_COUNT: '4' })).toHaveLength(1);
  });
});
