import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { ControlsRepository, type RoleRule } from '../../src/db/controls-repository.js';
import { openDatabase } from '../../src/db/database.js';
import { SettingsRepository } from '../../src/db/settings-repository.js';
import { UserFacingError } from '../../src/errors.js';
import { AdmissionService, resolveMemberAccess } from '../../src/services/admission.js';
import { BUILT_IN_CATALOGUE, ModelCatalogue } from '../../src/services/capabilities.js';

const MODELS = BUILT_IN_CATALOGUE.models;
import { costTable, defaultCost, parseCostOverrides, withOverrides } from '../../src/services/costs.js';
import type { ModLogEvent } from '../../src/services/mod-log.js';
import { SettingsService } from '../../src/services/settings.js';
import { validateSoraOptions } from '../../src/services/sora-request.js';

const server = { dailyLimit: 2, maxActive: 1, allowedModels: ['sora-2'] };
const rule = (roleId: string, r: Partial<RoleRule> = {}): RoleRule => ({
  roleId,
  access: null,
  dailyLimit: null,
  maxActive: null,
  allowedModels: null,
  updatedAt: 0,
  updatedBy: 'mod',
  ...r,
});

describe('role resolution', () => {
  it('keeps the server’s values when none of the member’s roles sets one', () => {
    const access = resolveMemberAccess(server, [rule('booster', { dailyLimit: 10 })], ['everyone', 'other']);
    expect(access).toMatchObject({ allowed: true, dailyLimit: 2, maxActive: 1, allowedModels: ['sora-2'] });
  });

  it('gives the most generous value among the member’s roles; 0 (unlimited) beats every number', () => {
    const rules = [
      rule('a', { dailyLimit: 5, maxActive: 3 }),
      rule('b', { dailyLimit: 10 }),
      rule('c', { maxActive: 0 }),
    ];
    expect(resolveMemberAccess(server, rules, ['a', 'b'])).toMatchObject({ dailyLimit: 10, maxActive: 3 });
    expect(resolveMemberAccess(server, rules, ['a', 'c'])).toMatchObject({ dailyLimit: 5, maxActive: 0 });
    expect(resolveMemberAccess(server, [...rules, rule('d', { dailyLimit: 0 })], ['a', 'b', 'd']).dailyLimit).toBe(0);
  });

  it('lets a role restrict as well: its value replaces the server’s', () => {
    expect(resolveMemberAccess(server, [rule('newcomer', { dailyLimit: 1 })], ['newcomer']).dailyLimit).toBe(1);
  });

  it('unites the model lists of the member’s roles', () => {
    const rules = [rule('a', { allowedModels: ['sora-2'] }), rule('b', { allowedModels: ['sora-2-pro'] })];
    expect(resolveMemberAccess(server, rules, ['a', 'b']).allowedModels).toEqual(['sora-2', 'sora-2-pro']);
    expect(resolveMemberAccess(server, rules, ['b']).allowedModels).toEqual(['sora-2-pro']);
  });

  it('ignores rules of roles the member does not hold, deleted roles included, without an error', () => {
    // `gone` was deleted: Discord took it from every member, so no member's role ids carry it.
    const rules = [rule('gone', { dailyLimit: 0, maxActive: 0, allowedModels: ['sora-2-pro'] })];
    expect(resolveMemberAccess(server, rules, ['everyone'])).toMatchObject({
      allowed: true,
      dailyLimit: 2,
      maxActive: 1,
      allowedModels: ['sora-2'],
    });
  });

  it('once a role is allowed, only members holding an allowed role may; a denied role always refuses', () => {
    const rules = [rule('artist', { access: 'allow' }), rule('muted', { access: 'deny' })];
    expect(resolveMemberAccess(server, rules, ['everyone'])).toMatchObject({
      allowed: false,
      refusal: 'not_allowed',
      allowedRoles: ['artist'],
    });
    expect(resolveMemberAccess(server, rules, ['artist']).allowed).toBe(true);
    expect(resolveMemberAccess(server, rules, ['artist', 'muted'])).toMatchObject({
      allowed: false,
      refusal: 'denied',
    });
    expect(resolveMemberAccess(server, [rule('muted', { access: 'deny' })], ['everyone']).allowed).toBe(true);
  });
});

describe('costs', () => {
  it('looks up the default table and falls back to a credit a second for unknown lengths or models', () => {
    expect(defaultCost('sora-2', 10)).toBe(10);
    expect(defaultCost('sora-2-pro', 25)).toBe(75);
    expect(defaultCost('veo3', 8)).toBe(8);
  });

  it('applies a server’s overrides, the per-length one first', () => {
    const overrides = parseCostOverrides('sora-2-pro=50, sora-2-pro:25=100', null, MODELS);
    expect(overrides).toEqual({ 'sora-2-pro': 50, 'sora-2-pro:25': 100 });
    const lookup = withOverrides(defaultCost, overrides);
    expect(lookup('sora-2-pro', 25)).toBe(100);
    expect(lookup('sora-2-pro', 10)).toBe(50);
    expect(lookup('sora-2', 15)).toBe(15);
    expect(costTable(lookup, MODELS)).toContainEqual({ model: 'sora-2-pro', seconds: 15, credits: 50 });
  });

  it('merges over the current overrides, and `default` forgets them', () => {
    const current = { 'sora-2': 5, 'sora-2-pro:25': 100 };
    expect(parseCostOverrides('sora-2=8', current, MODELS)).toEqual({ 'sora-2': 8, 'sora-2-pro:25': 100 });
    expect(parseCostOverrides('sora-2-pro=default', current, MODELS)).toEqual({ 'sora-2': 5 });
    expect(parseCostOverrides('default', current, MODELS)).toBeNull();
  });

  it('names what is wrong', () => {
    const key = (input: string) => {
      try {
        parseCostOverrides(input, null, MODELS);
      } catch (err) {
        return (err as UserFacingError).key;
      }
      return 'accepted';
    };
    expect(key('sora-2')).toBe('config.bad_costs');
    expect(key('sora-3=4')).toBe('config.bad_models');
    expect(key('sora-2:25=4')).toBe('config.bad_cost_seconds');
    expect(key('sora-2=1000000')).toBe('config.bad_number');
    // A full-width ＝ and comma, as a Chinese keyboard types them.
    expect(key('sora-2:10＝4，sora-2-pro=9')).toBe('accepted');
  });
});

describe('AdmissionService', () => {
  const G = '1200000000000000001';
  const ctx = { guildId: G, userId: 'u1', channelId: 'c1', memberRoleIds: [G] };
  const request = (o: { prompt: string; characterUrl?: string }) =>
    validateSoraOptions(o, { maxImageBytes: 1e7 }, new ModelCatalogue(BUILT_IN_CATALOGUE));

  function setup() {
    const db = openDatabase(':memory:');
    const controls = new ControlsRepository(db);
    const settings = new SettingsService(new SettingsRepository(db), {
      private: false,
      watermark: false,
      dailyLimit: 0,
      maxActive: 2,
      allowedModels: ['sora-2', 'sora-2-pro'],
    });
    const logged: ModLogEvent[] = [];
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
    const admission = new AdmissionService(controls, settings, { record: (_g, e) => logged.push(e) }, clock);
    return { controls, settings, admission, logged, now: clock.now() };
  }
  const refusalKey = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(UserFacingError);
      return (err as UserFacingError).key;
    }
    return 'admitted';
  };

  it('refuses a blocked member, saying the moderator’s reason, and counts it without logging it', () => {
    const { controls, settings, admission, logged, now } = setup();
    controls.addBlock(G, 'u1', 'spam', 'mod', now);
    let err: unknown;
    try {
      admission.admit(ctx, request({ prompt: 'x' }), settings.effective(G));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ key: 'sora.blocked_reason', params: { reason: 'spam' } });
    expect(controls.refusalCounts(G, 0)).toEqual({ blocked: 1 });
    expect(logged).toEqual([]);
    controls.removeBlock(G, 'u1', 'mod', now);
    expect(refusalKey(() => admission.admit(ctx, request({ prompt: 'x' }), settings.effective(G)))).toBe('admitted');
  });

  it('filters the prompt and the text options, names no word, and records which term matched', () => {
    const { controls, settings, admission, logged, now } = setup();
    controls.addFilterTerm(G, 'forbidden', 'Forbidden', 1000, 'mod', now);
    const eff = settings.effective(G);
    expect(refusalKey(() => admission.admit(ctx, request({ prompt: 'a FORBIDDEN dance' }), eff))).toBe('sora.filtered');
    expect(
      refusalKey(() =>
        admission.admit(ctx, request({ prompt: 'a cat', characterUrl: 'https://x.test/forbidden.mp4' }), eff),
      ),
    ).toBe('sora.filtered');
    expect(refusalKey(() => admission.admit(ctx, request({ prompt: 'a cat' }), eff))).toBe('admitted');
    expect(controls.refusals(G, 10).map((r) => r.detail)).toEqual([{ term: 'Forbidden' }, { term: 'Forbidden' }]);
    expect(logged).toHaveLength(2);
    expect(JSON.stringify(logged)).not.toMatch(/forbidden|dance/i);
  });

  it('applies role overrides to the limits and prices the video with the server’s costs', () => {
    const { controls, settings, admission, now } = setup();
    controls.updateRoleRule(G, 'booster', { dailyLimit: 10, maxActive: 0 }, 'mod', now);
    settings.update(G, { costs: { 'sora-2': 7 } }, 'mod', now);
    const admitted = admission.admit(
      { ...ctx, memberRoleIds: [G, 'booster'] },
      request({ prompt: 'x' }),
      settings.effective(G),
    );
    expect(admitted.settings).toMatchObject({ dailyLimit: 10, maxActive: 0 });
    expect(admitted.cost).toBe(7);
  });
});
