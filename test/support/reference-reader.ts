// A reference reader for the drain bucket, written as plainly as possible and sharing no code
// with the CLI's read path: list the day prefix with the SDK, GET each object, gunzip it, take
// the lines as Heroku shows them (without the octet count), select with RE2JS. What counts as
// readable is defined by brute force: the text of the longest prefix of the object that
// `gunzip` accepts whole (every member's checksum verified), nothing of a member that fails.
import { gunzipSync } from 'node:zlib';
import { RE2JS } from 're2js';
import type { AwsClients } from '../../src/lib/aws/clients.js';

export interface ReferenceObject {
  key: string;
  /** The verified lines, as stored. */
  lines: string[];
  /** Whether anything of the object could not be verified (or it held no line). */
  damaged: boolean;
}

/** The text of the longest prefix that gunzips whole, and whether that was the whole object. */
export function referenceGunzip(body: Buffer): { text: string; whole: boolean } {
  for (let n = body.length; n > 0; n--) {
    try {
      return { text: gunzipSync(body.subarray(0, n)).toString('utf8'), whole: n === body.length };
    } catch {
      // shorter
    }
  }
  return { text: '', whole: body.length === 0 };
}

export async function referenceRead(aws: AwsClients, bucket: string, prefix: string): Promise<ReferenceObject[]> {
  const { GetObjectCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const s3 = await aws.s3();
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  keys.sort();
  const out: ReferenceObject[] = [];
  for (const key of keys) {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const body = Buffer.from(await res.Body!.transformToByteArray());
    const { text, whole } = referenceGunzip(body);
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    out.push({ key, lines, damaged: !whole || lines.length === 0 });
  }
  return out;
}

/** A stored line as Heroku shows it: the octet count in front of `<PRI>` dropped. */
export function shown(line: string): string {
  const m = /^(\d{1,8}) </.exec(line);
  return m ? line.slice(m[1]!.length + 1) : line;
}

/** What `grep PATTERN` prints over the objects (in key order, which is time order within a day). */
export function referenceGrep(objects: ReferenceObject[], pattern: string, opts: { ignoreCase?: boolean; fixed?: boolean } = {}): string[] {
  const re = RE2JS.compile(opts.fixed ? RE2JS.quote(pattern) : pattern, opts.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  return objects.flatMap((o) => o.lines.map(shown).filter((l) => re.test(l)));
}
