// The Lambda Function URL request (payload format 2.0) as far as the receiver reads it, and
// its response. Only the fields used are validated; the rest of the event is ignored.
// zod/mini: the same validation as zod, a tenth of the Lambda bundle and its cold start.
import * as z from 'zod/mini';

const eventSchema = z.object({
  version: z.literal('2.0'),
  rawPath: z._default(z.string(), '/'),
  rawQueryString: z._default(z.string(), ''),
  // Function URLs send header names in lower case; lower-cased again for hand-made events.
  headers: z.pipe(
    z._default(z.record(z.string(), z.string()), {}),
    z.transform((h: Record<string, string>) => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
      return out;
    }),
  ),
  queryStringParameters: z.optional(z.record(z.string(), z.string())),
  requestContext: z.object({
    requestId: z.optional(z.string()),
    http: z.object({ method: z.string().check(z.minLength(1)) }),
  }),
  body: z.optional(z.string()),
  isBase64Encoded: z._default(z.boolean(), false),
});

export type FunctionUrlEvent = z.output<typeof eventSchema>;

export interface FunctionUrlResult {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}

export function parseEvent(raw: unknown): FunctionUrlEvent | undefined {
  const res = eventSchema.safeParse(raw);
  return res.success ? res.data : undefined;
}

/**
 * A query parameter: Lambda's decoded map when present, else the raw query string.
 * Repeated parameters come comma-joined from Lambda, so a repeated `token` never matches.
 */
export function queryParam(event: FunctionUrlEvent, name: string): string | undefined {
  const fromMap = event.queryStringParameters?.[name];
  if (fromMap !== undefined) return fromMap;
  if (event.rawQueryString === '') return undefined;
  return new URLSearchParams(event.rawQueryString).get(name) ?? undefined;
}

export function header(event: FunctionUrlEvent, name: string): string | undefined {
  return event.headers[name];
}

/** The request body as bytes: Function URLs base64 any non-text content type, Logplex's included. */
export function bodyBytes(event: FunctionUrlEvent): Buffer {
  if (event.body === undefined || event.body === '') return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}
