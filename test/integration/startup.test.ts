import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ENTRY = path.join(ROOT, 'src/index.ts');
// Resolved here: the child runs in an empty folder with no node_modules.
const TSX = import.meta.resolve('tsx');

/** Runs the real entry point in an empty folder with only the given environment. */
function start(env: Record<string, string>) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'start-'));
  const result = spawnSync(process.execPath, ['--import', TSX, ENTRY], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, cwd };
}

describe('starting the bot misconfigured', () => {
  it('with no .env: one message naming both required variables, exit code 1, no stack trace', () => {
    const r = start({});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Configuration is invalid (2 problems)');
    expect(r.stderr).toContain('DISCORD_TOKEN is required');
    expect(r.stderr).toContain('TUZI_API_KEY is required');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('reports a malformed base URL and an unwritable database folder without echoing secrets', () => {
    const blocker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'blk-')), 'file');
    fs.writeFileSync(blocker, '');
    const r = start({
      DISCORD_TOKEN: 'super-secret-discord-token',
      TUZI_API_KEY: 'super-secret-tuzi-key',
      TUZI_BASE_URL: 'tu-zi.com',
      DATABASE_PATH: path.join(blocker, 'db', 'bot.db'),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('TUZI_BASE_URL must be an http(s) URL');
    expect(r.stderr).toContain('DATABASE_PATH points into a folder that cannot be created or written');
    expect(r.stderr + r.stdout).not.toContain('super-secret');
  });

  it('reads .env from the working directory', () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'envfile-'));
    fs.writeFileSync(path.join(cwd, '.env'), 'DISCORD_TOKEN=abc\nTUZI_API_KEY=def\nLOG_LEVEL=shouting\n');
    const result = spawnSync(process.execPath, ['--import', TSX, ENTRY], {
      cwd,
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Configuration is invalid (1 problem)');
    expect(result.stderr).toContain('LOG_LEVEL must be one of');
  });
});
