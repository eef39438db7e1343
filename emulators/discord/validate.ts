/**
 * Message, modal and autocomplete payload checks with Discord's limits.
 * Everything a real server refuses is refused here too (50035 with the
 * field path, 50006 for an empty message), so a bot that only works against
 * a lenient fake cannot pass.
 */
import type { UploadedFile } from './body.js';
import { FormErrors, emptyMessage } from './errors.js';

export const MessageFlag = {
  Crossposted: 1 << 0,
  SuppressEmbeds: 1 << 2,
  Ephemeral: 1 << 6,
  Loading: 1 << 7,
  SuppressNotifications: 1 << 12,
  IsVoiceMessage: 1 << 13,
  IsComponentsV2: 1 << 15,
} as const;

/** Flags a client may set when creating a message. */
const CREATE_FLAGS =
  MessageFlag.SuppressEmbeds |
  MessageFlag.Ephemeral |
  MessageFlag.SuppressNotifications |
  MessageFlag.IsVoiceMessage |
  MessageFlag.IsComponentsV2;
/** Flags a client may change on edit (the rest are kept as they were). */
const EDIT_FLAGS = MessageFlag.SuppressEmbeds | MessageFlag.IsComponentsV2;

export const MAX_FILES = 10;

type Path = (string | number)[];
type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function len(s: string): number {
  return [...s].length;
}

/** An entry of the request's `attachments` array. */
export interface AttachmentRef {
  id: string;
  filename?: string;
  description?: string;
  title?: string;
  spoiler?: boolean;
}

export interface MessageWrite {
  content?: string;
  embeds?: Json[];
  components?: Json[];
  /** Flags requested (already reduced to what the client may set). */
  flags?: number;
  /** `undefined`: not given (create: attach every file; edit: keep, and append files). */
  attachments?: AttachmentRef[];
  files: UploadedFile[];
  nonce?: string | number;
  enforceNonce: boolean;
  tts: boolean;
  messageReference?: Json;
}

export interface ParseMessageOptions {
  mode: 'create' | 'edit';
  /** Whether the route can make ephemeral messages (interaction callbacks and follow-ups). */
  allowEphemeral: boolean;
  /** Flags already on the message, for edits (components v2 cannot be switched off). */
  existingFlags?: number;
}

const ALLOWED_URL = /^(https?|attachment):\/\/\S+$/i;

function checkString(
  errors: FormErrors,
  path: Path,
  v: unknown,
  max: number,
  opts: { min?: number; required?: boolean } = {},
): string | undefined {
  if (v === undefined || v === null) {
    if (opts.required) errors.add(path, 'BASE_TYPE_REQUIRED', 'This field is required');
    return undefined;
  }
  if (typeof v !== 'string') {
    errors.add(path, 'STRING_TYPE_CONVERT', 'Could not interpret value as string.');
    return undefined;
  }
  const min = opts.min ?? 0;
  if (len(v) > max || len(v) < min) {
    errors.add(
      path,
      min > 0 ? 'BASE_TYPE_BAD_LENGTH' : 'BASE_TYPE_MAX_LENGTH',
      min > 0 ? `Must be between ${min} and ${max} in length.` : `Must be ${max} or fewer in length.`,
    );
  }
  return v;
}

function checkUrl(errors: FormErrors, path: Path, v: unknown): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'string' || !ALLOWED_URL.test(v)) {
    errors.add(path, 'URL_TYPE_INVALID_URL', 'Not a well formed URL.');
  }
}

/** Validates embeds and returns them as Discord stores them (`type: 'rich'`, `inline` on fields). */
export function validateEmbeds(errors: FormErrors, path: Path, value: unknown): Json[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) {
    errors.add(path, 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    return [];
  }
  if (value.length > 10) errors.add(path, 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
  let total = 0;
  const out: Json[] = [];
  value.forEach((raw, i) => {
    const p = [...path, i];
    if (!isRecord(raw)) {
      errors.add(p, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
      return;
    }
    const embed: Json = { type: 'rich', ...raw };
    const title = checkString(errors, [...p, 'title'], raw.title, 256);
    const description = checkString(errors, [...p, 'description'], raw.description, 4096);
    total += len(title ?? '') + len(description ?? '');
    checkUrl(errors, [...p, 'url'], raw.url);
    if (
      raw.color !== undefined &&
      raw.color !== null &&
      (typeof raw.color !== 'number' || !Number.isInteger(raw.color) || raw.color < 0 || raw.color > 0xffffff)
    ) {
      errors.add([...p, 'color'], 'NUMBER_TYPE_MAX', 'int value should be less than or equal to 16777215.');
    }
    if (raw.timestamp !== undefined && raw.timestamp !== null) {
      if (typeof raw.timestamp !== 'string' || Number.isNaN(Date.parse(raw.timestamp))) {
        errors.add([...p, 'timestamp'], 'DATE_TYPE_PARSE', 'Could not parse timestamp. Should be ISO8601.');
      } else {
        embed.timestamp = new Date(raw.timestamp).toISOString().replace('Z', '+00:00');
      }
    }
    if (raw.footer !== undefined && raw.footer !== null) {
      if (!isRecord(raw.footer))
        errors.add([...p, 'footer'], 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
      else {
        total += len(
          checkString(errors, [...p, 'footer', 'text'], raw.footer.text, 2048, { min: 1, required: true }) ?? '',
        );
        checkUrl(errors, [...p, 'footer', 'icon_url'], raw.footer.icon_url);
      }
    }
    if (raw.author !== undefined && raw.author !== null) {
      if (!isRecord(raw.author))
        errors.add([...p, 'author'], 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
      else {
        total += len(
          checkString(errors, [...p, 'author', 'name'], raw.author.name, 256, { min: 1, required: true }) ?? '',
        );
        checkUrl(errors, [...p, 'author', 'url'], raw.author.url);
        checkUrl(errors, [...p, 'author', 'icon_url'], raw.author.icon_url);
      }
    }
    for (const key of ['image', 'thumbnail'] as const) {
      const media = raw[key];
      if (media === undefined || media === null) continue;
      if (!isRecord(media)) errors.add([...p, key], 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
      else {
        checkString(errors, [...p, key, 'url'], media.url, 2048, { required: true });
        checkUrl(errors, [...p, key, 'url'], media.url);
      }
    }
    if (raw.fields !== undefined && raw.fields !== null) {
      if (!Array.isArray(raw.fields))
        errors.add([...p, 'fields'], 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
      else {
        if (raw.fields.length > 25)
          errors.add([...p, 'fields'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
        embed.fields = raw.fields.map((f: unknown, j: number) => {
          const fp = [...p, 'fields', j];
          if (!isRecord(f)) {
            errors.add(fp, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
            return {};
          }
          total += len(checkString(errors, [...fp, 'name'], f.name, 256, { min: 1, required: true }) ?? '');
          total += len(checkString(errors, [...fp, 'value'], f.value, 1024, { min: 1, required: true }) ?? '');
          return { name: f.name, value: f.value, inline: f.inline === true };
        });
      }
    }
    out.push(embed);
  });
  if (total > 6000) errors.add(path, 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');
  return out;
}

interface ComponentContext {
  errors: FormErrors;
  customIds: Set<string>;
  count: number;
  textChars: number;
}

const V2_TOP_LEVEL = new Set([1, 9, 10, 12, 13, 14, 17]);
const SELECT_TYPES = new Set([3, 5, 6, 7, 8]);

function checkCustomId(ctx: ComponentContext, path: Path, v: unknown): void {
  const id = checkString(ctx.errors, path, v, 100, { min: 1, required: true });
  if (id === undefined) return;
  if (ctx.customIds.has(id))
    ctx.errors.add(path, 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
  ctx.customIds.add(id);
}

function validateButton(ctx: ComponentContext, p: Path, c: Json): void {
  const style = c.style;
  if (typeof style !== 'number' || style < 1 || style > 6) {
    ctx.errors.add([...p, 'style'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2, 3, 4, 5, 6}.');
    return;
  }
  checkString(ctx.errors, [...p, 'label'], c.label, 80);
  if (style === 5) {
    if (c.custom_id !== undefined)
      ctx.errors.add(
        [...p, 'custom_id'],
        'BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED',
        'A custom id cannot be provided for link buttons',
      );
    checkString(ctx.errors, [...p, 'url'], c.url, 512, { required: true });
    checkUrl(ctx.errors, [...p, 'url'], c.url);
  } else if (style === 6) {
    if (typeof c.sku_id !== 'string') ctx.errors.add([...p, 'sku_id'], 'BASE_TYPE_REQUIRED', 'This field is required');
  } else {
    checkCustomId(ctx, [...p, 'custom_id'], c.custom_id);
    if (c.url !== undefined)
      ctx.errors.add([...p, 'url'], 'BUTTON_COMPONENT_URL_NOT_ALLOWED', 'A url can only be provided for link buttons');
  }
  if (style !== 6 && (c.label === undefined || c.label === null || c.label === '') && !c.emoji) {
    ctx.errors.add(p, 'BUTTON_COMPONENT_INVALID', 'A button must have a label or an emoji');
  }
}

function validateSelect(ctx: ComponentContext, p: Path, c: Json): void {
  checkCustomId(ctx, [...p, 'custom_id'], c.custom_id);
  checkString(ctx.errors, [...p, 'placeholder'], c.placeholder, 150);
  for (const key of ['min_values', 'max_values'] as const) {
    const v = c[key];
    const min = key === 'min_values' ? 0 : 1;
    if (v !== undefined && v !== null && (typeof v !== 'number' || v < min || v > 25)) {
      ctx.errors.add([...p, key], 'NUMBER_TYPE_MAX', `int value should be between ${min} and 25.`);
    }
  }
  if (c.type === 3) {
    if (!Array.isArray(c.options) || c.options.length < 1 || c.options.length > 25) {
      ctx.errors.add([...p, 'options'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 25 in length.');
    } else {
      c.options.forEach((o: unknown, j: number) => {
        if (!isRecord(o)) return;
        checkString(ctx.errors, [...p, 'options', j, 'label'], o.label, 100, { min: 1, required: true });
        checkString(ctx.errors, [...p, 'options', j, 'value'], o.value, 100, { min: 1, required: true });
        checkString(ctx.errors, [...p, 'options', j, 'description'], o.description, 100);
      });
    }
  }
}

function validateComponent(
  ctx: ComponentContext,
  p: Path,
  raw: unknown,
  where: 'top' | 'row' | 'section' | 'container' | 'accessory',
): Json | null {
  if (!isRecord(raw)) {
    ctx.errors.add(p, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
    return null;
  }
  ctx.count++;
  const c: Json = { ...raw };
  const type = raw.type;
  switch (type) {
    case 1: {
      if (where === 'row' || where === 'section' || where === 'accessory') {
        ctx.errors.add([...p, 'type'], 'COMPONENT_LAYOUT_INVALID', 'Action rows cannot be nested here');
        return null;
      }
      const children = Array.isArray(raw.components) ? raw.components : [];
      if (children.length < 1 || children.length > 5) {
        ctx.errors.add([...p, 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
      }
      const validated = children.map((child: unknown, j: number) =>
        validateComponent(ctx, [...p, 'components', j], child, 'row'),
      );
      const selects = validated.filter((v) => v && SELECT_TYPES.has(v.type as number)).length;
      if (selects > 0 && validated.length > 1) {
        ctx.errors.add(
          [...p, 'components'],
          'COMPONENT_LAYOUT_WIDTH_EXCEEDED',
          'The specified component exceeds the maximum width',
        );
      }
      c.components = validated.filter((v): v is Json => v !== null);
      return c;
    }
    case 2:
      if (where !== 'row' && where !== 'accessory')
        ctx.errors.add(
          [...p, 'type'],
          'COMPONENT_LAYOUT_INVALID',
          'Buttons must be inside an action row or a section accessory',
        );
      validateButton(ctx, p, raw);
      return c;
    case 3:
    case 5:
    case 6:
    case 7:
    case 8:
      if (where !== 'row')
        ctx.errors.add([...p, 'type'], 'COMPONENT_LAYOUT_INVALID', 'Select menus must be inside an action row');
      validateSelect(ctx, p, raw);
      return c;
    case 10: {
      const content = checkString(ctx.errors, [...p, 'content'], raw.content, 4000, { min: 1, required: true });
      ctx.textChars += len(content ?? '');
      return c;
    }
    case 9: {
      const children = Array.isArray(raw.components) ? raw.components : [];
      if (children.length < 1 || children.length > 3)
        ctx.errors.add([...p, 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 3 in length.');
      c.components = children
        .map((child: unknown, j: number) => validateComponent(ctx, [...p, 'components', j], child, 'section'))
        .filter((v): v is Json => v !== null);
      const accessory = validateComponent(ctx, [...p, 'accessory'], raw.accessory, 'accessory');
      if (accessory) c.accessory = accessory;
      return c;
    }
    case 11:
      if (where !== 'accessory')
        ctx.errors.add([...p, 'type'], 'COMPONENT_LAYOUT_INVALID', 'Thumbnails can only be section accessories');
      if (!isRecord(raw.media)) ctx.errors.add([...p, 'media'], 'BASE_TYPE_REQUIRED', 'This field is required');
      else checkUrl(ctx.errors, [...p, 'media', 'url'], raw.media.url);
      return c;
    case 12: {
      const items = Array.isArray(raw.items) ? raw.items : [];
      if (items.length < 1 || items.length > 10)
        ctx.errors.add([...p, 'items'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 10 in length.');
      items.forEach((item: unknown, j: number) => {
        if (!isRecord(item) || !isRecord(item.media))
          ctx.errors.add([...p, 'items', j, 'media'], 'BASE_TYPE_REQUIRED', 'This field is required');
        else checkUrl(ctx.errors, [...p, 'items', j, 'media', 'url'], item.media.url);
      });
      return c;
    }
    case 13:
      if (!isRecord(raw.file) || typeof raw.file.url !== 'string' || !raw.file.url.startsWith('attachment://')) {
        ctx.errors.add(
          [...p, 'file', 'url'],
          'UNFURLED_MEDIA_ITEM_ATTACHMENT_REQUIRED',
          'File components only support attachment:// urls',
        );
      }
      return c;
    case 14:
      return c;
    case 17: {
      if (where !== 'top')
        ctx.errors.add([...p, 'type'], 'COMPONENT_LAYOUT_INVALID', 'Containers can only be top-level components');
      const children = Array.isArray(raw.components) ? raw.components : [];
      c.components = children
        .map((child: unknown, j: number) => validateComponent(ctx, [...p, 'components', j], child, 'container'))
        .filter((v): v is Json => v !== null);
      return c;
    }
    default:
      ctx.errors.add(
        [...p, 'type'],
        'BASE_TYPE_CHOICES',
        `Value of field "type" must be one of (1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 17).`,
      );
      return null;
  }
}

/** Numbers components depth-first like Discord does when a client leaves `id` out. */
function assignIds(components: Json[]): void {
  const used = new Set<number>();
  const walk = (list: Json[], visit: (c: Json) => void): void => {
    for (const c of list) {
      visit(c);
      if (Array.isArray(c.components)) walk(c.components as Json[], visit);
      if (isRecord(c.accessory)) walk([c.accessory], visit);
    }
  };
  walk(components, (c) => {
    if (typeof c.id === 'number') used.add(c.id);
  });
  let next = 1;
  walk(components, (c) => {
    if (typeof c.id === 'number') return;
    while (used.has(next)) next++;
    c.id = next;
    used.add(next);
  });
}

export function validateComponents(errors: FormErrors, path: Path, value: unknown, v2: boolean): Json[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) {
    errors.add(path, 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    return [];
  }
  const ctx: ComponentContext = { errors, customIds: new Set(), count: 0, textChars: 0 };
  if (!v2 && value.length > 5) errors.add(path, 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
  const out: Json[] = [];
  value.forEach((raw, i) => {
    const p = [...path, i];
    if (isRecord(raw) && !v2 && raw.type !== 1) {
      errors.add(
        [...p, 'type'],
        'COMPONENT_LAYOUT_INVALID',
        'Top-level components must be action rows unless the message has the IS_COMPONENTS_V2 flag',
      );
      return;
    }
    if (isRecord(raw) && v2 && !V2_TOP_LEVEL.has(raw.type as number)) {
      errors.add([...p, 'type'], 'COMPONENT_LAYOUT_INVALID', 'This component type cannot be top-level');
      return;
    }
    const c = validateComponent(ctx, p, raw, 'top');
    if (c) out.push(c);
  });
  if (v2 && ctx.count > 40)
    errors.add(path, 'COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED', 'Maximum number of components exceeded (40)');
  if (ctx.textChars > 4000)
    errors.add(
      path,
      'COMPONENT_MAX_TEXT_DISPLAY_LENGTH_EXCEEDED',
      'Total text display content exceeds 4000 characters',
    );
  assignIds(out);
  return out;
}

function parseAttachmentRefs(errors: FormErrors, value: unknown): AttachmentRef[] | undefined {
  if (value === undefined) return undefined;
  if (value === null) return [];
  if (!Array.isArray(value)) {
    errors.add(['attachments'], 'LIST_TYPE_CONVERT', 'Only iterables may be used in a ListType');
    return undefined;
  }
  if (value.length > MAX_FILES)
    errors.add(['attachments'], 'BASE_TYPE_MAX_LENGTH', `Must be ${MAX_FILES} or fewer in length.`);
  return value.flatMap((raw, i) => {
    if (!isRecord(raw) || (typeof raw.id !== 'string' && typeof raw.id !== 'number')) {
      errors.add(['attachments', i, 'id'], 'BASE_TYPE_REQUIRED', 'This field is required');
      return [];
    }
    const ref: AttachmentRef = { id: String(raw.id) };
    const filename = checkString(errors, ['attachments', i, 'filename'], raw.filename, 1024);
    if (filename !== undefined) ref.filename = filename;
    const description = checkString(errors, ['attachments', i, 'description'], raw.description, 1024);
    if (description !== undefined) ref.description = description;
    const title = checkString(errors, ['attachments', i, 'title'], raw.title, 1024);
    if (title !== undefined) ref.title = title;
    if (raw.is_spoiler === true) ref.spoiler = true;
    return [ref];
  });
}

/**
 * Parses a create or edit body. Field semantics follow Discord: on edit an
 * absent field is unchanged and `null` clears it; flags outside what a
 * client may set are dropped.
 */
export function parseMessageWrite(body: unknown, files: UploadedFile[], opts: ParseMessageOptions): MessageWrite {
  const errors = new FormErrors();
  const json: Json = isRecord(body) ? body : {};
  if (body !== undefined && !isRecord(body))
    errors.add([], 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
  const write: MessageWrite = { files, enforceNonce: json.enforce_nonce === true, tts: json.tts === true };

  let flags: number | undefined;
  if (json.flags !== undefined && json.flags !== null) {
    if (typeof json.flags !== 'number' || !Number.isInteger(json.flags) || json.flags < 0) {
      errors.add(['flags'], 'NUMBER_TYPE_COERCE', `Value "${String(json.flags)}" is not int.`);
    } else {
      const settable = opts.mode === 'create' ? CREATE_FLAGS : EDIT_FLAGS;
      flags = json.flags & settable;
      if (!opts.allowEphemeral) flags &= ~MessageFlag.Ephemeral;
      write.flags = flags;
    }
  }
  const v2 = ((flags ?? 0) | (opts.existingFlags ?? 0)) & MessageFlag.IsComponentsV2;
  if (
    opts.mode === 'edit' &&
    opts.existingFlags !== undefined &&
    opts.existingFlags & MessageFlag.IsComponentsV2 &&
    flags !== undefined &&
    !(flags & MessageFlag.IsComponentsV2)
  ) {
    errors.add(['flags'], 'MESSAGE_CANNOT_REMOVE_COMPONENTS_V2_FLAG', 'The IS_COMPONENTS_V2 flag cannot be removed');
  }

  if (json.content !== undefined) {
    if (json.content === null) write.content = '';
    else {
      const content = checkString(errors, ['content'], json.content, 2000);
      if (content !== undefined) write.content = content;
    }
  }
  if (json.embeds !== undefined) write.embeds = validateEmbeds(errors, ['embeds'], json.embeds);
  if (json.components !== undefined)
    write.components = validateComponents(errors, ['components'], json.components, Boolean(v2));
  if (v2) {
    if (write.content)
      errors.add(
        ['content'],
        'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2',
        'The content field cannot be used when using MessageFlags.IS_COMPONENTS_V2',
      );
    if (write.embeds && write.embeds.length > 0) {
      errors.add(
        ['embeds'],
        'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2',
        'The embeds field cannot be used when using MessageFlags.IS_COMPONENTS_V2',
      );
    }
  }
  const refs = parseAttachmentRefs(errors, json.attachments);
  if (refs !== undefined) write.attachments = refs;
  if (files.length > MAX_FILES)
    errors.add(['files'], 'BASE_TYPE_MAX_LENGTH', `Must be ${MAX_FILES} or fewer in length.`);

  if (json.nonce !== undefined && json.nonce !== null) {
    const n = json.nonce;
    if (typeof n === 'string') {
      if (len(n) > 25) errors.add(['nonce'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      write.nonce = n;
    } else if (typeof n === 'number' && Number.isInteger(n)) write.nonce = n;
    else errors.add(['nonce'], 'NONCE_TYPE_INVALID', 'Nonce must be an integer or a string');
  }
  if (isRecord(json.message_reference)) write.messageReference = json.message_reference;
  errors.throwIfAny();

  if (opts.mode === 'create') {
    const hasContent = (write.content ?? '').length > 0;
    const hasEmbeds = (write.embeds ?? []).length > 0;
    const hasComponents = (write.components ?? []).length > 0;
    const hasStickers = Array.isArray(json.sticker_ids) && json.sticker_ids.length > 0;
    if (!hasContent && !hasEmbeds && !hasComponents && files.length === 0 && !hasStickers && !isRecord(json.poll))
      throw emptyMessage();
  }
  return write;
}

export interface ModalData {
  custom_id: string;
  title: string;
  components: Json[];
}

/** Text inputs of a modal as the submit will need them. */
export interface ModalInput {
  customId: string;
  required: boolean;
  minLength: number;
  maxLength: number;
  /** Whether it sits in a Label (new layout) rather than an action row. */
  inLabel: boolean;
}

function validateTextInput(
  errors: FormErrors,
  p: Path,
  c: Json,
  inLabel: boolean,
  ids: Set<string>,
): ModalInput | null {
  if (c.type !== 4) {
    errors.add([...p, 'type'], 'COMPONENT_TYPE_INVALID', 'Only text inputs are supported here by the emulator');
    return null;
  }
  const customId = checkString(errors, [...p, 'custom_id'], c.custom_id, 100, { min: 1, required: true });
  if (customId !== undefined) {
    if (ids.has(customId))
      errors.add([...p, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated');
    ids.add(customId);
  }
  if (c.style !== 1 && c.style !== 2) errors.add([...p, 'style'], 'BASE_TYPE_CHOICES', 'Value must be one of {1, 2}.');
  checkString(errors, [...p, 'label'], c.label, 45, inLabel ? {} : { min: 1, required: true });
  checkString(errors, [...p, 'placeholder'], c.placeholder, 100);
  checkString(errors, [...p, 'value'], c.value, 4000);
  const minLength = typeof c.min_length === 'number' ? c.min_length : 0;
  const maxLength = typeof c.max_length === 'number' ? c.max_length : 4000;
  if (minLength < 0 || minLength > 4000)
    errors.add([...p, 'min_length'], 'NUMBER_TYPE_MAX', 'int value should be between 0 and 4000.');
  if (maxLength < 1 || maxLength > 4000)
    errors.add([...p, 'max_length'], 'NUMBER_TYPE_MAX', 'int value should be between 1 and 4000.');
  return customId === undefined ? null : { customId, required: c.required !== false, minLength, maxLength, inLabel };
}

export function validateModal(data: unknown): { modal: ModalData; inputs: ModalInput[] } {
  const errors = new FormErrors();
  const json: Json = isRecord(data) ? data : {};
  const customId = checkString(errors, ['data', 'custom_id'], json.custom_id, 100, { min: 1, required: true });
  const title = checkString(errors, ['data', 'title'], json.title, 45, { min: 1, required: true });
  const components = Array.isArray(json.components) ? json.components : [];
  if (components.length < 1 || components.length > 5)
    errors.add(['data', 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
  const inputs: ModalInput[] = [];
  const ids = new Set<string>();
  components.forEach((raw: unknown, i: number) => {
    const p = ['data', 'components', i];
    if (!isRecord(raw)) {
      errors.add(p, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
      return;
    }
    if (raw.type === 1) {
      const children = Array.isArray(raw.components) ? raw.components : [];
      if (children.length !== 1)
        errors.add([...p, 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 1 in length.');
      const child = children[0];
      if (isRecord(child)) {
        const input = validateTextInput(errors, [...p, 'components', 0], child, false, ids);
        if (input) inputs.push(input);
      }
    } else if (raw.type === 18) {
      checkString(errors, [...p, 'label'], raw.label, 45, { min: 1, required: true });
      checkString(errors, [...p, 'description'], raw.description, 100);
      if (!isRecord(raw.component)) errors.add([...p, 'component'], 'BASE_TYPE_REQUIRED', 'This field is required');
      else {
        const input = validateTextInput(errors, [...p, 'component'], raw.component, true, ids);
        if (input) inputs.push(input);
      }
    } else if (raw.type === 10) {
      checkString(errors, [...p, 'content'], raw.content, 4000, { min: 1, required: true });
    } else {
      errors.add([...p, 'type'], 'COMPONENT_TYPE_INVALID', 'Modals take action rows, labels and text displays');
    }
  });
  errors.throwIfAny();
  return { modal: { custom_id: customId!, title: title!, components: components as Json[] }, inputs };
}

export interface AutocompleteChoice {
  name: string;
  name_localizations?: Record<string, string> | null;
  value: string | number;
}

export function validateChoices(data: unknown, optionType: number): AutocompleteChoice[] {
  const errors = new FormErrors();
  const json: Json = isRecord(data) ? data : {};
  const choices = json.choices;
  if (!Array.isArray(choices)) {
    errors.add(['data', 'choices'], 'BASE_TYPE_REQUIRED', 'This field is required');
    errors.throwIfAny();
    return [];
  }
  if (choices.length > 25) errors.add(['data', 'choices'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
  const out: AutocompleteChoice[] = [];
  choices.forEach((c: unknown, i: number) => {
    const p = ['data', 'choices', i];
    if (!isRecord(c)) {
      errors.add(p, 'DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType');
      return;
    }
    checkString(errors, [...p, 'name'], c.name, 100, { min: 1, required: true });
    if (optionType === 3) checkString(errors, [...p, 'value'], c.value, 100, { min: 1, required: true });
    else if (typeof c.value !== 'number' || (optionType === 4 && !Number.isInteger(c.value))) {
      errors.add(
        [...p, 'value'],
        'NUMBER_TYPE_COERCE',
        `Value "${String(c.value)}" is not ${optionType === 4 ? 'int' : 'a number'}.`,
      );
    }
    out.push({
      name: String(c.name),
      value: c.value as string | number,
      ...(isRecord(c.name_localizations) ? { name_localizations: c.name_localizations as Record<string, string> } : {}),
    });
  });
  errors.throwIfAny();
  return out;
}
