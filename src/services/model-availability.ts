import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ModelCatalogue } from './capabilities.js';
import { describeFailure, type VideoApi } from './video-api.js';

/** What moderators are shown about the catalogue's models (`/sora-config show`). */
export interface ModelProblems {
  /** Catalogue models the provider's `GET /v1/models` does not list (empty while unknown). */
  unlisted: string[];
  /** Catalogue models a create was refused for as "model not found", most recent first. */
  refused: { model: string; at: number; message: string }[];
}

/** A change moderators should hear about; the hook a moderator log channel can subscribe to. */
export type ModelNotice =
  { type: 'unlisted'; models: string[] } | { type: 'refused'; model: string; message: string; at: number };

/**
 * What the provider itself says about the catalogue's models: its own list,
 * asked once at start (never blocking it), and every create refused as
 * "model not found" since. The catalogue stays the operator's: nothing is
 * removed automatically, because a relay's list can be incomplete and a
 * dropped model can come back; moderators are told what to change instead.
 */
export class ModelAvailability {
  private listed: Set<string> | undefined;
  private readonly refusals = new Map<string, { at: number; message: string }>();
  private readonly listeners = new Set<(notice: ModelNotice) => void>();

  constructor(
    private readonly catalogue: ModelCatalogue,
    private readonly videos: Pick<VideoApi, 'listModels'>,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Subscribes to notices (a moderator log channel, #17); returns the unsubscribe. */
  onNotice(listener: (notice: ModelNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Asks the provider for its models, within `timeoutMs`. Never throws: a
   * relay without the route, an error or a timeout is logged, and the bot
   * simply does not know.
   */
  async check(timeoutMs: number): Promise<void> {
    let models;
    try {
      models = await this.videos.listModels({ signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const failure = describeFailure(err);
      this.log.warn(
        { status: failure.status, code: failure.code, why: failure.message },
        'could not read the provider’s model list (GET /v1/models); the catalogue is used as it is',
      );
      return;
    }
    this.listed = new Set(models.map((m) => m.id.toLowerCase()));
    const ids = this.catalogue.ids();
    const unlisted = this.unlisted();
    const known = new Set(ids.map((id) => id.toLowerCase()));
    const extra = models.map((m) => m.id).filter((id) => !known.has(id.toLowerCase()));
    this.log.info(
      { listed: models.length, catalogue: ids.length, notInCatalogue: extra.slice(0, 50) },
      'provider model list read',
    );
    if (unlisted.length > 0) {
      this.log.warn(
        { unlisted },
        'catalogue models the provider does not list: members who pick them may be refused; ' +
          'remove them from MODELS_FILE or from /sora-config allowed_models if the provider dropped them',
      );
      this.notify({ type: 'unlisted', models: unlisted });
    }
  }

  /** Catalogue models the provider's list lacks; empty until a list was read. */
  unlisted(): string[] {
    const listed = this.listed;
    if (!listed) return [];
    return this.catalogue.ids().filter((id) => !listed.has(id.toLowerCase()));
  }

  /** A create for `model` was refused as not found: logged with what to change, kept for `/sora-config show`. */
  noteRefused(model: string, message: string): void {
    const at = this.clock.now();
    const first = !this.refusals.has(model);
    this.refusals.set(model, { at, message });
    // Once per model at error level; repeats are the same news.
    this.log[first ? 'error' : 'warn'](
      { model, upstream: message },
      `the provider refused model ${model} as unavailable: remove it from MODELS_FILE, ` +
        'or from the servers’ allowed_models (/sora-config set allowed_models)',
    );
    this.notify({ type: 'refused', model, message, at });
  }

  problems(): ModelProblems {
    return {
      unlisted: this.unlisted(),
      refused: [...this.refusals]
        .map(([model, r]) => ({ model, ...r }))
        .sort((a, b) => b.at - a.at)
        .slice(0, 10),
    };
  }

  private notify(notice: ModelNotice): void {
    for (const listener of this.listeners) {
      try {
        listener(notice);
      } catch (err) {
        this.log.warn({ err }, 'a model notice listener failed');
      }
    }
  }
}
