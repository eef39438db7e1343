import { describe, expect, it } from 'vitest';
import { ControlsRepository } from '../../src/db/controls-repository.js';
import { openDatabase } from '../../src/db/database.js';
import { JobsRepository } from '../../src/db/jobs-repository.js';
import { SettingsRepository } from '../../src/db/settings-repository.js';
import { buildControlsExport } from '../../src/services/controls-export.js';
import { BUILT_IN_CATALOGUE } from '../../src/services/capabilities.js';
import { SettingsService } from '../../src/services/settings.js';
import { newJob } from '../../emulators/job-rows.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const DAY = Date.UTC(2026, 0, 1);
const G = '1200000000000000001';

function repo() {
  const db = openDatabase(':memory:');
  const settingsRepo = new SettingsRepository(db);
  return {
    db,
    jobs: new JobsRepository(db),
    controls: new ControlsRepository(db),
    settingsRepo,
    settings: new SettingsService(settingsRepo, {
      private: false,
      watermark: false,
      dailyLimit: 0,
      maxActive: 0,
      allowedModels: ['sora-2', 'sora-2-pro'],
    }),
  };
}

describe('the server budget in the insert’s transaction', () => {
  it('counts every member’s jobs of the UTC day against server_daily_limit', () => {
    const { jobs } = repo();
    const quota = { maxActive: 0, dailyLimit: 0, dayStart: DAY, serverDailyLimit: 2 };
    expect(jobs.insertWithinQuota(newJob({ userId: '1' }), quota, NOW).ok).toBe(true);
    expect(jobs.insertWithinQuota(newJob({ userId: '2' }), quota, NOW).ok).toBe(true);
    expect(jobs.insertWithinQuota(newJob({ userId: '3' }), quota, NOW)).toEqual({
      ok: false,
      reason: 'server_daily_limit',
      today: 2,
    });
    // Another server, and tomorrow, have their own budget.
    expect(jobs.insertWithinQuota(newJob({ userId: '3', guildId: '1200000000000000099' }), quota, NOW).ok).toBe(true);
    const tomorrow = { ...quota, dayStart: DAY + 86_400_000 };
    expect(jobs.insertWithinQuota(newJob({ userId: '3' }), tomorrow, DAY + 86_400_000).ok).toBe(true);
  });

  it('caps the day’s credits, counting what each job cost when it was admitted', () => {
    const { jobs } = repo();
    const quota = { maxActive: 0, dailyLimit: 0, dayStart: DAY, serverDailyCredits: 50 };
    expect(jobs.insertWithinQuota(newJob({ cost: 30 }), quota, NOW).ok).toBe(true);
    expect(jobs.insertWithinQuota(newJob({ cost: 30 }), quota, NOW)).toEqual({
      ok: false,
      reason: 'server_daily_credits',
      used: 30,
      cost: 30,
    });
    expect(jobs.insertWithinQuota(newJob({ cost: 20 }), quota, NOW).ok).toBe(true);
    expect(jobs.guildUsage(G, DAY)).toEqual({ started: 2, active: 2, credits: 50 });
  });

  it('gives back the budget of a job that was never made (submit_failed)', () => {
    const { jobs } = repo();
    const quota = { maxActive: 0, dailyLimit: 0, dayStart: DAY, serverDailyLimit: 1, serverDailyCredits: 10 };
    const first = jobs.insertWithinQuota(newJob({ cost: 10 }), quota, NOW);
    if (!first.ok) throw new Error('refused');
    expect(jobs.insertWithinQuota(newJob({ cost: 10 }), quota, NOW).ok).toBe(false);
    jobs.transition(first.job.id, 'waiting', 'submit_failed', { errorCode: 'rejected' }, NOW);
    expect(jobs.insertWithinQuota(newJob({ cost: 10 }), quota, NOW).ok).toBe(true);
  });
});

describe('ControlsRepository', () => {
  it('merges role rule changes, audits them, and clears a role as a whole', () => {
    const { controls, settings } = repo();
    controls.updateRoleRule(G, 'r1', { access: 'allow' }, 'mod', NOW);
    controls.updateRoleRule(G, 'r1', { dailyLimit: 10, allowedModels: ['sora-2-pro'] }, 'mod', NOW + 1);
    expect(controls.roleRules(G)).toEqual([
      {
        roleId: 'r1',
        access: 'allow',
        dailyLimit: 10,
        maxActive: null,
        allowedModels: ['sora-2-pro'],
        updatedAt: NOW + 1,
        updatedBy: 'mod',
      },
    ]);
    expect(controls.clearRoleRule(G, 'r1', 'mod', NOW + 2)).toBe(true);
    expect(controls.clearRoleRule(G, 'r1', 'mod', NOW + 2)).toBe(false);
    expect(controls.roleRules(G)).toEqual([]);
    expect(settings.history(G, 10).map((h) => h.changes)).toEqual([
      { role: 'r1', cleared: true },
      { role: 'r1', dailyLimit: 10, allowedModels: ['sora-2-pro'] },
      { role: 'r1', access: 'allow' },
    ]);
  });

  it('keeps one entry per normalised filter term and stops at the cap', () => {
    const { controls } = repo();
    expect(controls.addFilterTerm(G, 'bad', 'bad', 2, 'mod', NOW)).toBe('added');
    expect(controls.addFilterTerm(G, 'bad', 'B.A.D', 2, 'mod', NOW)).toBe('exists');
    expect(controls.addFilterTerm(G, '禁词', '禁词', 2, 'mod', NOW)).toBe('added');
    expect(controls.addFilterTerm(G, 'x', 'x', 2, 'mod', NOW)).toBe('full');
    expect(controls.filterTerms(G).map((t) => t.term)).toEqual(['bad', '禁词']);
    expect(controls.removeFilterTerm(G, 'bad', 'mod', NOW)).toBe(true);
    expect(controls.clearFilter(G, 'mod', NOW)).toBe(1);
    expect(controls.countFilterTerms(G)).toBe(0);
  });

  it('counts refusals of the day by reason', () => {
    const { controls } = repo();
    controls.recordRefusal(G, 'u', 'filter', { term: 'x' }, DAY - 1);
    controls.recordRefusal(G, 'u', 'filter', { term: 'x' }, NOW);
    controls.recordRefusal(G, 'u', 'server_daily_limit', { today: 5 }, NOW);
    expect(controls.refusalCounts(G, DAY)).toEqual({ filter: 1, server_daily_limit: 1 });
  });

  it('exports settings, rules, blocks, filter, refusals and the audit as JSON with ids as strings', () => {
    const r = repo();
    r.settings.update(G, { serverDailyLimit: 5, logChannel: '1200000000000000050' }, 'mod', NOW);
    r.controls.updateRoleRule(G, '1200000000000000060', { dailyLimit: 10 }, 'mod', NOW);
    r.controls.addBlock(G, '1200000000000000070', 'spam', 'mod', NOW);
    r.controls.addFilterTerm(G, '禁词', '禁词', 10, 'mod', NOW);
    r.controls.recordRefusal(G, '1200000000000000003', 'filter', { term: '禁词' }, NOW);
    const doc = JSON.parse(
      buildControlsExport(r, G, NOW, { started: 0, active: 0, credits: 0 }, BUILT_IN_CATALOGUE.models),
    ) as Record<string, unknown> & { settings: { effective: Record<string, unknown> } };
    expect(doc.settings.effective).toMatchObject({ serverDailyLimit: 5, logChannel: '1200000000000000050' });
    expect(doc.roles).toEqual([expect.objectContaining({ roleId: '1200000000000000060', dailyLimit: 10 })]);
    expect(doc.blocks).toEqual([expect.objectContaining({ userId: '1200000000000000070', reason: 'spam' })]);
    expect(doc.filter).toEqual([expect.objectContaining({ term: '禁词' })]);
    expect(doc.refusals).toEqual([
      expect.objectContaining({ reason: 'filter', createdAt: new Date(NOW).toISOString() }),
    ]);
    expect((doc.audit as unknown[]).length).toBe(4);
  });
});
