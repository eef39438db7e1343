import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { SettingsRepository } from '../../src/db/settings-repository.js';
import { UserFacingError } from '../../src/errors.js';
import {
  buildSettingsPatch,
  SettingsService,
  utcDayStart,
  type EffectiveSettings,
  type SettingsChangeInput,
} from '../../src/services/settings.js';
import { BUILT_IN_CATALOGUE, ModelCatalogue } from '../../src/services/capabilities.js';
import { validateSoraOptions } from '../../src/services/sora-request.js';

const catalogue = new ModelCatalogue(BUILT_IN_CATALOGUE);

const defaults = {
  private: false,
  watermark: true,
  dailyLimit: 5,
  maxActive: 2,
  allowedModels: ['sora-2', 'sora-2-pro'],
};
const models = ['sora-2', 'sora-2-pro'];
const NOW = Date.UTC(2026, 0, 1, 12);

function service() {
  return new SettingsService(new SettingsRepository(openDatabase(':memory:')), defaults);
}
const request = (o: Parameters<typeof validateSoraOptions>[0]) =>
  validateSoraOptions(o, { maxImageBytes: 1e7 }, catalogue);

describe('SettingsService', () => {
  it('falls back to the environment defaults for a new server', () => {
    expect(service().effective('g')).toEqual({
      ...defaults,
      lockPrivate: false,
      lockWatermark: false,
      allowedChannels: [],
      serverDailyLimit: 0,
      serverDailyCredits: 0,
      costOverrides: null,
      logChannel: null,
      customized: false,
    });
  });

  it('uses the server default when the member does not choose, and the member’s choice otherwise', () => {
    const s = service();
    s.update('g', { private: true }, 'mod', NOW);
    const eff = s.effective('g');
    expect(s.apply(eff, request({ prompt: 'x' }), 'c')).toEqual({ private: true, watermark: true, overrides: [] });
    expect(s.apply(eff, request({ prompt: 'x', private: false, watermark: false }), 'c')).toEqual({
      private: false,
      watermark: false,
      overrides: [],
    });
  });

  it('locks override the member’s choice and say so', () => {
    const s = service();
    s.update('g', { private: true, lockPrivate: true, watermark: false, lockWatermark: true }, 'mod', NOW);
    const eff = s.effective('g');
    expect(s.apply(eff, request({ prompt: 'x', private: false, watermark: true }), 'c')).toEqual({
      private: true,
      watermark: false,
      overrides: ['private', 'watermark'],
    });
    // Choosing the locked value is not an override.
    expect(s.apply(eff, request({ prompt: 'x', private: true }), 'c')).toEqual({
      private: true,
      watermark: false,
      overrides: [],
    });
  });

  it('refuses models and channels the server does not allow', () => {
    const s = service();
    s.update('g', { allowedModels: ['sora-2'], allowedChannels: ['c1'] }, 'mod', NOW);
    const eff = s.effective('g');
    expect(() => s.apply(eff, request({ prompt: 'x' }), 'c2')).toThrow(
      expect.objectContaining({ key: 'sora.channel_not_allowed' }),
    );
    expect(() => s.apply(eff, request({ prompt: 'x', model: 'sora-2-pro' }), 'c1')).toThrow(
      expect.objectContaining({ key: 'sora.model_not_allowed' }),
    );
    expect(s.apply(eff, request({ prompt: 'x' }), 'c1').overrides).toEqual([]);
  });

  it('computes the UTC day start', () => {
    expect(utcDayStart(Date.UTC(2026, 4, 3, 23, 59, 59, 999))).toBe(Date.UTC(2026, 4, 3));
    expect(utcDayStart(Date.UTC(2026, 4, 4, 0, 0, 0, 0))).toBe(Date.UTC(2026, 4, 4));
  });
});

describe('buildSettingsPatch', () => {
  const current: EffectiveSettings = {
    ...defaults,
    lockPrivate: false,
    lockWatermark: false,
    allowedChannels: ['c1'],
    serverDailyLimit: 0,
    serverDailyCredits: 0,
    costOverrides: null,
    logChannel: null,
    customized: true,
  };
  const refusal = (input: SettingsChangeInput) => {
    try {
      buildSettingsPatch(current, input, models, catalogue.models);
    } catch (err) {
      expect(err).toBeInstanceOf(UserFacingError);
      return (err as UserFacingError).key;
    }
    throw new Error('expected a refusal');
  };

  it('maps every option', () => {
    expect(
      buildSettingsPatch(
        current,
        {
          private: true,
          watermark: false,
          lockPrivate: true,
          lockWatermark: false,
          dailyLimit: 0,
          maxActive: 3,
          allowedModels: 'SORA-2-PRO, sora-2，sora-2',
          addChannel: 'c2',
        },
        models,
        catalogue.models,
      ),
    ).toEqual({
      private: true,
      watermark: false,
      lockPrivate: true,
      lockWatermark: false,
      dailyLimit: 0,
      maxActive: 3,
      allowedModels: ['sora-2-pro', 'sora-2'],
      allowedChannels: ['c1', 'c2'],
    });
  });

  it('removes channels and goes back to all channels when the list empties', () => {
    expect(buildSettingsPatch(current, { removeChannel: 'c1' }, models, catalogue.models)).toEqual({
      allowedChannels: null,
    });
    expect(buildSettingsPatch(current, { allChannels: true }, models, catalogue.models)).toEqual({
      allowedChannels: null,
    });
  });

  it.each<[string, SettingsChangeInput, string]>([
    ['nothing', {}, 'config.nothing'],
    ['negative daily limit', { dailyLimit: -1 }, 'config.bad_number'],
    ['huge daily limit', { dailyLimit: 10_001 }, 'config.bad_number'],
    ['fractional max_active', { maxActive: 1.5 }, 'config.bad_number'],
    ['negative max_active', { maxActive: -3 }, 'config.bad_number'],
    ['unknown model', { allowedModels: 'sora-2,sora-9' }, 'config.bad_models'],
    ['empty models', { allowedModels: ' , ' }, 'config.no_models'],
    ['all_channels with add', { allChannels: true, addChannel: 'c3' }, 'config.channel_conflict'],
  ])('refuses %s', (_n, input, key) => {
    expect(refusal(input)).toBe(key);
  });
});
