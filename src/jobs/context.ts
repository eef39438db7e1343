import type { ChannelFacts } from '../services/channel-access.js';
import type { MessageBody } from '../ui/render.js';

/** Discord's interaction token lifetime. */
export const INTERACTION_TOKEN_TTL_MS = 15 * 60_000;

/** Who asked, where, and how to answer: what a job keeps of its interaction. */
export interface CommandContext {
  interactionId: string;
  applicationId: string;
  token: string;
  guildId: string | null;
  channelId: string;
  userId: string;
  /** The member's role ids (the server's id stands for @everyone), for the server's role rules. */
  memberRoleIds: readonly string[];
  locale: string;
  attachmentSizeLimit: number;
  /** What the interaction says about its channel: the bot's permissions there, and thread state. */
  channelFacts: ChannelFacts;
  /** When the interaction arrived (the token's 15 minutes start here). */
  receivedAt: number;
}

/**
 * What the job service needs of the interaction, and no more: refusals are
 * thrown (a UserFacingError), and the interaction router's one error path
 * answers them privately whatever state the interaction is in.
 */
export interface Responder {
  /**
   * Acknowledges publicly. Given the first reply (`first`, when nothing is
   * left to do before it can show), the reply can be the acknowledgement
   * itself: one request instead of two, and its message id (`replied`).
   * Otherwise — or when the responder judges a deferral faster (a burst) —
   * a "thinking" deferral, which `edit` then completes.
   */
  acknowledge(first?: () => MessageBody): Promise<{ replied: boolean; messageId: string | null }>;
  /** Edits the public reply; returns its message id. */
  edit(body: MessageBody): Promise<{ messageId: string }>;
}
