import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ENTRY = path.join(ROOT, 'scripts/bench/baseline-bot.ts');
const TSX = import.meta.resolve('tsx');

/**
 * Starts bench part 1c's bare bot with the given environment and no Discord to reach: every check
 * of its settings runs before it logs in, so a bad value ends it at once with the setting named.
 */
function start(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', TSX, ENTRY], {
    cwd: fs.mkdtempSync(path.join(os.tmpdir(), 'baseline-')),
    env: { PATH: process.env.PATH ?? '', DISCORD_TOKEN: 'bench-token', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, stderr: result.stderr };
}

describe("the bench's bare bot and its peers refuse bad settings (scripts/bench/baseline-bot.ts)", () => {
  it.each([
    [{ BASELINE_WORK_BEFORE_US: '-5' }, 'BASELINE_WORK_BEFORE_US must be a number of microseconds, not -5'],
    [{ BASELINE_WORK_AFTER_US: 'lots' }, 'BASELINE_WORK_AFTER_US must be a number of microseconds, not lots'],
    [{ BASELINE_REPLY: '[1, 2]' }, 'BASELINE_REPLY must be a message as JSON (an object)'],
    [{ BASELINE_REPLY: '{not json' }, 'BASELINE_REPLY must be a message as JSON (an object)'],
    [{ BASELINE_STORE: 'row' }, 'BASELINE_STORE must be "job", not row'],
    [{ BASELINE_STORE: 'job' }, 'BASELINE_STORE=job needs DATABASE_PATH'],
  ])('%o', (env, message) => {
    const r = start(env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
  });

  it('without a token, says so', () => {
    const r = start({ DISCORD_TOKEN: '' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('DISCORD_TOKEN is not set');
  });
});
