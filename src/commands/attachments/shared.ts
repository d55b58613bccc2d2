// What the attachments commands share: the id options and the key selection they validate.
import { z } from 'zod';
import { EXT_RE, UUID_RE } from '../../lib/attachments/attachments.js';
import { option, positional } from '../define.js';

export const uuid = (what: string) => z.string().regex(UUID_RE, `not a UUID (the ${what} id: 8-4-4-4-12 hex digits)`);

/** KEY as typed; the scheme is checked by parseAttachmentKey, which says which part is wrong. */
export const keyArg = (description: string) => positional(z.string({ error: 'an attachment key is required' }).min(1, 'an attachment key is required'), description);
export const optionalKeyArg = (description: string) => positional(z.string().min(1).optional(), description, { optional: true });

export const customer = option(uuid('customer').optional(), 'every attachment of this customer (a UUID)', { value: '<uuid>' });
export const ticket = option(uuid('ticket').optional(), 'only this ticket of --customer (a UUID)', { value: '<uuid>' });
/** A file id, with or without its extension. */
export const file = option(
  z.string().refine((v) => {
    const dot = v.lastIndexOf('.');
    return dot < 0 ? UUID_RE.test(v) : UUID_RE.test(v.slice(0, dot)) && EXT_RE.test(v.slice(dot + 1));
  }, 'not a file id (a UUID, optionally with its extension)').optional(),
  'only this file of --ticket (its UUID, with or without the extension)',
  { value: '<uuid>' },
);

/** ListObjectVersions page size; small values exercise paging (tests). */
export const pageSize = option(z.coerce.number().int().min(1).max(1000).optional(), 'versions per ListObjectVersions page (default: S3’s 1,000)', { value: '<n>', hidden: true });
