/**
 * Application command registration: the same shape checks Discord runs on
 * `PUT /applications/{app}/commands` (names, lengths, counts, nesting), so a
 * definition that Discord would refuse fails here too, with code 50035 and
 * the error tree pointing at the offending field.
 */
import { DiscordError, FormErrors } from './errors.js';

export const LOCALES = [
  'id',
  'da',
  'de',
  'en-GB',
  'en-US',
  'es-ES',
  'es-419',
  'fr',
  'hr',
  'it',
  'lt',
  'hu',
  'nl',
  'no',
  'pl',
  'pt-BR',
  'ro',
  'fi',
  'sv-SE',
  'vi',
  'tr',
  'cs',
  'el',
  'bg',
  'ru',
  'uk',
  'hi',
  'th',
  'zh-CN',
  'ja',
  'zh-TW',
  'ko',
] as const;

export const OptionType = {
  Subcommand: 1,
  SubcommandGroup: 2,
  String: 3,
  Integer: 4,
  Boolean: 5,
  User: 6,
  Channel: 7,
  Role: 8,
  Mentionable: 9,
  Number: 10,
  Attachment: 11,
} as const;

export interface CommandOptionChoice {
  name: string;
  name_localizations?: Record<string, string> | null;
  value: string | number;
}

/** A command option as stored (the request shape, normalised). */
export interface CommandOption {
  type: number;
  name: string;
  description: string;
  name_localizations?: Record<string, string> | null;
  description_localizations?: Record<string, string> | null;
  required?: boolean;
  choices?: CommandOptionChoice[];
  options?: CommandOption[];
  channel_types?: number[];
  min_value?: number;
  max_value?: number;
  min_length?: number;
  max_length?: number;
  autocomplete?: boolean;
}

/** A registered command as Discord returns it. */
export interface StoredCommand extends Omit<ValidCommand, 'options'> {
  id: string;
  application_id: string;
  version: string;
  guild_id?: string;
  options?: CommandOption[];
}

const CHAT_NAME = /^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;
const MAX_PER_TYPE: Record<number, number> = { 1: 100, 2: 15, 3: 15, 4: 1 };
const MAX_COMMAND_CHARS = 8000;
const MAX_SAFE = 2 ** 53;

type Path = (string | number)[];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function length(s: string): number {
  return [...s].length;
}

function checkChatName(errors: FormErrors, path: Path, name: unknown): name is string {
  if (typeof name !== 'string') {
    errors.add(path, 'BASE_TYPE_REQUIRED', 'This field is required');
    return false;
  }
  if (length(name) < 1 || length(name) > 32) {
    errors.add(path, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.');
    return false;
  }
  // Discord wants the lowercase form of every letter that has one.
  if (!CHAT_NAME.test(name) || name !== name.toLowerCase()) {
    errors.add(path, 'APPLICATION_COMMAND_INVALID_NAME', 'Command name is invalid');
    return false;
  }
  return true;
}

function checkDescription(errors: FormErrors, path: Path, value: unknown): value is string {
  if (typeof value !== 'string') {
    errors.add(path, 'BASE_TYPE_REQUIRED', 'This field is required');
    return false;
  }
  if (length(value) < 1 || length(value) > 100) {
    errors.add(path, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
    return false;
  }
  return true;
}

function checkLocalizations(
  errors: FormErrors,
  path: Path,
  value: unknown,
  check: (errors: FormErrors, path: Path, v: unknown) => boolean,
): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (!isRecord(value)) {
    errors.add(path, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
    return null;
  }
  const out: Record<string, string> = {};
  for (const [locale, text] of Object.entries(value)) {
    if (!(LOCALES as readonly string[]).includes(locale)) {
      errors.add([...path, locale], 'LOCALE_INVALID', `Invalid locale "${locale}"`);
      continue;
    }
    if (check(errors, [...path, locale], text)) out[locale] = text as string;
  }
  return out;
}

/** Counted like Discord: the longest localisation of each name/description/value. */
function longest(base: string, localizations: Record<string, string> | null | undefined): number {
  let max = length(base);
  for (const v of Object.values(localizations ?? {})) max = Math.max(max, length(v));
  return max;
}

function optionChars(o: CommandOption): number {
  let total = longest(o.name, o.name_localizations) + longest(o.description, o.description_localizations);
  for (const c of o.choices ?? []) total += longest(c.name, c.name_localizations) + length(String(c.value));
  for (const sub of o.options ?? []) total += optionChars(sub);
  return total;
}

function validateOptions(errors: FormErrors, path: Path, value: unknown, depth: 0 | 1 | 2): CommandOption[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    errors.add(path, 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    return [];
  }
  if (value.length > 25) errors.add(path, 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
  const out: CommandOption[] = [];
  const names = new Set<string>();
  let sawOptional = false;
  let sawSub = false;
  let sawOther = false;
  value.forEach((raw, i) => {
    const p = [...path, i];
    if (!isRecord(raw)) {
      errors.add(p, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
      return;
    }
    const type = raw.type;
    if (typeof type !== 'number' || !Number.isInteger(type) || type < 1 || type > 11) {
      errors.add([...p, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.');
      return;
    }
    const isSub = type === OptionType.Subcommand || type === OptionType.SubcommandGroup;
    if (isSub) sawSub = true;
    else sawOther = true;
    if (type === OptionType.SubcommandGroup && depth !== 0) {
      errors.add(
        [...p, 'type'],
        'APPLICATION_COMMAND_OPTION_TYPE_INVALID',
        'Sub-command groups can only be nested at the top level',
      );
    }
    if (type === OptionType.Subcommand && depth === 2) {
      errors.add(
        [...p, 'type'],
        'APPLICATION_COMMAND_OPTION_TYPE_INVALID',
        'Sub-commands cannot be nested in sub-commands',
      );
    }
    if (depth === 1 && type !== OptionType.Subcommand) {
      // depth 1 = inside a group: only sub-commands live there.
      errors.add(
        [...p, 'type'],
        'APPLICATION_COMMAND_OPTION_TYPE_INVALID',
        'Sub-command groups may only contain sub-commands',
      );
    }
    const nameOk = checkChatName(errors, [...p, 'name'], raw.name);
    if (nameOk) {
      if (names.has(raw.name as string)) {
        errors.add([...p, 'name'], 'APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS', 'Option names must be unique');
      }
      names.add(raw.name as string);
    }
    checkDescription(errors, [...p, 'description'], raw.description);
    const option: CommandOption = {
      type,
      name: String(raw.name ?? ''),
      description: String(raw.description ?? ''),
      name_localizations: checkLocalizations(
        errors,
        [...p, 'name_localizations'],
        raw.name_localizations,
        checkChatName,
      ),
      description_localizations: checkLocalizations(
        errors,
        [...p, 'description_localizations'],
        raw.description_localizations,
        checkDescription,
      ),
    };
    if (raw.required === true) {
      if (isSub) {
        errors.add(
          [...p, 'required'],
          'APPLICATION_COMMAND_OPTION_REQUIRED_INVALID',
          'Sub-commands cannot be required',
        );
      }
      if (sawOptional) {
        errors.add(
          [...p, 'required'],
          'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID',
          'Required options must be placed before non-required options',
        );
      }
      option.required = true;
    } else if (!isSub) {
      sawOptional = true;
    }
    const valued = type === OptionType.String || type === OptionType.Integer || type === OptionType.Number;
    if (raw.choices !== undefined && raw.choices !== null) {
      if (!valued) {
        errors.add(
          [...p, 'choices'],
          'APPLICATION_COMMAND_OPTION_CHOICES_INVALID',
          'Choices are only allowed on string, integer and number options',
        );
      } else if (!Array.isArray(raw.choices)) {
        errors.add([...p, 'choices'], 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
      } else {
        if (raw.choices.length > 25)
          errors.add([...p, 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
        option.choices = raw.choices.flatMap((c: unknown, j: number) => {
          const cp = [...p, 'choices', j];
          if (!isRecord(c)) {
            errors.add(cp, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
            return [];
          }
          const nameOk2 = typeof c.name === 'string' && length(c.name) >= 1 && length(c.name) <= 100;
          if (!nameOk2) errors.add([...cp, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
          const v = c.value;
          if (type === OptionType.String) {
            if (typeof v !== 'string' || length(v) < 1 || length(v) > 100) {
              errors.add([...cp, 'value'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
            }
          } else if (
            typeof v !== 'number' ||
            (type === OptionType.Integer && !Number.isInteger(v)) ||
            Math.abs(v) > MAX_SAFE
          ) {
            errors.add(
              [...cp, 'value'],
              'NUMBER_TYPE_COERCE',
              `Value "${String(v)}" is not ${type === OptionType.Integer ? 'int' : 'a number'}.`,
            );
          }
          const nameLoc = checkLocalizations(
            errors,
            [...cp, 'name_localizations'],
            c.name_localizations,
            (e, pp, vv) => {
              const ok = typeof vv === 'string' && length(vv) >= 1 && length(vv) <= 100;
              if (!ok) e.add(pp, 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
              return ok;
            },
          );
          return [{ name: String(c.name ?? ''), name_localizations: nameLoc, value: v as string | number }];
        });
      }
    }
    if (raw.autocomplete === true) {
      if (!valued)
        errors.add(
          [...p, 'autocomplete'],
          'APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID',
          'Autocomplete is only allowed on string, integer and number options',
        );
      if (Array.isArray(raw.choices) && raw.choices.length > 0) {
        errors.add(
          [...p, 'autocomplete'],
          'APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID',
          'Autocomplete cannot be set with choices',
        );
      }
      option.autocomplete = true;
    }
    for (const key of ['min_value', 'max_value'] as const) {
      const v = raw[key];
      if (v === undefined || v === null) continue;
      if (type !== OptionType.Integer && type !== OptionType.Number) {
        errors.add(
          [...p, key],
          'APPLICATION_COMMAND_OPTION_INVALID',
          `${key} is only allowed on integer and number options`,
        );
      } else if (typeof v !== 'number' || Math.abs(v) > MAX_SAFE) {
        errors.add([...p, key], 'NUMBER_TYPE_COERCE', `Value "${String(v)}" is not a number.`);
      } else option[key] = v;
    }
    for (const key of ['min_length', 'max_length'] as const) {
      const v = raw[key];
      if (v === undefined || v === null) continue;
      const min = key === 'min_length' ? 0 : 1;
      if (type !== OptionType.String) {
        errors.add([...p, key], 'APPLICATION_COMMAND_OPTION_INVALID', `${key} is only allowed on string options`);
      } else if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 6000) {
        errors.add([...p, key], 'NUMBER_TYPE_MAX', `Must be between ${min} and 6000.`);
      } else option[key] = v;
    }
    if (raw.channel_types !== undefined && raw.channel_types !== null) {
      if (type !== OptionType.Channel)
        errors.add(
          [...p, 'channel_types'],
          'APPLICATION_COMMAND_OPTION_INVALID',
          'channel_types is only allowed on channel options',
        );
      else if (Array.isArray(raw.channel_types))
        option.channel_types = raw.channel_types.filter((t): t is number => typeof t === 'number');
    }
    if (isSub) {
      const nested = validateOptions(
        errors,
        [...p, 'options'],
        raw.options,
        type === OptionType.SubcommandGroup ? 1 : 2,
      );
      if (type === OptionType.SubcommandGroup && nested.length === 0) {
        errors.add([...p, 'options'], 'BASE_TYPE_MIN_LENGTH', 'Must be 1 or more in length.');
      }
      if (nested.length > 0) option.options = nested;
    } else if (
      raw.options !== undefined &&
      raw.options !== null &&
      !(Array.isArray(raw.options) && raw.options.length === 0)
    ) {
      errors.add(
        [...p, 'options'],
        'APPLICATION_COMMAND_OPTION_INVALID',
        'Only sub-commands and groups may have options',
      );
    }
    out.push(option);
  });
  if (sawSub && sawOther) {
    errors.add(
      path,
      'APPLICATION_COMMAND_OPTIONS_TYPE_INVALID',
      'Sub-command and sub-command group option types are mutually exclusive to all other types',
    );
  }
  return out;
}

export interface ValidCommand {
  type: number;
  name: string;
  name_localizations: Record<string, string> | null;
  description: string;
  description_localizations: Record<string, string> | null;
  default_member_permissions: string | null;
  dm_permission?: boolean;
  contexts: number[] | null;
  integration_types: number[];
  nsfw: boolean;
  options: CommandOption[];
}

function validateCommand(errors: FormErrors, path: Path, raw: unknown, guildScoped: boolean): ValidCommand | null {
  if (!isRecord(raw)) {
    errors.add(path, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
    return null;
  }
  const type = raw.type ?? 1;
  if (typeof type !== 'number' || ![1, 2, 3, 4].includes(type)) {
    errors.add([...path, 'type'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4}.');
    return null;
  }
  const chat = type === 1;
  if (chat) {
    checkChatName(errors, [...path, 'name'], raw.name);
    checkDescription(errors, [...path, 'description'], raw.description);
  } else {
    if (typeof raw.name !== 'string' || length(raw.name) < 1 || length(raw.name) > 32) {
      errors.add([...path, 'name'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 32 in length.');
    }
    if (raw.description !== undefined && raw.description !== '' && raw.description !== null) {
      errors.add(
        [...path, 'description'],
        'APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION',
        'Context menu commands cannot have description',
      );
    }
    if (Array.isArray(raw.options) && raw.options.length > 0) {
      errors.add(
        [...path, 'options'],
        'APPLICATION_COMMAND_OPTION_INVALID',
        'Context menu commands cannot have options',
      );
    }
  }
  const options = chat ? validateOptions(errors, [...path, 'options'], raw.options, 0) : [];
  const dmp = raw.default_member_permissions;
  if (dmp !== undefined && dmp !== null && !(typeof dmp === 'string' && /^\d+$/.test(dmp))) {
    errors.add([...path, 'default_member_permissions'], 'PERMISSIONS_INVALID', 'Invalid permissions');
  }
  const contexts = raw.contexts;
  if (
    contexts !== undefined &&
    contexts !== null &&
    !(Array.isArray(contexts) && contexts.every((c) => c === 0 || c === 1 || c === 2))
  ) {
    errors.add([...path, 'contexts'], 'BASE_TYPE_CHOICES', 'Value must be one of {0, 1, 2}.');
  }
  const integrationTypes = raw.integration_types;
  if (
    integrationTypes !== undefined &&
    integrationTypes !== null &&
    !(Array.isArray(integrationTypes) && integrationTypes.every((c) => c === 0 || c === 1))
  ) {
    errors.add([...path, 'integration_types'], 'BASE_TYPE_CHOICES', 'Value must be one of {0, 1}.');
  }
  const command: ValidCommand = {
    type,
    name: String(raw.name ?? ''),
    name_localizations: checkLocalizations(
      errors,
      [...path, 'name_localizations'],
      raw.name_localizations,
      chat ? checkChatName : () => true,
    ),
    description: chat ? String(raw.description ?? '') : '',
    description_localizations: checkLocalizations(
      errors,
      [...path, 'description_localizations'],
      raw.description_localizations,
      chat ? checkDescription : () => true,
    ),
    default_member_permissions: typeof dmp === 'string' ? dmp : null,
    contexts: Array.isArray(contexts) ? (contexts as number[]) : null,
    integration_types: Array.isArray(integrationTypes) ? (integrationTypes as number[]) : [0],
    nsfw: raw.nsfw === true,
    options,
  };
  if (!guildScoped) command.dm_permission = raw.dm_permission !== false;
  const chars =
    longest(command.name, command.name_localizations) +
    longest(command.description, command.description_localizations) +
    options.reduce((n, o) => n + optionChars(o), 0);
  if (chars > MAX_COMMAND_CHARS) {
    errors.add(path, 'APPLICATION_COMMAND_TOO_LARGE', `Command exceeds maximum size (${MAX_COMMAND_CHARS})`);
  }
  return command;
}

/** Validates a bulk-overwrite body; throws a 50035 DiscordError listing every problem. */
export function validateCommandList(body: unknown, guildScoped: boolean): ValidCommand[] {
  const errors = new FormErrors();
  if (!Array.isArray(body)) {
    errors.add([], 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    errors.throwIfAny();
    return [];
  }
  const commands: ValidCommand[] = [];
  const seen = new Set<string>();
  body.forEach((raw, i) => {
    const c = validateCommand(errors, [i], raw, guildScoped);
    if (!c) return;
    const key = `${c.type}:${c.name}`;
    if (seen.has(key))
      errors.add([i, 'name'], 'APPLICATION_COMMANDS_DUPLICATE_NAME', `Application command names must be unique`);
    seen.add(key);
    commands.push(c);
  });
  errors.throwIfAny();
  for (const [type, max] of Object.entries(MAX_PER_TYPE)) {
    if (commands.filter((c) => c.type === Number(type)).length > max) {
      throw new DiscordError(400, 30032, `Maximum number of application commands reached (${max})`);
    }
  }
  return commands;
}

export function validateSingleCommand(body: unknown, guildScoped: boolean): ValidCommand {
  const errors = new FormErrors();
  const c = validateCommand(errors, [], body, guildScoped);
  errors.throwIfAny();
  return c!;
}

/**
 * The registered commands of one scope (global, or one guild). A re-PUT keeps
 * the id of a command whose name and type are unchanged, as Discord does,
 * and gives it a new version only when its definition changed.
 */
export class CommandScope {
  private readonly byKey = new Map<string, StoredCommand>();

  constructor(
    private readonly applicationId: string,
    private readonly guildId: string | undefined,
    private readonly nextId: () => string,
  ) {}

  list(): StoredCommand[] {
    return [...this.byKey.values()].map((c) => structuredClone(c));
  }

  find(name: string, type = 1): StoredCommand | undefined {
    return this.byKey.get(`${type}:${name}`);
  }

  findById(id: string): StoredCommand | undefined {
    return [...this.byKey.values()].find((c) => c.id === id);
  }

  overwrite(commands: ValidCommand[]): StoredCommand[] {
    const next = new Map<string, StoredCommand>();
    for (const c of commands) {
      const key = `${c.type}:${c.name}`;
      next.set(key, this.store(c, this.byKey.get(key)));
    }
    this.byKey.clear();
    for (const [k, v] of next) this.byKey.set(k, v);
    return this.list();
  }

  upsert(c: ValidCommand): { command: StoredCommand; created: boolean } {
    const key = `${c.type}:${c.name}`;
    const previous = this.byKey.get(key);
    const stored = this.store(c, previous);
    this.byKey.set(key, stored);
    return { command: structuredClone(stored), created: !previous };
  }

  delete(id: string): boolean {
    for (const [k, v] of this.byKey) {
      if (v.id === id) {
        this.byKey.delete(k);
        return true;
      }
    }
    return false;
  }

  private store(c: ValidCommand, previous: StoredCommand | undefined): StoredCommand {
    const { options, ...rest } = c;
    const body = { ...rest, ...(options.length > 0 ? { options } : {}) };
    const unchanged = previous && JSON.stringify(definitionOf(previous)) === JSON.stringify(body);
    return {
      id: previous?.id ?? this.nextId(),
      application_id: this.applicationId,
      version: unchanged ? previous.version : this.nextId(),
      ...(this.guildId ? { guild_id: this.guildId } : {}),
      ...body,
    };
  }
}

function definitionOf(c: StoredCommand): Omit<StoredCommand, 'id' | 'application_id' | 'version' | 'guild_id'> {
  const { id: _id, application_id: _a, version: _v, guild_id: _g, ...rest } = c;
  return rest;
}
