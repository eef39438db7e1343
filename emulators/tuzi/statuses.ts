/**
 * How a provider spells a task's status on the wire. The emulator keeps one
 * lifecycle; a dialect only renames its phases, the way relays in front of
 * the same upstream do.
 *
 * Sources:
 * - The seed (§2) and OpenAI's video object: `queued`, `in_progress`,
 *   `completed`, `failed`.
 * - new-api, the widely deployed relay, reads upstream statuses case-
 *   insensitively because "a MiniMax→OpenAI relay upstream may send
 *   Success/succeeded/Processing": queued | pending | submitted | not_start |
 *   preparing; processing | in_progress | running | generating; completed |
 *   complete | success | succeeded | finished; failed | failure | fail |
 *   error | cancelled | canceled (QuantumNous/new-api,
 *   relay/channel/task/sora/adaptor.go, ParseTaskResult).
 * - A public Tuzi client treats `expired` as a status it may be sent
 *   (facts/tuzi.md, "What relays … really answer").
 */

/** The emulator's lifecycle phases; `expired` is only shown by a job expired `as: 'status'`. */
export type Phase = 'queued' | 'in_progress' | 'completed' | 'failed' | 'cancelled' | 'expired';

/** Wire spelling per phase; a phase left out keeps its own name. Any string works, including ones no client knows. */
export type StatusDialect = Partial<Record<Phase, string>>;

export const STATUS_DIALECTS = {
  /** The seed and OpenAI. */
  seed: {},
  /** Lower-case relay synonyms. */
  relay: {
    queued: 'pending',
    in_progress: 'processing',
    completed: 'succeeded',
    failed: 'error',
    cancelled: 'canceled',
  },
  /** The other synonyms new-api accepts. */
  'relay-alt': {
    queued: 'submitted',
    in_progress: 'running',
    completed: 'success',
    failed: 'failure',
    cancelled: 'cancelled',
  },
  /** Capitalised, as the MiniMax→OpenAI relays new-api mentions send them. */
  'relay-case': {
    queued: 'Pending',
    in_progress: 'Processing',
    completed: 'Success',
    failed: 'Failed',
    cancelled: 'Cancelled',
    expired: 'Expired',
  },
} as const satisfies Record<string, StatusDialect>;

export type StatusDialectName = keyof typeof STATUS_DIALECTS;

export function resolveDialect(dialect: StatusDialect | StatusDialectName | undefined): StatusDialect {
  if (dialect === undefined) return {};
  if (typeof dialect === 'string') {
    const named = (STATUS_DIALECTS as Record<string, StatusDialect>)[dialect];
    if (!named) throw new RangeError(`unknown status dialect ${dialect}`);
    return named;
  }
  return dialect;
}

export function spell(phase: Phase, dialect: StatusDialect): string {
  return dialect[phase] ?? phase;
}
