import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlsRepository } from '../../src/db/controls-repository.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { SettingsRepository } from '../../src/db/settings-repository.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const G = '1200000000000000001';
const MOD = '1200000000000000009';
const MEMBER = '1200000000000000003';
const ROLE = '1200000000000000005';

/** The next microtask: where a settings version read during one synchronous run stops being reused. */
const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

function connect(db: Db) {
  return { db, settings: new SettingsRepository(db), controls: new ControlsRepository(db) };
}

/** What `/sora` reads of a server before its deferral, through the cached paths. */
function seen(c: ReturnType<typeof connect>) {
  return {
    dailyLimit: c.settings.get(G)?.dailyLimit ?? null,
    blocked: c.controls.block(G, MEMBER)?.reason ?? null,
    rules: c.controls.roleRules(G).map((r) => `${r.roleId}:${r.access}`),
    terms: c.controls.filterTerms(G).map((t) => t.key),
  };
}

const empty = { dailyLimit: null, blocked: null, rules: [], terms: [] };

describe('the settings and controls kept in memory', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  /** Two connections on one file: two bot processes (shards) sharing the database. */
  function twoProcesses() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settings-cache-'));
    dirs.push(dir);
    const file = path.join(dir, 'bot.db');
    const a = connect(openDatabase(file));
    const b = connect(openDatabase(file));
    return { a, b, close: () => (a.db.close(), b.db.close()) };
  }

  it('shows every change made in this process at once, even within the same synchronous run', () => {
    const c = connect(openDatabase(':memory:'));
    // Each change follows a read in the same run, so the version read for that run is already held.
    expect(seen(c)).toEqual(empty);
    c.settings.update(G, { dailyLimit: 3 }, MOD, NOW);
    expect(seen(c).dailyLimit).toBe(3);
    c.controls.addBlock(G, MEMBER, 'spam', MOD, NOW);
    expect(seen(c).blocked).toBe('spam');
    c.controls.updateRoleRule(G, ROLE, { access: 'deny' }, MOD, NOW);
    expect(seen(c).rules).toEqual([`${ROLE}:deny`]);
    expect(c.controls.addFilterTerm(G, 'bad', 'bad', 100, MOD, NOW)).toBe('added');
    expect(c.controls.addFilterTerm(G, 'worse', 'worse', 100, MOD, NOW)).toBe('added');
    expect(seen(c).terms).toEqual(['bad', 'worse']);
    expect(c.controls.removeFilterTerm(G, 'bad', MOD, NOW)).toBe(true);
    expect(seen(c).terms).toEqual(['worse']);
    expect(c.controls.clearFilter(G, MOD, NOW)).toBe(1);
    expect(seen(c).terms).toEqual([]);
    expect(c.controls.clearRoleRule(G, ROLE, MOD, NOW)).toBe(true);
    expect(seen(c).rules).toEqual([]);
    expect(c.controls.removeBlock(G, MEMBER, MOD, NOW)).toBe(true);
    expect(seen(c).blocked).toBeNull();
    c.settings.reset(G, MOD, NOW);
    expect(seen(c)).toEqual(empty);
  });

  it('shows a change another process made from the next command on', async () => {
    const { a, b, close } = twoProcesses();
    expect(seen(a)).toEqual(empty);
    b.settings.update(G, { dailyLimit: 7 }, MOD, NOW);
    b.controls.addBlock(G, MEMBER, null, MOD, NOW);
    b.controls.updateRoleRule(G, ROLE, { access: 'allow' }, MOD, NOW);
    b.controls.addFilterTerm(G, 'bad', 'bad', 100, MOD, NOW);
    await tick();
    expect(seen(a)).toEqual({ dailyLimit: 7, blocked: null, rules: [`${ROLE}:allow`], terms: ['bad'] });
    expect(a.controls.block(G, MEMBER)).toBeDefined();
    b.controls.removeBlock(G, MEMBER, MOD, NOW);
    b.settings.reset(G, MOD, NOW);
    await tick();
    expect(a.controls.block(G, MEMBER)).toBeUndefined();
    expect(a.settings.get(G)).toBeUndefined();
    close();
  });

  it('reads from memory while nothing changed: a write that skips the audit (never done by the bot) goes unseen', async () => {
    const c = connect(openDatabase(':memory:'));
    c.settings.update(G, { dailyLimit: 3 }, MOD, NOW);
    expect(c.settings.get(G)?.dailyLimit).toBe(3);
    c.db.prepare('UPDATE guild_settings SET daily_limit = 9 WHERE guild_id = ?').run(G);
    await tick();
    expect(c.settings.get(G)?.dailyLimit).toBe(3);
    // The audit row is the version: once one is written, the stored value shows.
    c.controls.addFilterTerm(G, 'x', 'x', 100, MOD, NOW);
    await tick();
    expect(c.settings.get(G)?.dailyLimit).toBe(9);
  });

  it('keeps nothing read inside a transaction that is then rolled back', async () => {
    const c = connect(openDatabase(':memory:'));
    c.settings.update(G, { dailyLimit: 1 }, MOD, NOW);
    expect(() =>
      c.db.transaction(() => {
        c.settings.update(G, { dailyLimit: 2 }, MOD, NOW);
        expect(c.settings.get(G)?.dailyLimit).toBe(2);
        throw new Error('rolled back');
      })(),
    ).toThrow('rolled back');
    // The next change's audit row takes the id the rolled-back one had.
    c.settings.update(G, { dailyLimit: 3 }, MOD, NOW);
    await tick();
    expect(c.settings.get(G)?.dailyLimit).toBe(3);
  });

  it('hands out frozen values, so a caller cannot change what the next one reads', () => {
    const c = connect(openDatabase(':memory:'));
    c.settings.update(G, { allowedModels: ['sora-2'] }, MOD, NOW);
    c.controls.updateRoleRule(G, ROLE, { allowedModels: ['sora-2'] }, MOD, NOW);
    expect(() => (c.settings.get(G)!.allowedModels as string[]).push('sora-2-pro')).toThrow(TypeError);
    expect(() => (c.controls.roleRules(G) as unknown[]).pop()).toThrow(TypeError);
    expect(c.settings.get(G)?.allowedModels).toEqual(['sora-2']);
  });
});
