// Types of support.mjs, for the tests that share its pieces.
export const root: string;
export function option(name: string, dflt?: string, args?: string[]): string | undefined;
export function watchPeakRss(pid: number, everyMs: number): { stop(): number };
export function withBenchMoto<T>(prefix: string, config: unknown, fn: (rig: { env: Record<string, string | undefined>; moto: { endpoint: string; env: Record<string, string> } }) => Promise<T>): Promise<T>;
export function rng(seed: number): () => number;
export class Sha256 {
  constructor(secret?: string | Uint8Array);
  update(data: string | Uint8Array): void;
  digest(): Promise<Uint8Array>;
}
