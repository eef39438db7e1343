import { describe, expect, it } from 'vitest';
import { UserFacingError } from '../../src/errors.js';
import {
  compileTerm,
  compileTerms,
  findBlockedTerm,
  FILTER_TERM_MAX_LENGTH,
  termFromKey,
} from '../../src/services/prompt-filter.js';

const blocks = (terms: string[], text: string) => findBlockedTerm([text], compileTerms(terms))?.term;

describe('prompt filter', () => {
  it('matches a Chinese term anywhere in a sentence, spaced, punctuated or full-width', () => {
    expect(blocks(['禁词'], '这是一个包含禁词的句子')).toBe('禁词');
    expect(blocks(['禁词'], '这里有禁 词')).toBe('禁词');
    expect(blocks(['禁词'], '禁，词！')).toBe('禁词');
    expect(blocks(['禁词'], '禁\u3000词')).toBe('禁词'); // ideographic space
    expect(blocks(['禁 词'], '一句禁词')).toBe('禁 词');
    expect(blocks(['禁词'], '禁止使用词语')).toBeUndefined();
    expect(blocks(['禁词'], '一只柯基在日落时冲浪')).toBeUndefined();
  });

  it('matches Japanese and Korean terms as substrings too', () => {
    expect(blocks(['ダメ'], 'これはダメな例')).toBe('ダメ');
    expect(blocks(['ﾀﾞﾒ'], 'これはダメな例')).toBe('ﾀﾞﾒ'); // half-width katakana folds to full-width
    expect(blocks(['금지어'], '이것은금지어입니다')).toBe('금지어');
  });

  it('ignores case, full width and accents', () => {
    expect(blocks(['forbidden'], 'A ForBidDen dance')).toBe('forbidden');
    expect(blocks(['Forbidden'], 'a forbidden dance')).toBe('Forbidden');
    expect(blocks(['forbidden'], 'ＦＯＲＢＩＤＤＥＮ city')).toBe('forbidden');
    expect(blocks(['cafe'], 'a CAFÉ at night')).toBe('cafe');
    expect(blocks(['café'], 'a cafe at night')).toBe('café');
    expect(blocks(['strasse'], 'die Straße')).toBe('strasse');
  });

  it('sees through spaces, punctuation, symbols and invisible characters between letters', () => {
    for (const text of ['so b.a.d', 'b a d', 'b-a-d!', 'b😀a😀d', 'b\u200Bad', 'b\u00ADad', '(bad)', 'bad.'])
      expect(blocks(['bad'], text), text).toBe('bad');
  });

  it('matches Latin terms as whole words unless a wildcard says otherwise (Discord AutoMod’s rules)', () => {
    expect(blocks(['ass'], 'a class on grass with an assistant')).toBeUndefined();
    expect(blocks(['bad'], 'a badge')).toBeUndefined();
    expect(blocks(['bad'], 'sub adapter')).toBeUndefined(); // skipping separators never fuses two words' insides
    // Accents and invisible characters are not boundaries: `cafés` and what shows as `xbad` are one word.
    expect(blocks(['cafe'], 'two cafés')).toBeUndefined();
    expect(blocks(['bad'], 'x\u200Bbad')).toBeUndefined();
    expect(blocks(['*ass*'], 'a class')).toBe('*ass*');
    expect(blocks(['cat*'], 'catch it')).toBe('cat*');
    expect(blocks(['cat*'], 'a bobcat')).toBeUndefined();
    expect(blocks(['*cat'], 'a bobcat')).toBe('*cat');
    expect(blocks(['*cat'], 'catch it')).toBeUndefined();
    expect(blocks(['the mat'], 'on the mat.')).toBe('the mat');
    expect(blocks(['the mat'], 'the matrix')).toBeUndefined();
  });

  it('treats Chinese next to a Latin word as a word boundary', () => {
    expect(blocks(['bad'], '这是bad的')).toBe('bad');
    expect(blocks(['bad'], '这是badge的')).toBeUndefined();
  });

  it('reads every text it is given and skips empty ones', () => {
    const terms = compileTerms(['forbidden']);
    expect(findBlockedTerm(['a cat', null, undefined, 'https://x.test/Forbidden-clip.mp4'], terms)?.term).toBe(
      'forbidden',
    );
    expect(findBlockedTerm(['a cat', null], terms)).toBeUndefined();
    expect(findBlockedTerm(['forbidden'], [])).toBeUndefined();
  });

  it('gives two spellings of one term the same key', () => {
    expect(compileTerm('B.A.D').key).toBe(compileTerm('bad').key);
    expect(compileTerm('ＢＡＤ').key).toBe('bad');
    expect(compileTerm('*Bad*').key).toBe('*bad*');
    expect(compileTerm('禁 词').key).toBe(compileTerm('禁词').key);
  });

  it('rebuilds a stored term from its key exactly as compiling it did', () => {
    for (const t of ['bad', '*Bad', 'cat*', '*禁 词*', 'the mat']) {
      const compiled = compileTerm(t);
      expect(termFromKey(compiled.key, compiled.term)).toEqual(compiled);
    }
  });

  it('refuses terms it cannot match sensibly', () => {
    const key = (term: string) => {
      try {
        compileTerm(term);
      } catch (err) {
        expect(err).toBeInstanceOf(UserFacingError);
        return (err as UserFacingError).key;
      }
      return 'accepted';
    };
    expect(key('...')).toBe('config.filter_empty');
    expect(key('*')).toBe('config.filter_empty');
    expect(key('a*b')).toBe('config.filter_wildcard');
    expect(key('x'.repeat(FILTER_TERM_MAX_LENGTH + 1))).toBe('config.filter_too_long');
    expect(key('x'.repeat(FILTER_TERM_MAX_LENGTH))).toBe('accepted');
  });
});
