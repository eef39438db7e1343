import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ENTRY = path.join(ROOT, 'src/index.ts');
const TSX = import.meta.resolve('tsx');

describe('starting the bot with a bad MODELS_FILE', () => {
  it('stops before connecting, with one message naming the file and where the problem is', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'start-models-'));
    const file = path.join(dir, 'models.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        models: [{ id: 'veo3.1', durations: [8], sizes: [], fields: ['input_reference'] }],
      }),
    );
    const result = spawnSync(process.execPath, ['--import', TSX, ENTRY], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        DISCORD_TOKEN: 'super-secret-discord-token',
        TUZI_API_KEY: 'super-secret-tuzi-key',
        MODELS_FILE: file,
        DATABASE_PATH: path.join(dir, 'bot.db'),
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'Configuration is invalid (1 problem):\n' +
        `  - MODELS_FILE ${file}: models[0].sizes must list at least one size\n` +
        'Set these in .env (see .env.example) or in the environment, then start again.\n',
    );
    expect(result.stdout + result.stderr).not.toContain('super-secret');
  });
});
