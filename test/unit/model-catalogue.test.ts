import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { REST } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { commandDefinitions } from '../../src/commands/index.js';
import { catalogueSuggestions, soraCommandData } from '../../src/commands/sora.js';
import { ConfigError, parseConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { StateRepository } from '../../src/db/state-repository.js';
import { UserFacingError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import {
  BUILT_IN_CATALOGUE,
  ModelCatalogue,
  OPTIONAL_FIELDS,
  parseCatalogue,
  splitModelList,
  type CatalogueSpec,
} from '../../src/services/capabilities.js';
import { syncCommands } from '../../src/services/command-sync.js';
import { checkAppliedSettings, validateSoraOptions } from '../../src/services/sora-request.js';

const EXAMPLE = path.resolve(import.meta.dirname, '../../models.example.json');
const builtIn = new ModelCatalogue(BUILT_IN_CATALOGUE);

/** A Sora model and a non-Sora one: 8 s, aspect ratios, no character fields. */
const withVeo: CatalogueSpec = {
  defaultModel: 'sora-2',
  models: [
    BUILT_IN_CATALOGUE.models[0]!,
    {
      id: 'veo3.1',
      name: 'Veo 3.1',
      durations: [8],
      sizes: ['16:9', '9:16'],
      defaultDuration: 8,
      defaultSize: '16:9',
      fields: ['input_reference'],
    },
  ],
};

function tmpFile(content: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'models-')), 'models.json');
  fs.writeFileSync(file, content);
  return file;
}

function refusal(fn: () => unknown): { key: string; params: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserFacingError);
    return { key: (err as UserFacingError).key, params: (err as UserFacingError).params };
  }
  throw new Error('expected a refusal');
}

const env = (extra: Record<string, string> = {}) => ({
  DISCORD_TOKEN: 'token-value',
  TUZI_API_KEY: 'key-value',
  DATABASE_PATH: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cat-')), 'bot.db'),
  ...extra,
});

function configProblems(extra: Record<string, string>): string[] {
  try {
    parseConfig(env(extra));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('the built-in catalogue', () => {
  it('follows the seed: sora-1 and sora-2-pro as it describes them, plus sora-2 as the default', () => {
    expect(builtIn.ids()).toEqual(['sora-2', 'sora-2-pro', 'sora-1']);
    expect(builtIn.defaultModel.id).toBe('sora-2');
    expect(builtIn.find('sora-1')).toMatchObject({ durations: [10, 15], sizes: ['1280x720', '720x1280'] });
    expect(builtIn.find('sora-2-pro')?.durations).toEqual([10, 15, 25]);
    expect(builtIn.find('SORA-2-PRO')?.id).toBe('sora-2-pro');
    expect(builtIn.allDurations()).toEqual([10, 15, 25]);
    expect(builtIn.allSizes()).toEqual(['1280x720', '720x1280', '1792x1024', '1024x1792', '1024x1024']);
    for (const m of builtIn.models) expect(m.fields).toEqual(OPTIONAL_FIELDS);
  });

  it('the shipped example file is a valid catalogue with non-Sora models', () => {
    const read = parseCatalogue(JSON.parse(fs.readFileSync(EXAMPLE, 'utf8')));
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    const example = new ModelCatalogue(read.spec);
    expect(example.find('veo3.1')).toMatchObject({ durations: [8], sizes: ['16:9', '9:16'], defaultDuration: 8 });
    expect(example.find('kling-v1-6')?.defaultDuration).toBe(5);
    expect(example.find('seedance-1.5-pro')?.defaultSize).toBe('16:9');
  });
});

describe('reading a catalogue file', () => {
  it('names every problem where it is, and never returns half a catalogue', () => {
    const result = parseCatalogue({
      models: [
        { id: 'a', durations: [], sizes: ['16:9'], fields: [] },
        { id: 'b c', durations: [5.5], sizes: ['16:9'], fields: ['cameo'] },
        { durations: [5], sizes: ['1:1'], fields: [], colour: 'red' },
      ],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual(
      expect.arrayContaining([
        'models[0].durations must list at least one duration',
        'models[1].id must not contain spaces',
        'models[1].durations[0] must be whole seconds',
        expect.stringMatching(/^models\[1\]\.fields\[0\] must each be one of input_reference/),
        expect.stringMatching(/^models\[2\]\.id /),
        expect.stringMatching(/^models\[2\].*colour/),
      ]),
    );
  });

  it('checks defaults, repeats and the default model across entries', () => {
    const result = parseCatalogue({
      default: 'sora-9',
      models: [
        { id: 'veo3.1', durations: [8], sizes: ['16:9'], defaultDuration: 10, defaultSize: '4:3', fields: [] },
        { id: 'VEO3.1', durations: [8, 8], sizes: ['16:9'], fields: [] },
      ],
    });
    expect(result).toEqual({
      ok: false,
      problems: [
        'models[0].defaultDuration 10 is not one of its durations',
        'models[0].defaultSize 4:3 is not one of its sizes',
        'models[1].id VEO3.1 repeats models[0].id',
        'models[1].durations lists a duration twice',
        'default sora-9 is not the id of a model in the file',
      ],
    });
  });

  it('a bad MODELS_FILE stops the config with one message naming the file, and never echoes secrets', () => {
    const bad = tmpFile(JSON.stringify({ models: [{ id: 'veo3.1', durations: [8], sizes: ['16:9'] }] }));
    const problems = configProblems({ MODELS_FILE: bad });
    expect(problems).toEqual([expect.stringContaining(`MODELS_FILE ${bad}: models[0].fields must be a list`)]);
    expect(configProblems({ MODELS_FILE: tmpFile('{ "models": [ ') })[0]).toMatch(
      /^MODELS_FILE is not valid JSON \(.*models\.json: /,
    );
    expect(configProblems({ MODELS_FILE: '/nonexistent/models.json' })).toEqual([
      'MODELS_FILE cannot be read (/nonexistent/models.json: ENOENT)',
    ]);
    let message = '';
    try {
      parseConfig(env({ MODELS_FILE: bad }));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('Configuration is invalid (1 problem)');
    expect(message).not.toContain('token-value');
    expect(message).not.toContain('key-value');
  });

  it('DEFAULT_ALLOWED_MODELS is checked against the file’s models, and defaults to all of them', () => {
    const file = tmpFile(fs.readFileSync(EXAMPLE, 'utf8'));
    const config = parseConfig(env({ MODELS_FILE: file }));
    expect(config.catalogue.models.map((m) => m.id)).toEqual([
      'sora-2',
      'sora-2-pro',
      'veo3.1',
      'kling-v1-6',
      'seedance-1.5-pro',
    ]);
    expect(config.serverDefaults.allowedModels).toEqual(config.catalogue.models.map((m) => m.id));
    expect(
      parseConfig(env({ MODELS_FILE: file, DEFAULT_ALLOWED_MODELS: 'VEO3.1, sora-2' })).serverDefaults,
    ).toMatchObject({ allowedModels: ['veo3.1', 'sora-2'] });
    expect(configProblems({ MODELS_FILE: file, DEFAULT_ALLOWED_MODELS: 'sora-1' })).toEqual([
      expect.stringMatching(/^DEFAULT_ALLOWED_MODELS unknown model\(s\) sora-1; use a comma-separated list of sora-2/),
    ]);
  });

  it('moderators’ lists match ids without regard to case and keep the catalogue’s spelling', () => {
    expect(splitModelList('Veo3.1，KLING-v1-6 veo3.1', ['veo3.1', 'kling-v1-6'])).toEqual({
      models: ['veo3.1', 'kling-v1-6'],
      unknown: [],
    });
    expect(splitModelList('Sora-9', ['sora-2']).unknown).toEqual(['sora-9']);
  });
});

describe('/sora from the catalogue', () => {
  const options = (data: ReturnType<typeof soraCommandData>) =>
    Object.fromEntries(data.options.map((o) => [o.name, o as Record<string, unknown>]));

  it('the built-in catalogue gives the choices and help texts /sora always had', () => {
    const o = options(soraCommandData(builtIn));
    expect(o.model!.choices).toEqual([
      { name: 'Sora 2', value: 'sora-2' },
      { name: 'Sora 2 Pro', value: 'sora-2-pro' },
      { name: 'Sora 1', value: 'sora-1' },
    ]);
    expect((o.duration!.choices as { value: number }[]).map((c) => c.value)).toEqual([10, 15, 25]);
    expect(o.duration!.description).toBe('Length in seconds (25 only with sora-2-pro)');
    expect(o.size!.description).toBe('Frame size (1792x1024, 1024x1792, 1024x1024 only with sora-2-pro)');
    expect(o.model!.description).toBe('Video model (default sora-2)');
  });

  it('a non-Sora model adds its durations and aspect ratios to the choices', () => {
    const o = options(soraCommandData(new ModelCatalogue(withVeo)));
    expect((o.model!.choices as { value: string }[]).map((c) => c.value)).toEqual(['sora-2', 'veo3.1']);
    expect((o.duration!.choices as { value: number }[]).map((c) => c.value)).toEqual([8, 10, 15]);
    expect((o.size!.choices as { value: string }[]).map((c) => c.value)).toEqual([
      '1280x720',
      '720x1280',
      '16:9',
      '9:16',
    ]);
    // Two models, each with values of its own: no one-model hint fits.
    expect(o.size!.description).toBe('Frame size or aspect ratio (which ones depends on the model)');
  });

  it('more than 25 models, durations or sizes switch the option to autocomplete', () => {
    const many = new ModelCatalogue({
      defaultModel: 'm0',
      models: Array.from({ length: 30 }, (_, i) => ({
        id: `m${i}`,
        name: `Model ${i}`,
        durations: [i + 1],
        sizes: [`${640 + i * 2}x360`],
        defaultDuration: i + 1,
        defaultSize: `${640 + i * 2}x360`,
        fields: [],
      })),
    });
    const o = options(soraCommandData(many));
    for (const name of ['model', 'duration', 'size']) {
      expect(o[name]!.autocomplete).toBe(true);
      expect(o[name]!.choices).toBeUndefined();
    }
    // Autocomplete narrows to what was typed, and to the model picked so far.
    expect(catalogueSuggestions(many, 'model', 'model 2', null).map((c) => c.value)).toEqual([
      'm2',
      'm20',
      'm21',
      'm22',
      'm23',
      'm24',
      'm25',
      'm26',
      'm27',
      'm28',
      'm29',
    ]);
    expect(catalogueSuggestions(many, 'model', '', null)).toHaveLength(25);
    expect(catalogueSuggestions(many, 'duration', '', 'm4')).toEqual([{ name: '5 s', value: 5 }]);
    expect(catalogueSuggestions(many, 'size', '', 'M4')).toEqual([{ name: '648x360', value: '648x360' }]);
  });

  it('a catalogue change changes the definitions, and the start-up sync registers them again', async () => {
    const db = openDatabase(':memory:');
    const state = new StateRepository(db);
    const puts: unknown[] = [];
    const rest = { put: async (_route: string, o: { body: unknown }) => void puts.push(o.body) } as unknown as REST;
    const log = createLogger({ level: 'silent', secrets: [] });
    expect(await syncCommands(rest, state, log, '1234567890123456789', commandDefinitions(builtIn))).toBe(true);
    expect(await syncCommands(rest, state, log, '1234567890123456789', commandDefinitions(builtIn))).toBe(false);
    const changed = commandDefinitions(new ModelCatalogue(withVeo));
    expect(await syncCommands(rest, state, log, '1234567890123456789', changed)).toBe(true);
    expect(puts).toHaveLength(2);
    expect(JSON.stringify(puts[1])).toContain('veo3.1');
    db.close();
  });
});

describe('validation against the catalogue', () => {
  const veo = new ModelCatalogue(withVeo);
  const validate = (o: Parameters<typeof validateSoraOptions>[0]) =>
    validateSoraOptions(o, { maxImageBytes: 1e7 }, veo);

  it('uses the model’s own defaults', () => {
    expect(validate({ prompt: 'x', model: 'veo3.1' })).toMatchObject({ model: 'veo3.1', seconds: 8, size: '16:9' });
    expect(validate({ prompt: 'x' })).toMatchObject({ model: 'sora-2', seconds: 10, size: '1280x720' });
  });

  it.each([
    [{ characterUrl: 'https://example.com/pet.mp4' }, 'character_url'],
    [{ characterFromTask: 'sora-2:task_01k78gpb3ffrmtyww' }, 'character_from_task'],
    [{ watermark: true }, 'watermark'],
    [{ private: true }, 'private'],
  ])('refuses an option the model does not take: %o', (extra, option) => {
    const r = refusal(() => validate({ prompt: 'x', model: 'veo3.1', ...extra }));
    expect(r).toEqual({ key: 'sora.option_unsupported', params: { model: 'veo3.1', option, models: '`sora-2`' } });
  });

  it('a false the model has no field for is its default, not a refusal', () => {
    const v = validate({ prompt: 'x', model: 'veo3.1', watermark: false, private: false, characterCreate: false });
    expect(v).toMatchObject({ watermark: false, private: false, characterCreate: null });
  });

  it('a server that makes every video private cannot use a model without that field', () => {
    expect(refusal(() => checkAppliedSettings(veo, 'veo3.1', { private: true, watermark: false }))).toEqual({
      key: 'sora.setting_unsupported',
      params: { model: 'veo3.1', option: 'private', models: '`sora-2`' },
    });
    expect(() => checkAppliedSettings(veo, 'veo3.1', { private: false, watermark: false })).not.toThrow();
    expect(() => checkAppliedSettings(veo, 'sora-2', { private: true, watermark: true })).not.toThrow();
  });
});
