/**
 * The group commit of row hand-overs, without a server: which forwards share a signal, that none is
 * answered before its signal is, that order holds per practice, and how a failed signal is isolated.
 */
import { describe, expect, it } from 'vitest';
import { RowsHandOver, type RowsHandOverBatch } from '../../activities/rows-hand-over';
import type { DayRow } from '../../mi/record-set';
import type { ForwardRowsInput } from '../../messages/reporting';

const row = (key: string, seq = 1): DayRow => ({ day: '2026-12-01', side: 'RR', key, firstEventAt: '2026-12-01T09:00:00.000Z', fields: [key], seq });
const forward = (practiceOds: string, ...keys: string[]): ForwardRowsInput => ({ practiceOds, rows: keys.map((k) => row(k)) });

/** A send whose every call waits until the test settles it. */
function controlledSend() {
  const calls: { batch: RowsHandOverBatch; ok: () => void; fail: (err: Error) => void }[] = [];
  const send = (batch: RowsHandOverBatch) =>
    new Promise<void>((ok, fail) => {
      calls.push({ batch, ok, fail });
    });
  return { calls, send };
}

const tick = () => new Promise((r) => setImmediate(r));
const settled = (p: Promise<unknown>) => {
  const state = { done: false, error: undefined as unknown };
  p.then(
    () => (state.done = true),
    (err: unknown) => {
      state.done = true;
      state.error = err;
    },
  );
  return state;
};

describe('RowsHandOver', () => {
  it('a forward with nothing in flight for its practice goes at once, alone', async () => {
    const { calls, send } = controlledSend();
    const handOver = new RowsHandOver(send);
    const p = settled(handOver.forward(forward('A1', 't1')));
    await tick();
    expect(calls.map((c) => c.batch.forwards)).toEqual([1]);
    expect(p.done).toBe(false); // not answered before its signal is
    calls[0]!.ok();
    await tick();
    expect(p).toEqual({ done: true, error: undefined });
    expect(handOver.practicesHeld).toBe(0);
  });

  it('forwards arriving while a signal is in flight share the next one, in arrival order', async () => {
    const { calls, send } = controlledSend();
    const handOver = new RowsHandOver(send);
    const first = settled(handOver.forward(forward('A1', 't1')));
    await tick();
    const rest = ['t2', 't3', 't4'].map((k) => settled(handOver.forward({ ...forward('A1', k), summaries: [{ key: k } as never] })));
    await tick();
    expect(calls).toHaveLength(1); // one signal per practice at a time
    calls[0]!.ok();
    await tick();
    expect(first.done).toBe(true);
    expect(rest.every((r) => !r.done)).toBe(true);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.batch.forwards).toBe(3);
    expect(calls[1]!.batch.rows.map((r) => r.key)).toEqual(['t2', 't3', 't4']);
    expect(calls[1]!.batch.summaries.map((s) => s.key)).toEqual(['t2', 't3', 't4']);
    calls[1]!.ok();
    await tick();
    expect(rest.every((r) => r.done && r.error === undefined)).toBe(true);
  });

  it('practices never wait for one another', async () => {
    const { calls, send } = controlledSend();
    const handOver = new RowsHandOver(send);
    void handOver.forward(forward('A1', 't1'));
    void handOver.forward(forward('B2', 't2'));
    await tick();
    expect(calls.map((c) => c.batch.practiceOds)).toEqual(['A1', 'B2']);
  });

  it('a failed signal fails every forward it carried; the next carries one, then the allowance doubles', async () => {
    const { calls, send } = controlledSend();
    const handOver = new RowsHandOver(send, { maxForwards: 8 });
    void handOver.forward(forward('A1', 'busy')).catch(() => undefined);
    await tick();
    const carried = ['t1', 't2', 't3'].map((k) => settled(handOver.forward(forward('A1', k))));
    calls[0]!.ok();
    await tick();
    expect(calls[1]!.batch.forwards).toBe(3);
    calls[1]!.fail(new Error('payload too large'));
    await tick();
    expect(carried.map((c) => (c.error as Error).message)).toEqual(['payload too large', 'payload too large', 'payload too large']);
    // Their retries come back: one goes alone, so a forward refused for good fails by itself.
    const retried = ['t1', 't2', 't3', 't4', 't5', 't6'].map((k) => settled(handOver.forward(forward('A1', k))));
    await tick();
    expect(calls[2]!.batch.forwards).toBe(1);
    calls[2]!.ok();
    await tick();
    expect(calls[3]!.batch.forwards).toBe(2);
    calls[3]!.ok();
    await tick();
    expect(calls[4]!.batch.forwards).toBe(3); // what was left, within an allowance of 4
    calls[4]!.ok();
    await tick();
    expect(retried.every((r) => r.done && r.error === undefined)).toBe(true);
  });

  it('a signal stays within the byte limit, but a single large forward still goes', async () => {
    const { calls, send } = controlledSend();
    const size = (input: ForwardRowsInput) => JSON.stringify(input).length;
    const b = forward('A1', 'b1', 'b2', 'b3');
    const c = forward('A1', 'c1', 'c2');
    const d = forward('A1', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6');
    // Room for b, or for c, but not for both; d alone is over the limit.
    const handOver = new RowsHandOver(send, { maxBytes: size(b) + size(c) - 1 });
    void handOver.forward(forward('A1', 'a'));
    await tick();
    for (const f of [b, c, d]) void handOver.forward(f);
    calls[0]!.ok();
    await tick();
    expect(calls[1]!.batch.rows.map((r) => r.key)).toEqual(['b1', 'b2', 'b3']);
    calls[1]!.ok();
    await tick();
    expect(calls[2]!.batch.rows.map((r) => r.key)).toEqual(['c1', 'c2']);
    calls[2]!.ok();
    await tick();
    expect(calls[3]!.batch.rows).toHaveLength(6);
  });

  it('a failure is forgotten once its retries would have come: the practice is not throttled for ever', async () => {
    const { calls, send } = controlledSend();
    let now = 0;
    const handOver = new RowsHandOver(send, { maxForwards: 8, failureMemoryMs: 120_000 }, () => now);
    void handOver.forward(forward('A1', 'busy'));
    await tick();
    void handOver.forward(forward('A1', 't1')).catch(() => undefined);
    calls[0]!.ok();
    await tick();
    calls[1]!.fail(new Error('unavailable'));
    await tick();
    expect(handOver.practicesHeld).toBe(1); // remembered for the retries to come
    now += 120_001;
    void handOver.forward(forward('A1', 'first of the next busy hour'));
    await tick();
    for (const k of ['t2', 't3', 't4']) void handOver.forward(forward('A1', k));
    calls[2]!.ok();
    await tick();
    expect(calls[3]!.batch.forwards).toBe(3); // the full allowance again, not 1 and 2
    calls[3]!.ok();
    await tick();
    expect(handOver.practicesHeld).toBe(0);
  });

  it('a cancelled activity withdraws its forward while it waits, but not once it is sent', async () => {
    const { calls, send } = controlledSend();
    const handOver = new RowsHandOver(send);
    const sentAbort = new AbortController();
    const sent = settled(handOver.forward(forward('A1', 'sent'), sentAbort.signal));
    await tick();
    const waitingAbort = new AbortController();
    const waiting = settled(handOver.forward(forward('A1', 'waiting'), waitingAbort.signal));
    waitingAbort.abort(new Error('activity cancelled'));
    sentAbort.abort(new Error('activity cancelled'));
    await tick();
    expect((waiting.error as Error).message).toBe('activity cancelled');
    expect(sent.done).toBe(false); // it is in a signal: its answer is that signal's
    calls[0]!.ok();
    await tick();
    expect(sent).toEqual({ done: true, error: undefined });
    expect(calls).toHaveLength(1); // the withdrawn forward never went
    expect(handOver.practicesHeld).toBe(0);
  });

  it('at the hand-over point the first forward waits for the practice\'s others, and they share one signal', async () => {
    const { calls, send } = controlledSend();
    const handOver = new RowsHandOver(send, { lingerMs: 30 });
    const atPoint = (k: string): ForwardRowsInput => ({ ...forward('A1', k), atHandOverPoint: true });
    const all = ['t1', 't2', 't3'].map((k) => settled(handOver.forward(atPoint(k))));
    // Another practice's ordinary forward does not wait.
    settled(handOver.forward(forward('B2', 'u1')));
    await tick();
    expect(calls.map((c) => c.batch.practiceOds)).toEqual(['B2']);
    await new Promise((r) => setTimeout(r, 60));
    expect(calls.map((c) => [c.batch.practiceOds, c.batch.forwards])).toEqual([
      ['B2', 1],
      ['A1', 3],
    ]);
    expect(all.some((p) => p.done)).toBe(false);
    calls[1]!.ok();
    await tick();
    expect(all.every((p) => p.done && p.error === undefined)).toBe(true);
  });

  it('a forward cancelled while it waits at the hand-over point is withdrawn, and nothing is sent', async () => {
    const { calls, send } = controlledSend();
    const handOver = new RowsHandOver(send, { lingerMs: 20 });
    const abort = new AbortController();
    const p = settled(handOver.forward({ ...forward('A1', 't1'), atHandOverPoint: true }, abort.signal));
    abort.abort(new Error('cancelled'));
    await new Promise((r) => setTimeout(r, 40));
    expect(p.error).toEqual(new Error('cancelled'));
    expect(calls).toHaveLength(0);
    expect(handOver.practicesHeld).toBe(0);
  });
});
