/**
 * Request bodies checked against Discord's official OpenAPI description of
 * API v10 (`discord/discord-api-spec`, stored as
 * `../shared/facts/discord-openapi.json` next to the project). The emulator's
 * own checks (validate.ts, commands.ts) model what Discord refuses; this is
 * the independent second opinion: a body the published spec rejects is
 * answered 400 / 50035 like Discord answers invalid bodies, and kept in a log
 * a test harness can fail on.
 *
 * Cost: the spec is read and each operation's schema compiled once per
 * process, on first use (ajv compiles only what the operation references).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnySchema, AnySchemaObject, ErrorObject, ValidateFunction } from 'ajv';
import { FormErrors } from './errors.js';
import type { RouteKey } from './rate-limit.js';

type Json = Record<string, unknown>;

export interface SpecError {
  /** Field path in the body, e.g. `embeds.0.title` (empty for the body itself). */
  path: string;
  /** The JSON-Schema keyword that failed. */
  keyword: string;
  message: string;
}

export interface SpecViolation {
  /** `seq` of the request in `emulator.requests`. */
  seq: number;
  method: string;
  route: RouteKey;
  /** The request path, interaction tokens replaced by `:token`. */
  path: string;
  /** The OpenAPI operation it was checked against, e.g. `PATCH /channels/{channel_id}/messages/{message_id}`. */
  operation: string;
  errors: SpecError[];
  /** The JSON body (or multipart `payload_json`) as received. */
  body: unknown;
}

/** The OpenAPI operation behind each emulated route that takes a body. */
const OPERATIONS: Partial<Record<RouteKey, { global: string; guild?: string; method: string }>> = {
  commands_put: {
    global: '/applications/{application_id}/commands',
    guild: '/applications/{application_id}/guilds/{guild_id}/commands',
    method: 'put',
  },
  commands_post: {
    global: '/applications/{application_id}/commands',
    guild: '/applications/{application_id}/guilds/{guild_id}/commands',
    method: 'post',
  },
  callback: { global: '/interactions/{interaction_id}/{interaction_token}/callback', method: 'post' },
  webhook_create: { global: '/webhooks/{webhook_id}/{webhook_token}', method: 'post' },
  webhook_edit: { global: '/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}', method: 'patch' },
  channel_modify: { global: '/channels/{channel_id}', method: 'patch' },
  channel_create: { global: '/channels/{channel_id}/messages', method: 'post' },
  channel_edit: { global: '/channels/{channel_id}/messages/{message_id}', method: 'patch' },
};

const SPEC_ID = 'discord-openapi';

/**
 * Where the spec lives: `../shared/facts/discord-openapi.json` from the
 * project root (the nearest folder up from this file holding package.json,
 * so the compiled copy under dist/ finds the same file).
 */
export function defaultSpecPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) break;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.resolve(dir, '..', 'shared', 'facts', 'discord-openapi.json');
}

interface Loaded {
  ajv: { compile(schema: AnySchema): ValidateFunction };
  spec: { paths: Record<string, Record<string, Json>> };
  validators: Map<string, ValidateFunction | null>;
}

const loaded = new Map<string, Promise<Loaded>>();

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Rewrites local `#/components/...` refs so they point into the registered spec document. */
function rebase<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => rebase(v)) as T;
  if (!isRecord(value)) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `${SPEC_ID}${v}` : rebase(v);
  }
  return out as T;
}

/**
 * Rewrites the spec's unions so that a failing body reports what Discord
 * would name, not one error per branch (plain `oneOf` reports every branch):
 * - `oneOf` of bare constants (the spec's enums, e.g. AllowedMentionTypes)
 *   becomes `enum`;
 * - `oneOf [null, X]` (nullable fields) becomes "null, or else X";
 * - tagged unions — objects told apart by an integer `type` (components,
 *   command options, callback types) — become "if type ∈ tags then branch",
 *   so only the branch the body chose reports, as in Discord's own error tree.
 *   (ajv's `discriminator` keyword only takes string tags.)
 * The same bodies pass and fail as before.
 */
function simplifyUnions(schemas: Record<string, Json>): void {
  const resolve = (s: unknown): Json | undefined => {
    let cur = s;
    for (let i = 0; i < 10 && isRecord(cur) && typeof cur.$ref === 'string'; i++) {
      cur = schemas[cur.$ref.split('/').pop()!];
    }
    return isRecord(cur) ? cur : undefined;
  };
  const tagsOf = (branch: unknown): unknown[] | undefined => {
    const s = resolve(branch);
    if (!s || !Array.isArray(s.required) || !s.required.includes('type')) return undefined;
    const t = isRecord(s.properties) ? s.properties.type : undefined;
    if (!isRecord(t)) return undefined;
    if (Array.isArray(t.enum)) return t.enum;
    if ('const' in t) return [t.const];
    return undefined;
  };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (!isRecord(node)) return;
    for (const key of ['oneOf', 'anyOf'] as const) {
      const branches = node[key];
      if (!Array.isArray(branches) || branches.length < 2) continue;
      const bare = (b: unknown): b is Json =>
        isRecord(b) && 'const' in b && Object.keys(b).every((k) => ['const', 'title', 'description'].includes(k));
      if (branches.every(bare)) {
        delete node[key];
        node.enum = branches.map((b) => b.const);
        continue;
      }
      const isNull = (b: unknown): boolean => isRecord(b) && b.type === 'null' && Object.keys(b).length === 1;
      const nonNull = branches.filter((b) => !isNull(b));
      if (nonNull.length === branches.length - 1) {
        delete node[key];
        const rest = nonNull.length === 1 ? nonNull[0] : { [key]: nonNull };
        node.allOf = [
          ...(Array.isArray(node.allOf) ? node.allOf : []),
          { if: { type: 'null' }, then: true, else: rest },
        ];
        continue;
      }
      const tags = branches.map(tagsOf);
      if (tags.some((t) => t === undefined)) continue;
      delete node[key];
      node.type = 'object';
      node.required = ['type'];
      node.properties = { type: { enum: tags.flat() } };
      node.allOf = [
        ...(Array.isArray(node.allOf) ? node.allOf : []),
        ...branches.map((b, i) => ({ if: { properties: { type: { enum: tags[i] } } }, then: b })),
      ];
    }
    for (const v of Object.values(node)) visit(v);
  };
  visit(schemas);
}

async function load(specPath: string): Promise<Loaded> {
  const text = fs.readFileSync(specPath, 'utf8');
  const spec = JSON.parse(text) as { paths: Record<string, Record<string, Json>>; components: { schemas: Json } };
  // Imported here, not at the top: production never loads the validator (a dev dependency).
  const [{ Ajv2020 }, formatsModule] = await Promise.all([import('ajv/dist/2020.js'), import('ajv-formats')]);
  const addFormats = (formatsModule as unknown as { default: (ajv: unknown, formats: string[]) => void }).default;
  const ajv = new Ajv2020({
    allErrors: true,
    strict: false,
    allowUnionTypes: true,
    validateFormats: true,
    // The spec is Discord's published document; checking it against the meta-schema only costs start-up time.
    validateSchema: false,
  });
  addFormats(ajv, ['uri', 'date-time']);
  // Discord's own formats; the schema's `pattern` / `minimum` / `maximum` already constrain them.
  const integerOf = (bits: number) => ({
    type: 'number' as const,
    validate: (n: number) => Number.isInteger(n) && (bits >= 53 || Math.abs(n) <= 2 ** bits),
  });
  ajv.addFormat('int32', integerOf(32));
  ajv.addFormat('int64', integerOf(64));
  ajv.addFormat('double', { type: 'number', validate: (n: number) => Number.isFinite(n) });
  ajv.addFormat('snowflake', /^(0|[1-9][0-9]*)$/);
  ajv.addFormat('nonce', /^.*$/s);
  const schemas = structuredClone(spec.components.schemas) as Record<string, Json>;
  // Where the spec and the prose docs disagree, the docs win. The spec types
  // every snowflake as a digit string, but the docs' own multipart example
  // sends `"attachments": [{"id": 0, ...}]` (developers/reference, "Uploading
  // Files"): Discord takes a snowflake as a JSON integer too.
  schemas.SnowflakeType = {
    anyOf: [schemas.SnowflakeType, { type: 'integer', minimum: 0 }],
  };
  // The spec types a command's `default_member_permissions` as an integer;
  // the docs say "?string … a bitwise OR-ed set of permissions, serialized as
  // a string" (developers/interactions/application-commands), and that is
  // what discord.js sends.
  for (const name of [
    'ApplicationCommandCreateRequest',
    'ApplicationCommandUpdateRequest',
    'ApplicationCommandPatchRequestPartial',
  ]) {
    const props = schemas[name]?.properties as Json | undefined;
    if (props?.default_member_permissions) {
      props.default_member_permissions = {
        anyOf: [props.default_member_permissions, { type: 'string', pattern: '^[0-9]+$' }],
      };
    }
  }
  simplifyUnions(schemas);
  ajv.addSchema({ $id: SPEC_ID, components: { schemas: rebase(schemas) } } as AnySchemaObject);
  return { ajv, spec, validators: new Map() };
}

/**
 * Validates request bodies of one emulator. Loading and compiling are
 * shared by every emulator in the process.
 */
export class OpenApiValidator {
  private readonly violations: SpecViolation[] = [];

  constructor(private readonly specPath: string) {}

  /** Loads the spec now (otherwise the first body pays for it). */
  async ready(): Promise<void> {
    await this.loaded();
  }

  private loaded(): Promise<Loaded> {
    let p = loaded.get(this.specPath);
    if (!p) {
      p = load(this.specPath);
      loaded.set(this.specPath, p);
      // A failed load is reported to each caller, and retried next time.
      p.catch(() => loaded.delete(this.specPath));
    }
    return p;
  }

  get log(): readonly SpecViolation[] {
    return this.violations;
  }

  clear(): void {
    this.violations.length = 0;
  }

  /**
   * Checks one body; records and returns the violation, or undefined when it
   * passes (or the route has no body in the spec).
   */
  async check(
    route: RouteKey,
    guildScoped: boolean,
    body: unknown,
    request: { seq: number; method: string; path: string },
  ): Promise<SpecViolation | undefined> {
    const op = OPERATIONS[route];
    if (!op || body === undefined) return undefined;
    const specRoute = guildScoped && op.guild ? op.guild : op.global;
    const key = `${op.method} ${specRoute}`;
    const l = await this.loaded();
    let validate = l.validators.get(key);
    if (validate === undefined) {
      const content = (l.spec.paths[specRoute]?.[op.method]?.requestBody as Json | undefined)?.content as
        Record<string, { schema?: Json }> | undefined;
      const schema = content?.['application/json']?.schema;
      validate = schema ? l.ajv.compile(rebase(schema)) : null;
      l.validators.set(key, validate);
    }
    if (!validate || validate(body)) return undefined;
    const violation: SpecViolation = {
      seq: request.seq,
      method: request.method,
      route,
      path: request.path,
      operation: `${op.method.toUpperCase()} ${specRoute}`,
      errors: reportable(validate.errors ?? []).map((e) => ({
        // Discord files a missing field under the field, not under its parent.
        path: [pointerToPath(e.instancePath), e.keyword === 'required' ? String(e.params.missingProperty) : '']
          .filter(Boolean)
          .join('.'),
        keyword: e.keyword,
        message: e.message ?? 'invalid',
      })),
      body: structuredClone(body),
    };
    this.violations.push(violation);
    return violation;
  }
}

/** Drops the bookkeeping errors of the rewritten unions (`if` failed, `then` failed). */
function reportable(errors: ErrorObject[]): ErrorObject[] {
  const real = errors.filter((e) => e.keyword !== 'if');
  return real.length > 0 ? real : errors;
}

function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/** Discord's `{errors: {field: {_errors: [{code, message}]}}}` tree for a violation. */
export function violationTree(v: SpecViolation): ReturnType<FormErrors['tree']> {
  const f = new FormErrors();
  for (const e of v.errors) {
    const pathParts = e.path === '' ? [] : e.path.split('.');
    f.add(pathParts, discordCode(e.keyword), e.message);
  }
  return f.tree();
}

/** Discord's error codes for the failures JSON Schema can name (as its 50035 trees spell them). */
function discordCode(keyword: string): string {
  switch (keyword) {
    case 'required':
      return 'BASE_TYPE_REQUIRED';
    case 'maxLength':
    case 'maxItems':
    case 'maxProperties':
      return 'BASE_TYPE_MAX_LENGTH';
    case 'minLength':
    case 'minItems':
    case 'minProperties':
      return 'BASE_TYPE_MIN_LENGTH';
    case 'enum':
    case 'const':
      return 'BASE_TYPE_CHOICES';
    case 'minimum':
    case 'exclusiveMinimum':
      return 'NUMBER_TYPE_MIN';
    case 'maximum':
    case 'exclusiveMaximum':
      return 'NUMBER_TYPE_MAX';
    case 'format':
    case 'pattern':
      return 'BASE_TYPE_FORMAT';
    case 'type':
      return 'BASE_TYPE_CONVERT';
    default:
      return 'BASE_TYPE_INVALID';
  }
}
