import type { Clock, TimerHandle, Timers } from '../clock.js';
import type { JobsRepository } from '../db/jobs-repository.js';
import type { Logger } from '../logger.js';
import type { ImageStore } from './image-store.js';

export interface ImageRetentionOptions {
  /** How long after a job ended its reference image is kept (for re-rolls). */
  keepMs: number;
  /** How often the sweep runs. */
  everyMs: number;
  /** Files no job refers to are removed once they are this old (a download may be in progress). */
  orphanGraceMs: number;
}

/**
 * Keeps the image store from growing without bound: a job's reference image
 * is deleted `keepMs` after the job ended (a re-roll after that asks for the
 * image again), and files no job refers to are swept. Runs at start and then
 * every `everyMs`.
 */
export class ImageRetention {
  private timer: TimerHandle | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly jobs: JobsRepository,
    private readonly images: ImageStore,
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly log: Logger,
    private readonly options: ImageRetentionOptions,
  ) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    await this.running;
  }

  /** One pass; returns how many images of ended jobs and how many unreferenced files were removed. */
  async sweep(): Promise<{ expired: number; orphans: number }> {
    const now = this.clock.now();
    let expired = 0;
    for (const { id, imagePath } of this.jobs.endedImagesBefore(now - this.options.keepMs)) {
      // The row first: a crash in between leaves an unreferenced file, which the next pass removes.
      this.jobs.patch(id, { imagePath: null }, now);
      await this.images.remove(imagePath);
      expired++;
    }
    const orphans = await this.images.removeUnreferenced(this.jobs.imagePaths(), now - this.options.orphanGraceMs);
    if (expired + orphans > 0) this.log.info({ expired, orphans }, 'reference images removed');
    return { expired, orphans };
  }

  private schedule(delayMs: number): void {
    this.timer = this.timers.setTimeout(() => {
      this.running = this.sweep()
        .catch((err: unknown) => this.log.warn({ err }, 'image sweep failed'))
        .finally(() => {
          this.running = undefined;
          if (this.timer) this.schedule(this.options.everyMs);
        });
    }, delayMs);
  }
}
