// Every command group, in the order `raxx-ops --help` lists them. A group names its commands
// and how to load each; a command file holds its whole definition (define.ts). Only the
// commands of the group named on the command line are loaded.
import type { CommandDefinition } from './define.js';

export type Loader = () => Promise<{ default: CommandDefinition }>;

export interface GroupSpec {
  name: string;
  description: string;
  examples: [command: string, what: string][];
  commands: Record<string, Loader>;
}

export const groups: GroupSpec[] = [
  {
    name: 'config',
    description: 'show the configuration raxx-ops resolves',
    examples: [['raxx-ops config show', 'the bucket, apps, function and SSM names a run would use']],
    commands: { show: () => import('./config/show.js') },
  },
  {
    name: 'drains',
    description: "the apps' Heroku log drains to the receiver: list, wire, remove, test, rotate the token",
    examples: [
      ['raxx-ops drains list', "every production app's drains"],
      ['raxx-ops drains wire --dry-run', 'what wiring would change'],
      ['raxx-ops drains test --app raxx-api-prod', 'a synthetic batch end to end'],
    ],
    commands: {
      list: () => import('./drains/list.js'),
      wire: () => import('./drains/wire.js'),
      remove: () => import('./drains/remove.js'),
      test: () => import('./drains/test.js'),
      rotate: () => import('./drains/rotate.js'),
    },
  },
  {
    name: 'logs',
    description: 'the drain bucket: search, fetch and check the log objects the receiver wrote',
    examples: [
      ["raxx-ops logs grep 'status=5' --app raxx-api-prod --since 2h", '5xx router lines of the last two hours'],
      ['raxx-ops logs status', 'objects, gaps and health per app and day'],
    ],
    commands: {
      grep: () => import('./logs/grep.js'),
      fetch: () => import('./logs/fetch.js'),
      status: () => import('./logs/status.js'),
      compact: () => import('./logs/compact.js'),
      query: () => import('./logs/query.js'),
      'athena-setup': () => import('./logs/athena-setup.js'),
    },
  },
  {
    name: 'receiver',
    description: "the log drain receiver (the Lambda that writes Heroku's drain to S3)",
    examples: [['DRAIN_TOKEN=dev-token raxx-ops receiver serve --port 8080', 'the handler on loopback']],
    commands: { serve: () => import('./receiver/serve.js') },
  },
];
