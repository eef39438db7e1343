// The WAL checkpointer's thread (src/db/checkpointer.ts): its own connection
// to the bot's database file; on each message, one PASSIVE checkpoint (it never
// waits for or blocks a writer or a reader), answered with SQLite's result.
// Plain JavaScript, so that it runs as it is wherever the bot runs (tsx,
// vitest, the built dist/), with nothing to compile.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const Database = createRequire(import.meta.url)('better-sqlite3');
const db = new Database(workerData.file, { fileMustExist: true });
// A checkpoint syncs the WAL and then the database file at this level (https://sqlite.org/pragma.html#pragma_synchronous).
db.pragma('synchronous = NORMAL');

parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    // [{ busy, log, checkpointed }]: https://sqlite.org/pragma.html#pragma_wal_checkpoint
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, ...result });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err instanceof Error ? err.message : err) });
  }
});
