/**
 * Group commit of row hand-overs: the forwards of many transfers bound for the same practice that
 * wait at the same time go to its reporting workflow as one signal, not one signal each. A busy
 * practice's transfers otherwise each cost the Temporal server a signal (a history write) and the
 * reporting workflow a workflow task of its own.
 *
 * Nothing is answered before it is delivered: each forward's promise settles only when the signal
 * carrying it has been accepted by Temporal (or has failed, and the transfer's local activity then
 * retries it). At most one signal per practice is in flight, in the order forwards arrived, so a
 * transfer's later rows can never overtake its earlier ones (reporting keeps the highest `seq`
 * anyway). A forward that finds no signal in flight for its practice goes at once, and those arriving
 * meanwhile are gathered for the next — except at the day's hand-over point (mi/hand-over.ts), where
 * the practice's transfers are known to be handing over in the same moment: the first of them waits
 * `lingerMs` for the others, so they share one signal.
 *
 * A failed signal fails every forward it carried, and the practice's next signal carries one forward
 * only, growing again (doubling) with each success: a forward Temporal refuses for good (too large,
 * say) then fails alone instead of taking its neighbours with it on every retry. A failure is
 * remembered for as long as the forwards' retries keep coming (their backoff tops out at a minute),
 * no longer: a practice whose fault has cleared is not throttled at its next busy hour.
 */
import type { DayRow } from '../mi/record-set';
import type { TransferSummary } from '../mi/outcomes';
import type { ForwardRowsInput } from '../messages/reporting';

/** What one signal carries: the rows and summaries of one or more forwards, in arrival order. */
export interface RowsHandOverBatch {
  practiceOds: string;
  rows: DayRow[];
  summaries: TransferSummary[];
  /** How many forwards it carries (for metrics and tests). */
  forwards: number;
}

export interface RowsHandOverLimits {
  /** Most forwards per signal. */
  maxForwards: number;
  /**
   * Most bytes per signal, as the forwards' JSON (a larger forward still goes, alone): keeps payloads
   * under Temporal's 512 KB warning, far inside its 2 MB limit.
   */
  maxBytes: number;
  /** How long a failure keeps a practice's allowance reduced. */
  failureMemoryMs: number;
  /** How long the first forward of a practice's hand-over point waits for its other transfers. */
  lingerMs: number;
}

const DEFAULT_LIMITS: RowsHandOverLimits = { maxForwards: 64, maxBytes: 256 * 1024, failureMemoryMs: 2 * 60_000, lingerMs: 1_000 };

interface Waiting {
  input: ForwardRowsInput;
  /** Its JSON's length (what it adds to a signal's payload), measured only when forwards share one. */
  bytes?: number;
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Set once it is in a signal: a cancelled caller no longer takes it back. */
  sent: boolean;
}

interface PracticeQueue {
  waiting: Waiting[];
  inFlight: boolean;
  /** Forwards the next signal may carry: 1 after a failure, doubling up to the limit. */
  allowance: number;
  /** When its last signal failed (epoch ms), while the allowance is reduced. */
  failedAt?: number;
  /** Set while the first forward of a hand-over point waits for the practice's others. */
  lingering?: ReturnType<typeof setTimeout>;
}

export class RowsHandOver {
  private readonly queues = new Map<string, PracticeQueue>();
  private readonly limits: RowsHandOverLimits;

  constructor(
    private readonly send: (batch: RowsHandOverBatch) => Promise<void>,
    limits: Partial<RowsHandOverLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /**
   * Resolves once the forward's rows are in a signal Temporal accepted; rejects with that signal's
   * error. `abort` (the activity's cancellation) withdraws a forward not yet sent.
   */
  forward(input: ForwardRowsInput, abort?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (abort?.aborted) return reject(abort.reason);
      let queue = this.queues.get(input.practiceOds);
      if (!queue) {
        queue = { waiting: [], inFlight: false, allowance: this.limits.maxForwards };
        this.queues.set(input.practiceOds, queue);
      }
      if (this.failureForgotten(queue)) this.forgive(queue);
      const waiting: Waiting = { input, resolve, reject, sent: false };
      queue.waiting.push(waiting);
      abort?.addEventListener(
        'abort',
        () => {
          const q = this.queues.get(input.practiceOds);
          if (waiting.sent || !q) return;
          q.waiting = q.waiting.filter((w) => w !== waiting);
          reject(abort.reason);
        },
        { once: true },
      );
      if (input.atHandOverPoint && !queue.inFlight && !queue.lingering && queue.waiting.length === 1 && this.limits.lingerMs > 0) {
        const q = queue;
        q.lingering = setTimeout(() => {
          delete q.lingering;
          this.pump(input.practiceOds);
        }, this.limits.lingerMs);
        return;
      }
      this.pump(input.practiceOds);
    });
  }

  /** Practices with forwards waiting, a signal in flight, or a failure still remembered (for tests). */
  get practicesHeld(): number {
    return this.queues.size;
  }

  private pump(practiceOds: string): void {
    const queue = this.queues.get(practiceOds);
    if (!queue || queue.inFlight || queue.lingering) return;
    if (!queue.waiting.length) {
      // Nothing held for an idle practice, so the map stays as small as the practices in flight;
      // but one whose last signal failed keeps its reduced allowance for the retries to come.
      if (queue.allowance >= this.limits.maxForwards || this.failureForgotten(queue)) this.queues.delete(practiceOds);
      return;
    }
    const taken = this.take(queue);
    queue.inFlight = true;
    const batch: RowsHandOverBatch = {
      practiceOds,
      rows: taken.flatMap((w) => w.input.rows),
      summaries: taken.flatMap((w) => w.input.summaries ?? []),
      forwards: taken.length,
    };
    // A send that throws synchronously is a failed send all the same.
    Promise.resolve()
      .then(() => this.send(batch))
      .then(
        () => {
          queue.allowance = Math.min(this.limits.maxForwards, queue.allowance * 2);
          if (queue.allowance >= this.limits.maxForwards) this.forgive(queue);
          for (const w of taken) w.resolve();
        },
        (err: unknown) => {
          queue.allowance = 1;
          queue.failedAt = this.now();
          for (const w of taken) w.reject(err);
        },
      )
      .finally(() => {
        queue.inFlight = false;
        this.pump(practiceOds);
      });
  }

  private failureForgotten(queue: PracticeQueue): boolean {
    return queue.failedAt !== undefined && this.now() - queue.failedAt > this.limits.failureMemoryMs;
  }

  private forgive(queue: PracticeQueue): void {
    queue.allowance = this.limits.maxForwards;
    delete queue.failedAt;
  }

  /** The forwards the next signal carries: in arrival order, within the allowance and the byte limit. */
  private take(queue: PracticeQueue): Waiting[] {
    // The first always goes; sizes are measured only once a second would join it.
    const taken: Waiting[] = [queue.waiting.shift()!];
    let bytes = 0;
    while (queue.waiting.length && taken.length < queue.allowance) {
      const next = queue.waiting[0]!;
      if (taken.length === 1) bytes = sizeOf(taken[0]!);
      if (bytes + sizeOf(next) > this.limits.maxBytes) break;
      queue.waiting.shift();
      taken.push(next);
      bytes += sizeOf(next);
    }
    for (const w of taken) w.sent = true;
    return taken;
  }
}

function sizeOf(w: Waiting): number {
  return (w.bytes ??= JSON.stringify(w.input).length);
}
