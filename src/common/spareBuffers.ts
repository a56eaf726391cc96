// Buffers handed back after use and handed out again, so a stream of large pieces (a model's upload)
// does not allocate, zero-fill and garbage-collect an array per piece. Sizes are powers of two from
// 64 KiB up, so pieces of nearby sizes share buffers; at most `limit` wait for reuse.

const MIN_BYTES = 1 << 16;

export class SpareBuffers<B extends ArrayBuffer | SharedArrayBuffer> {
  private readonly spare: B[] = [];
  /** Every buffer take() made: give() keeps only these (never a caller's own array). */
  private readonly mine = new WeakSet<B>();

  constructor(private readonly allocate: (bytes: number) => B, private readonly limit: number) {}

  /** An array of `bytes` (contents undefined), over the smallest spare buffer big enough or a new one. */
  take(bytes: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.spare.length; i++) {
      const size = this.spare[i].byteLength;
      if (size >= bytes && (best < 0 || size < this.spare[best].byteLength)) best = i;
    }
    if (best >= 0) return new Uint8Array(this.spare.splice(best, 1)[0], 0, bytes);
    const buffer = this.allocate(Math.max(MIN_BYTES, 2 ** Math.ceil(Math.log2(Math.max(1, bytes)))));
    this.mine.add(buffer);
    return new Uint8Array(buffer, 0, bytes);
  }

  /** Hands back arrays from take() once used; others are ignored. Over the limit, the smallest goes to the GC. */
  give(...arrays: Uint8Array[]): void {
    for (const a of arrays) {
      const buffer = a.buffer as B;
      if (!this.mine.has(buffer) || this.spare.includes(buffer)) continue;
      this.spare.push(buffer);
      if (this.spare.length > this.limit) {
        let smallest = 0;
        for (let i = 1; i < this.spare.length; i++) if (this.spare[i].byteLength < this.spare[smallest].byteLength) smallest = i;
        this.spare.splice(smallest, 1);
      }
    }
  }

  /** Drops every spare buffer (the GC frees them once nothing else holds them). */
  clear(): void {
    this.spare.length = 0;
  }
}
