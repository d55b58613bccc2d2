import { afterEach, describe, expect, it } from 'vitest';
import { forgetSecrets, maskUrl, redact, redactValue, registerSecret } from '../../src/lib/secrets.js';

afterEach(() => forgetSecrets());

describe('redact', () => {
  const cases: [string, string, string][] = [
    ['drain token in a query', 'https://abc.lambda-url.us-east-1.on.aws/?token=s3cr3t-T0ken&app=raxx-api-prod', 'https://abc.lambda-url.us-east-1.on.aws/?token=****&app=raxx-api-prod'],
    ['Heroku drain token', 'drain d.0b5e8e4c-9a7f-4c55-b8f0-36d8bd7a5c1e added', 'drain d.**** added'],
    ['database password', 'postgres://raptor_app:hunter2@db.example:5432/raxx', 'postgres://raptor_app:****@db.example:5432/raxx'],
    ['pre-signed URL', 'https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2Fx&X-Amz-Signature=abcdef0123', 'https://b.s3.amazonaws.com/k?X-Amz-Credential=****&X-Amz-Signature=****'],
    ['bearer header', 'Authorization: Bearer 7f3c9a1e-aaaa-bbbb-cccc-1234567890ab', 'Authorization: Bearer ****'],
    ['env assignment', 'DRAIN_TOKEN=abc123def456 BUCKET_NAME=raxx', 'DRAIN_TOKEN=**** BUCKET_NAME=raxx'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => expect(redact(input)).toBe(expected));
  }

  it('masks registered secrets wherever they appear', () => {
    registerSecret('plain-value-with-no-pattern');
    expect(redact('got plain-value-with-no-pattern from SSM')).toBe('got **** from SSM');
  });

  it('leaves ordinary text alone', () => {
    const text = 'raxx-api-prod: 2,000 objects, 14 MB, last 3 min ago';
    expect(redact(text)).toBe(text);
  });

  it('redacts inside JSON values', () => {
    expect(redactValue({ url: 'https://x.test/?token=abc&app=a' })).toEqual({ url: 'https://x.test/?token=****&app=a' });
  });
});

describe('maskUrl', () => {
  it('masks a key carried in the path of a third-party drain, not ordinary segments', () => {
    expect(maskUrl('https://logs-01.loggly.com/bulk/1f3a5c7e-9b2d-4f60-8a1c-3e5d7f9b1a2c/tag/heroku/')).toBe('https://logs-01.loggly.com/bulk/****/tag/heroku/');
    expect(maskUrl('https://http-intake.logs.datadoghq.com/v1/input/abcdef0123456789abcdef0123456789?ddsource=heroku')).toBe('https://http-intake.logs.datadoghq.com/v1/input/****?ddsource=****');
    expect(maskUrl('https://abc.lambda-url.us-east-1.on.aws/drain/raxx-api-prod-logs?app=raxx-api-prod')).toBe('https://abc.lambda-url.us-east-1.on.aws/drain/raxx-api-prod-logs?app=raxx-api-prod');
  });

  it('masks every query value but app, and the password', () => {
    expect(maskUrl('https://u:p4ss@x.test/drain?token=abc&app=raxx-api-prod&sig=1')).toBe('https://u:****@x.test/drain?token=****&app=raxx-api-prod&sig=****');
  });
});
