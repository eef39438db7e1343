import type { HealthReport } from '../ops/health.js';
import type { MetricsSnapshot } from '../ops/metrics.js';

/**
 * What the sharding manager and its shard processes say to each other, on
 * the IPC channel discord.js's ShardingManager opens for every child (`fork`).
 * discord.js's own messages there (`_ready`, `_eval`, `_fetchProp`…) pass
 * through untouched; ours carry `_sora` so neither side mistakes one for the
 * other (a Shard emits the ones it does not know as `message`).
 */
export type ShardQuestion = 'metrics' | 'health';

export type SoraMessage =
  /** Manager → shard: answer `what`, quoting `id`. */
  | { _sora: 'ask'; id: number; what: ShardQuestion }
  /** Shard → manager. */
  | { _sora: 'answer'; id: number; result?: unknown; error?: string }
  /** Shard → manager → every other shard: this shard's line for upstream capacity moved (a slot may be free). */
  | { _sora: 'line' };

export function isSoraMessage(message: unknown): message is SoraMessage {
  return typeof message === 'object' && message !== null && '_sora' in message;
}

/** The answers a shard gives (its app's live views). */
export interface ShardAnswers {
  metrics(): Promise<MetricsSnapshot>;
  health(): HealthReport;
  /** Another shard's line moved. */
  lineMoved(): void;
}

/** The IPC end a forked child has: `process` itself. */
export interface ParentPort {
  readonly connected?: boolean;
  send?(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * A shard's end of the channel. `lineMoved()` is what app.ts calls when
 * this shard's line moved; several in one turn of the event loop go as one
 * message, since every dispatcher's pass reads the whole line anyway.
 */
export class ShardLink {
  private pending = false;

  constructor(private readonly parent: ParentPort = process) {}

  lineMoved(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.post({ _sora: 'line' });
    });
  }

  /** Answers the manager's questions from now on. */
  serve(answers: ShardAnswers): void {
    this.parent.on('message', (message) => {
      if (!isSoraMessage(message)) return;
      if (message._sora === 'line') answers.lineMoved();
      else if (message._sora === 'ask') void this.answer(message.id, message.what, answers);
    });
  }

  private async answer(id: number, what: ShardQuestion, answers: ShardAnswers): Promise<void> {
    try {
      const result = what === 'metrics' ? await answers.metrics() : answers.health();
      this.post({ _sora: 'answer', id, result });
    } catch (err) {
      this.post({ _sora: 'answer', id, error: err instanceof Error ? err.message : String(err) });
    }
  }

  private post(message: SoraMessage): void {
    // A manager that is gone (the child is shutting down because of it) hears nothing.
    if (this.parent.connected === false || !this.parent.send) return;
    try {
      this.parent.send(message);
    } catch {
      // The channel closed between the check and the send.
    }
  }
}
