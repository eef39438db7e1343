import { CATALOGUES, fill, type MessageKey, type MessageParams, type SupportedLocale } from '../ui/i18n.js';

/**
 * Command, option and choice texts from the one message catalogue, in the
 * shape Discord's command definitions take: the English text as the default,
 * every other catalogue locale as a localization (Discord's locale keys, e.g.
 * `zh-CN`, are the catalogue's).
 */
const OTHER_LOCALES = (Object.keys(CATALOGUES) as SupportedLocale[]).filter((l) => l !== 'en-US');

function localizations(key: MessageKey, params: MessageParams): Partial<Record<SupportedLocale, string>> {
  return Object.fromEntries(OTHER_LOCALES.map((l) => [l, fill(CATALOGUES[l][key], params)]));
}

/** `{ description, description_localizations }` for a command or an option. */
export function described(key: MessageKey, params: MessageParams = {}) {
  return {
    description: fill(CATALOGUES['en-US'][key], params),
    description_localizations: localizations(key, params),
  };
}

/** `{ name, name_localizations }`: the name is fixed (English, as tools and payloads use it), its labels localized. */
export function named(key: MessageKey, params: MessageParams = {}) {
  return { name: fill(CATALOGUES['en-US'][key], params), name_localizations: localizations(key, params) };
}
