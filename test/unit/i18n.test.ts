import { describe, expect, it } from 'vitest';
import { CATALOGUES, resolveLocale, t } from '../../src/ui/i18n.js';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('message catalogue', () => {
  const en = CATALOGUES['en-US'];
  const zh = CATALOGUES['zh-CN'];

  it('has every key in both languages, non-empty, with the same placeholders', () => {
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(en[key].trim(), key).not.toBe('');
      expect(zh[key].trim(), key).not.toBe('');
      expect(placeholders(zh[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it('keeps Chinese texts Chinese', () => {
    const untranslated = (Object.keys(en) as (keyof typeof en)[]).filter(
      (k) => zh[k] === en[k] && /[a-z]{4,}/i.test(en[k].replace(/\{\w+\}|`[^`]*`/g, '')),
    );
    expect(untranslated).toEqual([]);
  });

  it('renders in the interaction locale and falls back to English', () => {
    expect(t('zh-CN', 'sora.prompt_too_long', { length: 2500, max: 2000 })).toBe(
      '提示词长度为 2500 个字符，上限为 2000。请缩短。',
    );
    expect(t('fr', 'sora.prompt_too_long', { length: 2500, max: 2000 })).toBe(
      'The prompt is 2500 characters long; the limit is 2000. Please shorten it.',
    );
    expect(resolveLocale('en-GB')).toBe('en-US');
    expect(resolveLocale(undefined)).toBe('en-US');
  });
});
