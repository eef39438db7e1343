/**
 * Errors in Discord's own JSON shapes. discord.js turns `{message, code}`
 * (and `errors` for form bodies) into `DiscordAPIError.code`/`.rawError`,
 * so the bot's error handling sees exactly what production would send.
 */

export interface DiscordErrorBody {
  message: string;
  code: number;
  errors?: FormErrorTree;
  /** 429s with a code (e.g. 30046) carry the rate-limit fields too. */
  retry_after?: number;
  global?: boolean;
}

export interface FormErrorLeaf {
  code: string;
  message: string;
}

export interface FormErrorTree {
  _errors?: FormErrorLeaf[];
  [key: string]: FormErrorTree | FormErrorLeaf[] | undefined;
}

export class DiscordError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: FormErrorTree,
    readonly headers: Record<string, string> = {},
    readonly extra: Pick<DiscordErrorBody, 'retry_after' | 'global'> = {},
  ) {
    super(message);
    this.name = 'DiscordError';
  }

  get body(): DiscordErrorBody {
    return {
      message: this.message,
      code: this.code,
      ...(this.errors ? { errors: this.errors } : {}),
      ...this.extra,
    };
  }
}

export const unauthorized = (): DiscordError => new DiscordError(401, 0, '401: Unauthorized');
export const notFound = (): DiscordError => new DiscordError(404, 0, '404: Not Found');
export const methodNotAllowed = (): DiscordError => new DiscordError(405, 0, '405: Method Not Allowed');
export const unknownChannel = (): DiscordError => new DiscordError(404, 10003, 'Unknown Channel');
export const unknownGuild = (): DiscordError => new DiscordError(404, 10004, 'Unknown Guild');
export const unknownMessage = (): DiscordError => new DiscordError(404, 10008, 'Unknown Message');
export const unknownWebhook = (): DiscordError => new DiscordError(404, 10015, 'Unknown Webhook');
export const unknownApplicationCommand = (): DiscordError =>
  new DiscordError(404, 10063, 'Unknown application command');
export const unknownInteraction = (): DiscordError => new DiscordError(404, 10062, 'Unknown interaction');
export const notAuthorizedForApplication = (): DiscordError =>
  new DiscordError(403, 20012, 'You are not authorized to perform this action on this application');
export const entityTooLarge = (): DiscordError => new DiscordError(413, 40005, 'Request entity too large');
export const alreadyAcknowledged = (): DiscordError =>
  new DiscordError(400, 40060, 'Interaction has already been acknowledged.');
export const missingAccess = (): DiscordError => new DiscordError(403, 50001, 'Missing Access');
export const cannotEditOthersMessage = (): DiscordError =>
  new DiscordError(403, 50005, 'Cannot edit a message authored by another user');
export const emptyMessage = (): DiscordError => new DiscordError(400, 50006, 'Cannot send an empty message');
export const missingPermissions = (): DiscordError => new DiscordError(403, 50013, 'Missing Permissions');
export const invalidWebhookToken = (): DiscordError => new DiscordError(401, 50027, 'Invalid Webhook Token');
/**
 * 50083. Discord answers it for edits in archived threads (400, as in
 * production logs such as "400 Bad Request (error code: 50083): Thread is
 * archived") and for messages in locked threads from members without
 * MANAGE_THREADS (403 on an interaction response in a locked thread:
 * discord/discord-api-docs#7707, #6884, #5517).
 */
export const threadArchived = (status: 400 | 403 = 400): DiscordError =>
  new DiscordError(status, 50083, 'Thread is archived');
export const badRequest = (): DiscordError => new DiscordError(400, 0, '400: Bad Request');

/** Collects field errors by path and renders Discord's nested `errors` tree (code 50035). */
export class FormErrors {
  private readonly entries: { path: (string | number)[]; leaf: FormErrorLeaf }[] = [];

  add(path: readonly (string | number)[], code: string, message: string): void {
    this.entries.push({ path: [...path], leaf: { code, message } });
  }

  get empty(): boolean {
    return this.entries.length === 0;
  }

  /** Field paths like `0.options.1.name`, for assertions and logs. */
  get paths(): string[] {
    return this.entries.map((e) => e.path.join('.'));
  }

  tree(): FormErrorTree {
    const root: FormErrorTree = {};
    for (const { path, leaf } of this.entries) {
      let node = root;
      for (const key of path) {
        const k = String(key);
        const next = node[k];
        if (next && !Array.isArray(next)) {
          node = next;
        } else {
          const created: FormErrorTree = {};
          node[k] = created;
          node = created;
        }
      }
      (node._errors ??= []).push(leaf);
    }
    return root;
  }

  throwIfAny(): void {
    if (!this.empty) throw new DiscordError(400, 50035, 'Invalid Form Body', this.tree());
  }
}

export function formError(path: readonly (string | number)[], code: string, message: string): DiscordError {
  const f = new FormErrors();
  f.add(path, code, message);
  return new DiscordError(400, 50035, 'Invalid Form Body', f.tree());
}
