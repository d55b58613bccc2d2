// The one table of AWS errors: a resource the configuration names and AWS lacks is exit 3 in
// every module; what the table does not name keeps awsError's mapping.
import { describe, expect, it } from 'vitest';
import { awsFailure } from '../../src/lib/aws/call.js';
import { ExitCode, InterruptedError, UserError } from '../../src/lib/core/errors.js';

const sdkError = (name: string, status: number, message = name) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
const bucket = { kind: 'bucket', name: 'raxx-no-such-bucket', setting: 'drain.bucket' };

describe('awsFailure', () => {
  it.each([
    ['NoSuchBucket with the bucket named', 'S3', sdkError('NoSuchBucket', 404), bucket, ExitCode.Config, /bucket raxx-no-such-bucket does not exist/, /drain\.bucket/],
    ['NoSuchBucket of a shipping source', 'S3', sdkError('NoSuchBucket', 404), { ...bucket, setting: 'the source\'s "bucket"' }, ExitCode.Config, /does not exist/, /source's "bucket"/],
    ['a KMS alias that does not exist', 'KMS', sdkError('NotFoundException', 400), { kind: 'KMS key', name: 'alias/x', setting: 'attachments.kmsAlias' }, ExitCode.Config, /KMS key alias\/x does not exist/, /attachments\.kmsAlias/],
    ['a Lambda function that does not exist', 'Lambda', sdkError('ResourceNotFoundException', 404), { kind: 'function', name: 'raxx-f' }, ExitCode.Config, /function raxx-f does not exist/, /function name/],
    ['an SSM parameter that does not exist', 'SSM', sdkError('ParameterNotFound', 400), { kind: 'SSM parameter', name: '/raxx/x' }, ExitCode.Config, /SSM parameter \/raxx\/x does not exist/, /SSM prefix/],
    ['NoSuchBucket with no resource given: awsError (a service failure)', 'S3', sdkError('NoSuchBucket', 404), undefined, ExitCode.Service, /S3 GetObject failed: NoSuchBucket/, /--debug/],
    ['the table is per service', 'SSM', sdkError('NoSuchBucket', 404), bucket, ExitCode.Service, /failed: NoSuchBucket/, /--debug/],
    ['access denied', 'S3', sdkError('AccessDenied', 403), bucket, ExitCode.Service, /AccessDenied/, /lacks permission/],
    ['expired credentials', 'S3', sdkError('ExpiredToken', 400), bucket, ExitCode.Config, /credentials are missing or expired/, /aws sso login/],
    ['throttled after retries', 'S3', sdkError('SlowDown', 503), bucket, ExitCode.Service, /SlowDown/, /throttling/],
    ['unreachable', 'S3', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), bucket, ExitCode.Service, /cannot reach S3 at http:\/\/127\.0\.0\.1:9/, /stand-in/],
  ])('%s', (_name, service, err, resource, exitCode, message, hint) => {
    const e = awsFailure(err, service, 'GetObject', { endpoint: 'http://127.0.0.1:9', resource });
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).exitCode).toBe(exitCode);
    expect(e.message).toMatch(message);
    expect((e as UserError).hint).toMatch(hint);
  });

  it('Ctrl-C is the interruption, not a failure of AWS', () => {
    expect(awsFailure(Object.assign(new Error('aborted'), { name: 'AbortError' }), 'S3', 'GetObject', { resource: bucket })).toBeInstanceOf(InterruptedError);
  });
});
