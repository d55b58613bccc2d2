// Types of latency-proxy.mjs, for the tests that put it in front of moto.
export interface LatencyProxy {
  url: string;
  stats: { requests: number; forwarded: number; cacheHits: number };
  readonly cached: number;
  setDelay(ms: number): void;
  close(): Promise<void>;
}

export function startLatencyProxy(opts?: { target?: string; delayMs?: number; cache?: boolean; port?: number }): Promise<LatencyProxy>;
