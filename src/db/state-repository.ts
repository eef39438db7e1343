import type { Db } from './database.js';

/** Small facts the bot keeps about itself, such as the hash of the last registered commands. */
export class StateRepository {
  private readonly getStmt;
  private readonly setStmt;
  private readonly deleteStmt;
  private readonly addStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare<[string], { value: string }>('SELECT value FROM bot_state WHERE key = ?');
    this.setStmt = db.prepare<[string, string]>(
      'INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.deleteStmt = db.prepare<[string]>('DELETE FROM bot_state WHERE key = ?');
    this.addStmt = db.prepare<[string, string]>(
      'INSERT INTO bot_state (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING',
    );
  }

  get(key: string): string | undefined {
    return this.getStmt.get(key)?.value;
  }

  set(key: string, value: string): void {
    this.setStmt.run(key, value);
  }

  /** Stores `value` unless the key is already there; true when this call stored it (one winner across processes). */
  add(key: string, value: string): boolean {
    return this.addStmt.run(key, value).changes === 1;
  }

  /** True when this call removed the key (one winner across processes). */
  delete(key: string): boolean {
    return this.deleteStmt.run(key).changes === 1;
  }
}
