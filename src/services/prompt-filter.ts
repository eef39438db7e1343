import { UserFacingError } from '../errors.js';

/**
 * A server's blocked words and phrases, matched the way Discord's own
 * AutoMod keyword filter matches (discord-api-docs, resources/auto-moderation,
 * "Keyword Matching Strategies"): case-insensitive; `word` matches the whole
 * word only, `word*` words starting with it, `*word` words ending with it,
 * `*word*` anywhere. Two things AutoMod leaves to spammers are closed here:
 *
 * - Text is normalised before matching: NFKC (full-width `ｂａｄ` and
 *   compatibility forms), case folding, accents removed, and invisible
 *   format characters (zero-width spaces, soft hyphens) dropped.
 * - Spaces, punctuation and symbols between letters are skipped, so `b.a.d`,
 *   `b a d` and `禁 词` still match; they only count as word boundaries.
 *
 * Scripts written without spaces (Chinese, Japanese, Korean, Thai…) have no
 * word boundaries to find, so a term in them matches anywhere, as a
 * substring of the normalised text.
 */

/** Discord AutoMod's limits: 60 characters a keyword, 1,000 keywords a rule. */
export const FILTER_TERM_MAX_LENGTH = 60;
export const FILTER_MAX_TERMS = 1_000;

const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;
/** Dropped without a trace: combining marks (accents), format characters (ZWSP, ZWJ, soft hyphen, BOM). */
const IGNORABLE = /[\p{M}\p{Cf}]/u;
const NO_SPACE_SCRIPT =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Bopomofo}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;

/** A letter or digit of a script that separates words with spaces: one that can sit inside a word. */
const isWordChar = (c: string | undefined) => c !== undefined && LETTER_OR_DIGIT.test(c) && !NO_SPACE_SCRIPT.test(c);

/** Text reduced to its letters and digits, remembering where separators were. */
interface Skeleton {
  /** One code point each, folded. */
  chars: string[];
  /** gap[i]: a space, punctuation or symbol stood right before chars[i] in the original. */
  gap: boolean[];
}

function fold(c: string): string {
  // Upper then lower approximates full case folding (ß → SS → ss, ς → Σ → σ);
  // NFD then splits accents off for IGNORABLE to drop.
  return c.toUpperCase().toLowerCase().normalize('NFD');
}

function skeleton(text: string): Skeleton {
  const chars: string[] = [];
  const gap: boolean[] = [];
  let pendingGap = false;
  for (const original of text.normalize('NFKC')) {
    for (const c of fold(original)) {
      if (IGNORABLE.test(c)) continue;
      if (LETTER_OR_DIGIT.test(c)) {
        chars.push(c);
        gap.push(pendingGap);
        pendingGap = false;
      } else {
        pendingGap = true;
      }
    }
  }
  return { chars, gap };
}

/** A term ready to match. */
export interface FilterTerm {
  /** As the moderator typed it. */
  term: string;
  /** Normalised letters and digits, with `*` where the term has its wildcards: one spelling per term. */
  key: string;
  core: string;
  /** `word*`: the match may continue into the rest of a word. */
  openEnd: boolean;
  /** `*word`: the match may start inside a word. */
  openStart: boolean;
}

/**
 * Validates and normalises a moderator's term. Throws UserFacingError when
 * it is empty after normalisation, too long, or has `*` anywhere but its ends.
 */
export function compileTerm(input: string): FilterTerm {
  const term = input.trim();
  if ([...term].length > FILTER_TERM_MAX_LENGTH)
    throw new UserFacingError('config.filter_too_long', { max: FILTER_TERM_MAX_LENGTH });
  const openStart = term.startsWith('*');
  const openEnd = term.length > 1 && term.endsWith('*');
  const inner = term.slice(openStart ? 1 : 0, openEnd ? -1 : undefined);
  if (inner.includes('*')) throw new UserFacingError('config.filter_wildcard');
  const core = skeleton(inner).chars.join('');
  if (core.length === 0) throw new UserFacingError('config.filter_empty');
  return { term, core, openStart, openEnd, key: `${openStart ? '*' : ''}${core}${openEnd ? '*' : ''}` };
}

/**
 * A stored term, rebuilt from its key without normalising again: the key is
 * already the normalised form, and this runs for every term on every `/sora`.
 */
export function termFromKey(key: string, term: string): FilterTerm {
  const openStart = key.startsWith('*');
  const openEnd = key.length > 1 && key.endsWith('*');
  return { term, key, openStart, openEnd, core: key.slice(openStart ? 1 : 0, openEnd ? -1 : undefined) };
}

/** Compiles stored terms, skipping any that no longer compile (rules may tighten between versions). */
export function compileTerms(terms: readonly string[]): FilterTerm[] {
  const out: FilterTerm[] = [];
  for (const t of terms) {
    try {
      out.push(compileTerm(t));
    } catch {
      // A stored term that fails today's rules is ignored rather than blocking every request.
    }
  }
  return out;
}

/** The first term that matches any of the texts, or undefined. */
export function findBlockedTerm(
  texts: readonly (string | null | undefined)[],
  terms: readonly FilterTerm[],
): FilterTerm | undefined {
  if (terms.length === 0) return undefined;
  for (const text of texts) {
    if (!text) continue;
    const s = skeleton(text);
    if (s.chars.length === 0) continue;
    const joined = s.chars.join('');
    // Code-unit offset in `joined` → index in s.chars (astral characters take two units).
    const posAt: number[] = [];
    s.chars.forEach((c, i) => {
      for (let k = 0; k < c.length; k++) posAt.push(i);
    });
    for (const term of terms) if (matches(s, joined, posAt, term)) return term;
  }
  return undefined;
}

function matches(s: Skeleton, joined: string, posAt: number[], term: FilterTerm): boolean {
  const coreChars = [...term.core];
  const needStart = !term.openStart && isWordChar(coreChars[0]);
  const needEnd = !term.openEnd && isWordChar(coreChars.at(-1));
  for (let at = joined.indexOf(term.core); at !== -1; at = joined.indexOf(term.core, at + 1)) {
    const first = posAt[at]!;
    const last = first + coreChars.length - 1;
    const startOk = !needStart || first === 0 || s.gap[first]! || !isWordChar(s.chars[first - 1]);
    const endOk = !needEnd || last === s.chars.length - 1 || s.gap[last + 1]! || !isWordChar(s.chars[last + 1]);
    if (startOk && endOk) return true;
  }
  return false;
}
