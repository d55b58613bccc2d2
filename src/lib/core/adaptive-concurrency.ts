// How many downloads to run at once when nobody said: small S3 objects are round-trip bound,
// so throughput grows with concurrency until something else gives (S3 throttling the prefix,
// the network, our CPU). Slow start, as TCP does: begin at `initial` and double after each
// generation (as many completions as the limit) while the generation's throughput grew by
// at least a fifth over the previous one; hold once it stops growing. Throttling (503
// SlowDown, 429) halves the limit (once per generation, as the answers of a burst come
// together), then it grows back by an eighth per clean generation.
//
// Slow start doubles only while the work left would keep the new sockets busy: a socket's
// first request pays two extra round trips (its TCP and TLS handshakes) and, on real S3, a
// TLS handshake's CPU, so a doubling that leaves each new socket two or three requests costs
// more than it saves (bench/RESULTS.md: 2,000 small objects at 40 ms took longer at 512 than
// at 256). The throughput test alone cannot see this: the generation that opens the sockets
// is the one measured against the last.

export interface ConcurrencyLimit {
  /** Tasks that may run now. */
  readonly value: number;
  /** A task finished (successfully or not). */
  completed(): void;
  /** S3 throttled a request (it is retried after a pause). */
  throttled(): void;
}

export interface AdaptiveOptions {
  initial?: number;
  min?: number;
  max: number;
  now?: () => number;
  /** Tasks known to be left and not started (Infinity while unknown, e.g. the listing goes on). */
  remaining?: () => number;
}

/** Requests each socket a doubling opens must have left to serve for slow start to double. */
export const REQUESTS_PER_NEW_SOCKET = 4;

/** A generation must beat the previous one's throughput by this factor to grow again. */
const GROWTH = 1.2;

export class AdaptiveConcurrency implements ConcurrencyLimit {
  private limit: number;
  private readonly min: number;
  private readonly max: number;
  private readonly now: () => number;
  private readonly remaining: () => number;
  private phase: 'slow-start' | 'hold' | 'recover' = 'slow-start';
  private generationStart: number;
  private generationDone = 0;
  private previousRate = 0;
  /** Throttles this generation (the limit is cut once per generation). */
  private cut = false;
  /** The highest limit reached, and the number of throttles seen (for --debug). */
  peak: number;
  throttles = 0;

  constructor(opts: AdaptiveOptions) {
    this.min = Math.max(1, opts.min ?? 1);
    this.max = Math.max(this.min, opts.max);
    this.limit = Math.min(this.max, Math.max(this.min, opts.initial ?? 64));
    this.peak = this.limit;
    this.now = opts.now ?? (() => performance.now());
    this.remaining = opts.remaining ?? (() => Infinity);
    this.generationStart = this.now();
  }

  get value(): number {
    return this.limit;
  }

  completed(): void {
    this.generationDone += 1;
    if (this.generationDone < this.limit) return;
    const t = this.now();
    const rate = this.generationDone / Math.max(1, t - this.generationStart);
    if (!this.cut) {
      if (this.phase === 'slow-start') {
        const next = Math.min(this.max, this.limit * 2);
        if (rate >= this.previousRate * GROWTH && next > this.limit && this.remaining() >= next * REQUESTS_PER_NEW_SOCKET) this.limit = next;
        else this.phase = 'hold';
      } else if (this.phase === 'recover') {
        this.limit = Math.min(this.max, this.limit + Math.max(1, Math.floor(this.limit / 8)));
      }
    }
    this.peak = Math.max(this.peak, this.limit);
    this.previousRate = rate;
    this.generationStart = t;
    this.generationDone = 0;
    this.cut = false;
  }

  throttled(): void {
    this.throttles += 1;
    if (this.cut) return;
    this.cut = true;
    this.phase = 'recover';
    this.limit = Math.max(this.min, Math.floor(this.limit / 2));
    this.generationStart = this.now();
    this.generationDone = 0;
  }
}

/** A limit that does not move (`--concurrency N`). */
export function fixedConcurrency(n: number): ConcurrencyLimit {
  return { value: n, completed() {}, throttled() {} };
}
