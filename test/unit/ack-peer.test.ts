import { describe, expect, it } from 'vitest';
import { peerWorkOf, type AckRun } from '../../scripts/bench/ack.js';

/** A run with only the two figures peerWorkOf reads (ours against the first peer): the p50 to the callback request and the CPU per command. */
const run = (toRequestP50: number, cpuPerCommand: number): AckRun =>
  ({
    split: { toRequest: [toRequestP50, 0], toSocket: [0, 0], toEmulator: [0, 0] },
    botMainCpuMsPerCommand: cpuPerCommand,
  }) as unknown as AckRun;

describe("the second peer of bench part 1c (ours' reply, and ours' CPU as busy loops)", () => {
  it('spends before its answer what ours took longer to its callback than the first peer, and the rest of the extra CPU after', () => {
    expect(peerWorkOf([run(1.1, 1.7)], [run(0.7, 0.8)])).toEqual({ beforeUs: 400, afterUs: 500 });
  });

  it('takes the medians of the runs given', () => {
    const ours = [run(1.0, 1.6), run(1.2, 1.9), run(5.0, 9.0)];
    const firstPeer = [run(0.6, 0.8), run(0.7, 0.9), run(0.5, 0.7)];
    expect(peerWorkOf(ours, firstPeer)).toEqual({ beforeUs: 600, afterUs: 500 });
  });

  it('never spends more before its answer than ours spent in all', () => {
    expect(peerWorkOf([run(2.0, 1.0)], [run(0.5, 0.8)])).toEqual({ beforeUs: 200, afterUs: 0 });
  });

  it('makes no loop where ours was not slower, or where the machine gave no figure', () => {
    expect(peerWorkOf([run(0.5, 0.7)], [run(0.6, 0.8)])).toEqual({ beforeUs: 0, afterUs: 0 });
    expect(peerWorkOf([run(1.0, NaN)], [run(0.6, NaN)])).toEqual({ beforeUs: 0, afterUs: 0 });
    expect(peerWorkOf([], [])).toEqual({ beforeUs: 0, afterUs: 0 });
  });
});
