import { createHash } from 'node:crypto';
import { Response } from 'undici';
import type { ReceivedReference } from './jobs.js';
import { acceptsField, defaultSecondsOf, defaultSizeOf, OPTIONAL_FIELDS, type ProviderModel } from './models.js';

/** A file part as received, for assertions. */
export interface RecordedFile {
  /** Part name, e.g. `input_reference`. */
  name: string;
  filename: string;
  contentType: string;
  size: number;
  sha256: string;
}

export interface ParsedForm {
  /** String parts by name, first occurrence. */
  fields: Record<string, string>;
  /** Names of every part, in order (duplicates included). */
  partNames: string[];
  files: RecordedFile[];
  /** First bytes of each file part, for magic-number checks. */
  fileHeads: Map<RecordedFile, Uint8Array>;
}

export interface ApiError {
  status: number;
  type: string;
  code: string;
  message: string;
  param?: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };

function fail(status: number, code: string, message: string, param?: string): { ok: false; error: ApiError } {
  const error: ApiError = { status, type: 'invalid_request_error', code, message };
  if (param !== undefined) error.param = param;
  return { ok: false, error };
}

/**
 * Parses a multipart body with undici's own (spec-following) parser rather
 * than by hand; anything that is not multipart is refused the way the real
 * service refuses url-encoded and JSON bodies.
 */
export async function parseMultipart(contentType: string | undefined, body: Buffer): Promise<Result<ParsedForm>> {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType !== 'multipart/form-data') {
    return fail(415, 'unsupported_media_type', `Content-Type must be multipart/form-data, got ${mediaType || 'none'}`);
  }
  let form: Awaited<ReturnType<Response['formData']>>;
  try {
    form = await new Response(body, { headers: { 'content-type': contentType ?? '' } }).formData();
  } catch {
    return fail(400, 'invalid_multipart', 'The multipart body could not be parsed');
  }
  const parsed: ParsedForm = { fields: {}, partNames: [], files: [], fileHeads: new Map() };
  for (const [name, value] of form.entries()) {
    parsed.partNames.push(name);
    if (typeof value === 'string') {
      if (!(name in parsed.fields)) parsed.fields[name] = value;
      continue;
    }
    const bytes = new Uint8Array(await value.arrayBuffer());
    const file: RecordedFile = {
      name,
      filename: value.name,
      contentType: value.type,
      size: bytes.byteLength,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    };
    parsed.files.push(file);
    parsed.fileHeads.set(file, bytes.subarray(0, 16));
  }
  return { ok: true, value: parsed };
}

export interface ValidCreate {
  model: ProviderModel;
  prompt: string;
  seconds: number;
  size: string;
  inputReference?: ReceivedReference;
}

const SINGLE_FIELDS = ['model', 'prompt', 'seconds', 'size', ...OPTIONAL_FIELDS] as const;
const BOOLEAN_FIELDS = ['watermark', 'private', 'character_create'] as const;
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp']);
/**
 * The object form of OpenAI's SDK (`input_reference: { image_url }`) arrives
 * as `input_reference[image_url]`; it names a URL just like the seed's string
 * form, so it is read as one.
 */
const OBJECT_URL_FIELD = 'input_reference[image_url]';

function sniffImage(head: Uint8Array | undefined): boolean {
  if (!head) return false;
  const b = Buffer.from(head);
  return (
    b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) ||
    (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) ||
    (b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP')
  );
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Parses `start,end` (seconds); the clip must be 1..3 s long, as the seed asks. */
export function parseCharacterTimestamps(value: string): { start: number; end: number } | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)\s*$/.exec(value);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const length = end - start;
  return length >= 1 && length <= 3 ? { start, end } : undefined;
}

/**
 * The checks a provider makes before it looks at the model: one value per
 * field, string parts where strings belong, a model named. Returns the
 * model id to look up in the provider's own catalogue.
 */
export function readModelId(form: ParsedForm): Result<string> {
  const { fields, files } = form;
  for (const name of SINGLE_FIELDS) {
    if (form.partNames.filter((n) => n === name).length > 1) {
      return fail(400, 'duplicate_parameter', `Parameter '${name}' was sent more than once`, name);
    }
  }
  for (const file of files) {
    if (file.name !== 'input_reference') {
      return fail(400, 'invalid_type', `Parameter '${file.name}' must be a string, not a file`, file.name);
    }
  }
  const modelId = fields.model;
  if (modelId === undefined || modelId === '')
    return fail(400, 'missing_required_parameter', "Missing 'model'", 'model');
  return { ok: true, value: modelId };
}

/** The models of the catalogue (in its order) that accept a duration or size, for "use X instead" hints. */
function modelsSupporting(catalogue: readonly ProviderModel[], filter: { duration?: number; size?: string }): string[] {
  return catalogue
    .filter(
      (m) =>
        m.served !== false &&
        (filter.duration === undefined || m.durations.includes(filter.duration)) &&
        (filter.size === undefined || m.sizes.includes(filter.size)),
    )
    .map((m) => m.id);
}

/**
 * Which optional field was sent, for a model that does not take it. OpenAI's
 * answer to a parameter a model refuses: 400 "Unsupported parameter: 'x' is
 * not supported with this model.", code unsupported_parameter, param x (as
 * quoted in appatalks/eva-agent#83).
 */
function unsupportedField(form: ParsedForm, model: ProviderModel): string | undefined {
  return OPTIONAL_FIELDS.find((name) => {
    if (acceptsField(model, name)) return false;
    if (name === 'input_reference') {
      return form.partNames.some((n) => n === 'input_reference' || n.startsWith('input_reference['));
    }
    return form.partNames.includes(name);
  });
}

/** The seed's rules for `POST /v1/videos`, against the provider's own model entry. */
export function validateCreate(
  form: ParsedForm,
  model: ProviderModel,
  catalogue: readonly ProviderModel[],
): Result<ValidCreate> {
  const { fields, files } = form;

  const prompt = fields.prompt;
  if (prompt === undefined || prompt.trim() === '') {
    return fail(400, 'missing_required_parameter', "Missing 'prompt'", 'prompt');
  }

  const refused = unsupportedField(form, model);
  if (refused) {
    return fail(
      400,
      'unsupported_parameter',
      `Unsupported parameter: '${refused}' is not supported with this model.`,
      refused,
    );
  }

  let seconds = defaultSecondsOf(model);
  if (fields.seconds !== undefined) {
    const n = /^\d+$/.test(fields.seconds) ? Number(fields.seconds) : NaN;
    if (!model.durations.includes(n)) {
      const others = Number.isNaN(n) ? [] : modelsSupporting(catalogue, { duration: n });
      return fail(
        400,
        'invalid_value',
        `Invalid seconds '${fields.seconds}' for ${model.id}. Supported: ${model.durations.join(', ')}` +
          (others.length ? `; ${n}s needs ${others.join(' or ')}` : ''),
        'seconds',
      );
    }
    seconds = n;
  }

  let size = defaultSizeOf(model);
  if (fields.size !== undefined) {
    if (!model.sizes.includes(fields.size)) {
      const others = modelsSupporting(catalogue, { size: fields.size });
      return fail(
        400,
        'invalid_value',
        `Invalid size '${fields.size}' for ${model.id}. Supported: ${model.sizes.join(', ')}` +
          (others.length ? `; ${fields.size} needs ${others.join(' or ')}` : ''),
        'size',
      );
    }
    size = fields.size;
  }

  for (const name of BOOLEAN_FIELDS) {
    const v = fields[name];
    if (v !== undefined && v !== 'true' && v !== 'false') {
      return fail(400, 'invalid_type', `Parameter '${name}' must be 'true' or 'false'`, name);
    }
  }

  let inputReference: ReceivedReference | undefined;
  const refFile = files.find((f) => f.name === 'input_reference');
  const refUrl = fields.input_reference ?? fields[OBJECT_URL_FIELD];
  if (fields['input_reference[file_id]'] !== undefined) {
    return fail(400, 'unsupported_parameter', 'input_reference.file_id is not supported', 'input_reference');
  }
  if (refFile && refUrl !== undefined) {
    return fail(400, 'invalid_value', 'Send input_reference as a file or as a URL, not both', 'input_reference');
  }
  if (refFile) {
    const type = refFile.contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    const acceptable =
      IMAGE_TYPES.has(type) || (type === 'application/octet-stream' && sniffImage(form.fileHeads.get(refFile)));
    if (refFile.size === 0 || !acceptable) {
      return fail(
        400,
        'invalid_image',
        `input_reference must be a JPEG, PNG or WebP image (got ${type || 'no type'}, ${refFile.size} bytes)`,
        'input_reference',
      );
    }
    inputReference = {
      kind: 'file',
      filename: refFile.filename,
      contentType: refFile.contentType,
      size: refFile.size,
      sha256: refFile.sha256,
    };
  } else if (refUrl !== undefined) {
    if (!isHttpUrl(refUrl) && !/^data:image\/(png|jpeg|webp);base64,/.test(refUrl)) {
      return fail(400, 'invalid_value', 'input_reference must be an image file or an http(s) URL', 'input_reference');
    }
    inputReference = { kind: 'url', url: refUrl };
  }

  if (fields.character_url !== undefined && !isHttpUrl(fields.character_url)) {
    return fail(400, 'invalid_value', 'character_url must be an http(s) URL', 'character_url');
  }
  if (fields.character_timestamps !== undefined && !parseCharacterTimestamps(fields.character_timestamps)) {
    return fail(
      400,
      'invalid_value',
      "character_timestamps must be 'start,end' in seconds with end - start between 1 and 3, e.g. '1,3'",
      'character_timestamps',
    );
  }
  if (fields.character_from_task !== undefined && fields.character_from_task.trim() === '') {
    return fail(400, 'invalid_value', 'character_from_task must be a task id', 'character_from_task');
  }

  const value: ValidCreate = { model, prompt, seconds, size };
  if (inputReference) value.inputReference = inputReference;
  return { ok: true, value };
}
