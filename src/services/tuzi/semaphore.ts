/**
 * Caps concurrent upstream requests. Waiters are served in arrival order so
 * a burst of polls cannot starve a download that queued earlier.
 */
export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('maxConcurrency must be a positive integer');
  }

  get inUse(): number {
    return this.active;
  }

  /** Resolves once no slot is held or waited for. */
  whenIdle(): Promise<void> {
    if (this.active === 0 && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        resolve();
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  private release(): void {
    this.active--;
    const next = this.waiters.shift();
    if (next) next();
    else if (this.active === 0) for (const idle of this.idleWaiters.splice(0)) idle();
  }
}
