// Greedy decoding with the CPU ahead of the GPU. Between two passes run one at a time, the GPU waits for
// the readback's round trip and for the host to encode and submit the next pass: ~6-14 µs a dispatch on
// this project's 2-core machine (bench decode, "host encode and submit per decode pass": 1.2 ms for the
// 196 dispatches of 24 layers), which on a GPU is of the order of the pass itself. Here each pass's token
// is the previous pass's argmax, copied on the GPU, so pass i+1 is encoded and submitted while the GPU
// runs pass i, and the CPU reads token i while pass i+1 runs.
//
// Up to `depth` passes are in flight. When the caller stops (a stop token, a stop rule, a cancel), the
// passes already submitted past the stop are discarded: close() truncates the sequence to the positions
// whose results were consumed, at once. Nobody waits for them: the GPU runs them before anything
// submitted later, so the K/V they write lands in slots past the sequence's end, which the next append
// overwrites (as a rejected draft's do). Each in-flight pass reads back through a staging buffer of its
// own (a mapped buffer cannot be written by the next submit); the buffers are freed once the discarded
// reads settle.

import { CancelledError, UsageError } from '../common/errors';
import { Readback } from '../gpu/buffers';
import { ARGMAX_ROW_BYTES } from '../ops/argmax';
import type { Sequence } from '../kvcache/sequence';

/** What the stream needs of a model (LlamaModel has it). */
export interface FedPassModel {
  readonly gpu: { readonly device: GPUDevice };
  submitFedPass(seq: Sequence, token: number | undefined, out: Readback, signal?: AbortSignal): Promise<{ id: number; p: number }>;
}

export interface GreedyStreamOptions {
  /** Passes in flight (1: none ahead, as a loop of forward calls). */
  depth: number;
  /** Most passes to submit (the caller's remaining token budget: no pass is run that cannot be used). */
  maxPasses: number;
  signal?: AbortSignal;
}

export class GreedyStream {
  private readonly slots: Readback[];
  /** Per slot: the read of the pass that last used it (a slot is reused only after its read settled). */
  private readonly slotReads: Promise<unknown>[];
  private readonly inFlight: Promise<{ id: number; p: number }>[] = [];
  private submittedPasses = 0;
  private consumedPasses = 0;
  /** seq.length when the stream started: the position the first pass feeds. */
  private readonly start: number;
  private closed = false;
  /** The error of a pass that could not be submitted; thrown once the passes before it are consumed. */
  private refusal?: { error: unknown };

  /** `token` is fed at position seq.length by the first pass; each later pass feeds the argmax before it. */
  constructor(private readonly model: FedPassModel, private readonly seq: Sequence, private readonly token: number, private readonly o: GreedyStreamOptions) {
    if (!(Number.isInteger(o.depth) && o.depth >= 1)) throw new UsageError(`pipeline depth ${o.depth}`);
    this.slots = Array.from({ length: o.depth }, (_, i) => new Readback(model.gpu.device, ARGMAX_ROW_BYTES, `greedy.readback${i}`));
    this.slotReads = this.slots.map(() => Promise.resolve());
    this.start = seq.length;
  }

  /** Passes submitted and not consumed: run ahead past the stop. */
  get discarded(): number {
    return this.submittedPasses - this.consumedPasses;
  }

  /**
   * The argmax (and its probability) after the next fed token: the first call's is after `token`. Tops
   * up the passes in flight first. Throws CancelledError once the signal is aborted (the stream is then
   * closed), RangeError past maxPasses.
   */
  async next(): Promise<{ id: number; p: number }> {
    if (this.closed) throw new UsageError('the greedy stream is closed');
    if (this.o.signal?.aborted) {
      this.close();
      throw new CancelledError();
    }
    while (!this.refusal && this.submittedPasses < this.o.maxPasses && this.inFlight.length < this.o.depth) {
      const slot = this.submittedPasses % this.slots.length;
      await this.slotReads[slot];
      let read: Promise<{ id: number; p: number }>;
      try {
        read = this.model.submitFedPass(this.seq, this.submittedPasses === 0 ? this.token : undefined, this.slots[slot], this.o.signal);
      } catch (e) {
        // A pass refused ahead (the context or the pool is full): the passes in flight are still good,
        // so the refusal surfaces where one pass at a time would meet it, once they are consumed.
        this.refusal = { error: e };
        break;
      }
      this.slotReads[slot] = read.catch(() => undefined);
      this.inFlight.push(read);
      this.submittedPasses++;
    }
    const head = this.inFlight.shift();
    if (!head) {
      if (this.refusal) throw this.refusal.error;
      throw new RangeError(`the greedy stream ran its ${this.o.maxPasses} passes`);
    }
    const row = await head;
    this.consumedPasses++;
    return row;
  }

  /**
   * Discards the passes still in flight (without waiting for them) and truncates the sequence to the
   * positions of the consumed ones; the staging buffers are freed once the discarded reads settle.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.seq.truncate(this.start + this.consumedPasses);
    // allSettled also handles the discarded reads' rejections (a lost device, a disposed model).
    void Promise.allSettled([...this.inFlight.splice(0), ...this.slotReads]).then(() => {
      for (const s of this.slots) s.destroy();
    });
  }
}
