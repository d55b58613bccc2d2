import { afterEach, describe, expect, it } from 'vitest';
import { forgetSecrets, maskUrl, redact, redactJson, redactValue, registerSecret } from '../../src/lib/core/secrets.js';

afterEach(() => forgetSecrets());

describe('redact', () => {
  const cases: [string, string, string][] = [
    ['drain token in a query', 'https://abc.lambda-url.us-east-1.on.aws/?token=s3cr3t-T0ken&app=raxx-api-prod', 'https://abc.lambda-url.us-east-1.on.aws/?token=****&app=raxx-api-prod'],
    ['Heroku drain token', 'drain d.0b5e8e4c-9a7f-4c55-b8f0-36d8bd7a5c1e added', 'drain d.**** added'],
    ['database password', 'postgres://raptor_app:hunter2@db.example:5432/raxx', 'postgres://raptor_app:****@db.example:5432/raxx'],
    ['pre-signed URL', 'https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2Fx&X-Amz-Signature=abcdef0123', 'https://b.s3.amazonaws.com/k?X-Amz-Credential=****&X-Amz-Signature=****'],
    ['bearer header', 'Authorization: Bearer 7f3c9a1e-aaaa-bbbb-cccc-1234567890ab', 'Authorization: Bearer ****'],
    ['env assignment', 'DRAIN_TOKEN=abc123def456 BUCKET_NAME=raxx', 'DRAIN_TOKEN=**** BUCKET_NAME=raxx'],
    // JSON-, YAML- and environment-shaped secrets, and their siblings
    ['JSON env var', '{"DRAIN_TOKEN":"abc123def456","BUCKET_NAME":"raxx"}', '{"DRAIN_TOKEN":"****","BUCKET_NAME":"raxx"}'],
    ['JSON previous token', '{"DRAIN_TOKEN_PREVIOUS": "old-9f8e7d"}', '{"DRAIN_TOKEN_PREVIOUS": "****"}'],
    ['JSON password, short', '{"password": "x"}', '{"password": "****"}'],
    ['YAML password', 'password: x', 'password: ****'],
    ['YAML, indented', '  db_password:   "hunter 2"', '  db_password:   "****"'],
    ['AWS secret key in the environment', 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'AWS_SECRET_ACCESS_KEY=****'],
    ['IAM CreateAccessKey output', '{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG"}', '{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"****"}'],
    ['session token', '"SessionToken": "IQoJb3JpZ2luX2VjEHIaCXVz"', '"SessionToken": "****"'],
    ['camelCase', "{ drainToken: 'abc123', app: 'raxx-api-prod' }", "{ drainToken: '****', app: 'raxx-api-prod' }"],
    ['Python dict (audit lines)', "{'password': 'hunter2', 'event': 'x'}", "{'password': '****', 'event': 'x'}"],
    ['Heroku API key', 'HEROKU_API_KEY=7f3c9a1e-aaaa', 'HEROKU_API_KEY=****'],
    ['PGPASSWORD', 'PGPASSWORD="p w" psql', 'PGPASSWORD="****" psql'],
    ['libpq connection string', 'host=db user=raptor_app password=hunter2 dbname=raxx', 'host=db user=raptor_app password=**** dbname=raxx'],
    ['postgres URL', 'DATABASE_URL=postgres://owner:s3cr3t@db.example:5432/raxx', 'DATABASE_URL=postgres://owner:****@db.example:5432/raxx'],
    ['postgres URL, @ in the password', 'postgresql://raptor_app:p@ss@db.example/raxx', 'postgresql://raptor_app:****@db.example/raxx'],
    ['postgres URL in JSON', '{"url":"postgres://u:pw12345@h/db"}', '{"url":"postgres://u:****@h/db"}'],
    ['Authorization header, short token', 'Authorization: Bearer abc', 'Authorization: Bearer ****'],
    ['Authorization header, no scheme', 'authorization=d0e1f2', 'authorization=****'],
    ['Basic auth header', 'Authorization: Basic Omhlcm9rdS10b2tlbg==', 'Authorization: Basic ****'],
    ['header with a token name', 'X-Amz-Security-Token: FwoGZXIvYXdzE', 'X-Amz-Security-Token: ****'],
    ['API key', 'api_key=k-123\napiKey: k-456', 'api_key=****\napiKey: ****'],
    ['YAML list item', '- password: x', '- password: ****'],
    ['a step line: prose, not a key', 'step 1/8  generate a new token: planned', 'step 1/8  generate a new token: planned'],
    // what must stay readable
    ["the receiver's auth log line", 'drain auth failed: token_present=false', 'drain auth failed: token_present=false'],
    ['an SSM parameter path', '{"drainToken":"/raxx/log-drain/drain_token"}', '{"drainToken":"/raxx/log-drain/drain_token"}'],
    ['an already masked drain token', '{"token":"d.****"}', '{"token":"d.****"}'],
    ['prose about tokens', 'Heroku rejected the API token (Invalid credentials provided.)', 'Heroku rejected the API token (Invalid credentials provided.)'],
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

describe('redactJson', () => {
  it('masks a secret inside a string value, where serialising escapes its quotes', () => {
    const line = 'config {"DRAIN_TOKEN":"tok-123456","BUCKET_NAME":"raxx"}';
    expect((JSON.parse(redactJson({ line })) as { line: string }).line).toBe('config {"DRAIN_TOKEN":"****","BUCKET_NAME":"raxx"}');
  });

  it('masks a value by its key', () => {
    expect(JSON.parse(redactJson({ DRAIN_TOKEN: 'abc123', password: 'x', app: 'raxx-api-prod' }, 2))).toEqual({ DRAIN_TOKEN: '****', password: '****', app: 'raxx-api-prod' });
  });
});
