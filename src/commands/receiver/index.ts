import type { Register } from '../registry.js';
import { examples } from '../registry.js';

export const register: Register = (program, action) => {
  const receiver = program.command('receiver').description('the log drain receiver (the Lambda that writes Heroku\'s drain to S3)');

  receiver
    .command('serve')
    .description('run the receiver\'s handler on loopback, as the Function URL would, until Ctrl-C; one JSON log line per request on stdout')
    .option('--port <port>', 'port to listen on (0: any free port)', '8080')
    .option('--host <host>', 'address to listen on; the drain token is the only guard, so keep it on loopback', '127.0.0.1')
    .option('--from-lambda [name]', 'take the environment from the deployed function\'s configuration (default: drain.functionName) and follow its changes, as a token rotation would')
    .option('--poll <ms>', 'with --from-lambda, how often to re-read the function\'s configuration', '250')
    .addHelpText(
      'after',
      `
Without --from-lambda the receiver reads the variables the Lambda reads: DRAIN_TOKEN (required),
DRAIN_TOKEN_PREVIOUS, BUCKET_NAME (default: drain.bucket), KEY_PREFIX (default: drain.keyPrefix),
ALLOWED_APPS. Objects go to S3 through the usual AWS settings (--region, --profile,
AWS_ENDPOINT_URL_S3).
` +
        examples(
          ['DRAIN_TOKEN=dev-token raxx-ops receiver serve --port 8080', 'the handler on http://127.0.0.1:8080/'],
          ['raxx-ops receiver serve --from-lambda --env staging', 'mirror the staging function, following its token changes'],
          ["curl -H 'Authorization: Bearer dev-token' --data-binary @batch.txt http://127.0.0.1:8080/?app=raxx-api-prod", 'post a batch'],
        ),
    )
    .action(action(() => import('./serve.js')));
};
