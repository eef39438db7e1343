import type { MessageKey, MessageParams } from './ui/i18n.js';

/**
 * An error meant for the member: shown as is, in their language. Anything
 * else that reaches the interaction error path is logged and the member sees
 * a short generic message with a reference id.
 */
export class UserFacingError extends Error {
  constructor(
    readonly key: MessageKey,
    readonly params: MessageParams = {},
  ) {
    super(key);
    this.name = 'UserFacingError';
  }
}
