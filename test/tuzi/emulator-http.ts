import { FormData, request } from 'undici';
import type { TuziEmulator } from '../../emulators/tuzi/server.js';
import { API_KEY } from './helpers.js';

/** Raw HTTP against the emulator, so its answers are checked byte for byte and not through the bot's client. */
export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: Record<string, unknown> | undefined;
}

export async function call(
  emu: TuziEmulator,
  method: string,
  path: string,
  opts: { key?: string | null; form?: Array<[string, string]>; headersTimeout?: number } = {},
): Promise<Reply> {
  const key = opts.key === undefined ? API_KEY : opts.key;
  let body: FormData | undefined;
  if (opts.form) {
    body = new FormData();
    for (const [name, value] of opts.form) body.append(name, value);
  }
  const res = await request(`${emu.url}${path}`, {
    method: method as 'GET',
    headers: key === null ? {} : { authorization: `Bearer ${key}` },
    ...(body ? { body } : {}),
    ...(opts.headersTimeout !== undefined ? { headersTimeout: opts.headersTimeout } : {}),
  });
  const text = await res.body.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

export function create(emu: TuziEmulator, fields: Record<string, string> = {}, key?: string | null): Promise<Reply> {
  const form = Object.entries({ model: 'sora-2', prompt: 'p', ...fields });
  return call(emu, 'POST', '/v1/videos', { form, ...(key !== undefined ? { key } : {}) });
}

/** Creates a job and returns its id, failing loudly when the emulator refuses. */
export async function createId(emu: TuziEmulator, fields: Record<string, string> = {}, key?: string): Promise<string> {
  const r = await create(emu, fields, key);
  if (r.status !== 200 || typeof r.json?.id !== 'string') throw new Error(`create failed: ${r.status} ${r.text}`);
  return r.json.id;
}
