// Sizes as people read them, and what S3 charges to keep them.

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** us-east-1 list prices, USD per GB-month and per 1,000 PUTs (the runbooks' cost tables). */
export const GB_MONTH: Record<string, number> = {
  STANDARD: 0.023,
  INTELLIGENT_TIERING: 0.023,
  STANDARD_IA: 0.0125,
  ONEZONE_IA: 0.01,
  GLACIER_IR: 0.004,
  GLACIER: 0.0036,
  DEEP_ARCHIVE: 0.00099,
};

/** The monthly storage cost of bytes by storage class (Standard's price for a class not listed). */
export function monthlyUsd(bytesByClass: Record<string, number>): number {
  return Object.entries(bytesByClass).reduce((usd, [cls, bytes]) => usd + (bytes / 1e9) * (GB_MONTH[cls] ?? GB_MONTH.STANDARD!), 0);
}
