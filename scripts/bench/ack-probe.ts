/**
 * Preloaded (`--import`) into a bot process by the acknowledgement bench:
 * notes when the process hands each interaction callback to its HTTP client
 * and when the request reaches a socket, counts the connections it opens, and
 * writes the notes to ACK_PROBE_FILE when the process exits (SIGUSR2 makes it
 * exit at once). With the
 * emulator's own timestamps this splits a measured acknowledgement into the
 * bot's part (INTERACTION_CREATE sent → callback sent) and the part spent
 * on the wire and waiting in the emulator's event loop (→ callback handled).
 * The bot's code is not touched; a diagnostics_channel subscriber costs an
 * array push per request.
 */
import diagnostics from 'node:diagnostics_channel';
import fs from 'node:fs';

const file = process.env.ACK_PROBE_FILE;
/**
 * Wall-clock ms with the monotonic clock's sub-millisecond precision: the bench reads its own
 * timestamps the same way, so the two processes' times compare (Date.now() has whole
 * milliseconds, as long as the steady stream's median acknowledgement).
 */
const nowMs = () => performance.timeOrigin + performance.now();
/** `[interaction id, nowMs() when the callback request was created, … when its headers were written]`. */
const sent: [string, number, number][] = [];
const pending = new Map<object, [string, number, number]>();
/** nowMs() of every new connection the HTTP client opened (to any host). */
const connects: number[] = [];
const CALLBACK = /\/interactions\/(\d+)\/[^/]+\/callback/;

if (file) {
  // Node's fetch (which the bot's REST client uses) publishes undici's request events.
  diagnostics.subscribe('undici:request:create', (message) => {
    const { request } = message as { request: { path: string } };
    const m = CALLBACK.exec(request.path);
    if (!m) return;
    const note: [string, number, number] = [m[1]!, nowMs(), NaN];
    sent.push(note);
    pending.set(request, note);
  });
  // The request reached a socket: until then it waited for a connection or for the event loop.
  diagnostics.subscribe('undici:client:sendHeaders', (message) => {
    const { request } = message as { request: object };
    const note = pending.get(request);
    if (!note) return;
    note[2] = nowMs();
    pending.delete(request);
  });
  diagnostics.subscribe('undici:client:connected', () => connects.push(nowMs()));
  process.on('exit', () => fs.writeFileSync(file, JSON.stringify({ callbacks: sent, connects })));
  // The bench's stop: at once, without the bot's graceful drain (its fresh world is thrown away,
  // and draining hundreds of queued edits takes seconds). process.exit still writes a --cpu-prof profile.
  process.on('SIGUSR2', () => process.exit(0));
}
