import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/db/database.js';
import { SettingsRepository } from '../../src/db/settings-repository.js';
import { buildSettingsPatch, SettingsService } from '../../src/services/settings.js';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';
import { BUILT_IN_CATALOGUE } from '../../src/services/capabilities.js';

const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.secret-discord-token-value';
const KEY = 'sk-tuzi-secret-key-value-1234567890';

function tmpDb(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'bot.db');
}

function problems(env: Record<string, string | undefined>): string[] {
  try {
    parseConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message).not.toContain(TOKEN);
    expect(e.message).not.toContain(KEY);
    return e.problems;
  }
  throw new Error('expected a ConfigError');
}

const valid = () => ({ DISCORD_TOKEN: TOKEN, TUZI_API_KEY: KEY, DATABASE_PATH: tmpDb() });

describe('parseConfig', () => {
  it('applies documented defaults', () => {
    const c = parseConfig(valid());
    expect(c.tuziBaseUrl).toBe('https://api.tu-zi.com');
    expect(c.logLevel).toBe('info');
    expect(c.discordApiUrl).toBeUndefined();
    expect(c.discordGuildId).toBeUndefined();
    expect(c.serverDefaults).toEqual({
      private: false,
      watermark: false,
      dailyLimit: 0,
      maxActive: 2,
      // Every model of the built-in catalogue (src/services/capabilities.ts).
      allowedModels: ['sora-2', 'sora-2-pro', 'sora-1'],
    });
    expect(c.pollMinMs).toBe(3000);
    expect(c.imageRetentionDays).toBe(7);
    expect(c.imageRetentionMs).toBe(7 * 24 * 3_600_000);
    expect(c.metricsPort).toBeUndefined();
    expect(c.metricsHost).toBe('127.0.0.1');
    expect(c.backupDir).toBeUndefined();
    expect(c.backupKeep).toBe(7);
  });

  it('uses the default database path when none is given', () => {
    const cwd = process.cwd();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-cwd-'));
    process.chdir(dir);
    try {
      const c = parseConfig({ DISCORD_TOKEN: TOKEN, TUZI_API_KEY: KEY });
      expect(c.databasePath).toBe('./data/sora-bot.db');
      expect(fs.statSync(path.join(dir, 'data')).isDirectory()).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  it('names both required secrets in one error when nothing is set', () => {
    const p = problems({ DATABASE_PATH: tmpDb() });
    expect(p).toHaveLength(2);
    expect(p.join('\n')).toMatch(/DISCORD_TOKEN is required/);
    expect(p.join('\n')).toMatch(/TUZI_API_KEY is required/);
  });

  it('lists every problem at once', () => {
    const p = problems({
      DISCORD_TOKEN: '',
      TUZI_API_KEY: KEY,
      TUZI_BASE_URL: 'ftp://example.com',
      DISCORD_API_URL: 'not a url',
      DISCORD_GUILD_ID: 'abc',
      LOG_LEVEL: 'loud',
      POLL_MIN_SECONDS: '-1',
      DEFAULT_PRIVATE: 'maybe',
      DEFAULT_ALLOWED_MODELS: 'sora-9',
      DATABASE_PATH: tmpDb(),
    });
    const text = p.join('\n');
    for (const name of [
      'DISCORD_TOKEN',
      'TUZI_BASE_URL',
      'DISCORD_API_URL',
      'DISCORD_GUILD_ID',
      'LOG_LEVEL',
      'POLL_MIN_SECONDS',
      'DEFAULT_PRIVATE',
      'DEFAULT_ALLOWED_MODELS',
    ]) {
      expect(text).toContain(name);
    }
    expect(p).toHaveLength(8);
  });

  it.each([
    ['TUZI_BASE_URL', 'api.tu-zi.com', /http\(s\) URL/],
    ['TUZI_BASE_URL', 'javascript:alert(1)', /http\(s\) URL/],
    ['DISCORD_API_URL', '127.0.0.1:3000/api', /http\(s\) URL/],
    ['DISCORD_GUILD_ID', '12345', /server id/],
    ['LOG_LEVEL', 'verbose', /must be one of/],
    ['TUZI_MAX_CONCURRENCY', '0', /whole number from 1/],
    ['TUZI_MAX_RUNNING_JOBS', '0', /whole number from 1 to 10000/],
    ['TUZI_MAX_RUNNING_JOBS', 'lots', /whole number/],
    ['POLL_MAX_SECONDS', '2.5', /whole number/],
    ['JOB_MAX_WAIT_MINUTES', 'soon', /whole number/],
    ['PROGRESS_EDIT_SECONDS', '0', /whole number from 1/],
    ['MAX_IMAGE_MB', '500', /to 50/],
    ['MAX_VIDEO_MB', '-5', /whole number/],
    ['IMAGE_RETENTION_DAYS', '0', /whole number from 1/],
    ['IMAGE_RETENTION_DAYS', 'forever', /whole number/],
    ['DEFAULT_WATERMARK', 'sometimes', /true or false/],
    ['DEFAULT_DAILY_LIMIT', '-1', /from 0/],
    ['DEFAULT_MAX_ACTIVE', 'x', /whole number/],
    ['DEFAULT_ALLOWED_MODELS', ',', /unknown model/],
    ['DISCORD_TOKEN', 'has space inside', /must not contain spaces/],
    ['METRICS_PORT', '65536', /whole number from 0 to 65535/],
    ['METRICS_PORT', 'http', /whole number/],
    ['METRICS_PORT', '-1', /whole number from 0/],
    ['METRICS_HOST', 'metrics.example.com', /must be an IP address/],
    ['METRICS_HOST', '127.0.0.1:9464', /must be an IP address/],
    ['BACKUP_KEEP', '0', /whole number from 1 to 1000/],
    ['BACKUP_KEEP', 'all', /whole number/],
  ])('rejects %s=%s', (name, value, pattern) => {
    const p = problems({ ...valid(), [name]: value });
    expect(p).toHaveLength(1);
    expect(p[0]).toContain(name);
    expect(p[0]).toMatch(pattern);
  });

  it('rejects a poll minimum above the maximum', () => {
    expect(problems({ ...valid(), POLL_MIN_SECONDS: '60', POLL_MAX_SECONDS: '10' })[0]).toMatch(
      /POLL_MIN_SECONDS must not be greater/,
    );
  });

  it('turns the health/metrics server and backups on only together with their partner setting', () => {
    expect(problems({ ...valid(), METRICS_HOST: '0.0.0.0' })).toEqual([
      'METRICS_HOST is set but METRICS_PORT is not; set METRICS_PORT to turn the health/metrics server on',
    ]);
    expect(problems({ ...valid(), BACKUP_KEEP: '3' })).toEqual([
      'BACKUP_KEEP is set but BACKUP_DIR is not; set BACKUP_DIR to turn daily backups on',
    ]);
  });

  it('parses the ops settings and creates the backup folder', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'backups', 'daily');
    const c = parseConfig({
      ...valid(),
      METRICS_PORT: ' 9464 ',
      METRICS_HOST: '::',
      BACKUP_DIR: dir,
      BACKUP_KEEP: '14',
    });
    expect(c).toMatchObject({ metricsPort: 9464, metricsHost: '::', backupDir: dir, backupKeep: 14 });
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    expect(parseConfig({ ...valid(), METRICS_PORT: '0', METRICS_HOST: 'localhost' })).toMatchObject({
      metricsPort: 0,
      metricsHost: 'localhost',
    });
  });

  it('reports a backup folder that cannot be created', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'plain-file');
    fs.writeFileSync(file, '');
    const p = problems({ ...valid(), BACKUP_DIR: path.join(file, 'backups') });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^BACKUP_DIR is a folder that cannot be created or written \(.*ENOTDIR\)/);
  });

  it('reports a database folder that cannot be created', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'plain-file');
    fs.writeFileSync(file, '');
    const p = problems({ ...valid(), DATABASE_PATH: path.join(file, 'sub', 'bot.db') });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^DATABASE_PATH points into a folder that cannot be created or written/);
  });

  it('parses booleans, lists and URLs', () => {
    const c = parseConfig({
      ...valid(),
      TUZI_BASE_URL: 'http://127.0.0.1:8787/',
      DEFAULT_PRIVATE: 'YES',
      DEFAULT_WATERMARK: '0',
      DEFAULT_ALLOWED_MODELS: ' sora-2-pro , sora-2-pro ',
      DISCORD_GUILD_ID: '123456789012345678',
    });
    expect(c.tuziBaseUrl).toBe('http://127.0.0.1:8787');
    expect(c.serverDefaults.private).toBe(true);
    expect(c.serverDefaults.watermark).toBe(false);
    expect(c.serverDefaults.allowedModels).toEqual(['sora-2-pro']);
    expect(c.discordGuildId).toBe('123456789012345678');
  });

  it('reads DEFAULT_ALLOWED_MODELS exactly as /sora-config allowed_models reads its list', () => {
    const typed = 'SORA-2，sora-2-pro sora-2';
    const c = parseConfig({ ...valid(), DEFAULT_ALLOWED_MODELS: typed });
    const current = new SettingsService(new SettingsRepository(openDatabase(':memory:')), c.serverDefaults).effective(
      null,
    );
    const patch = buildSettingsPatch(
      current,
      { allowedModels: typed },
      ['sora-2', 'sora-2-pro'],
      BUILT_IN_CATALOGUE.models,
    );
    expect(c.serverDefaults.allowedModels).toEqual(['sora-2', 'sora-2-pro']);
    expect(patch.allowedModels).toEqual(c.serverDefaults.allowedModels);
  });
});
