// Every command group, in the order `raxx-ops --help` lists them, then the commands that stand
// alone (`raxx-ops doctor`). A group names its commands and how to load each; a command file
// holds its whole definition (define.ts). Only the commands named on the command line are loaded.
import type { CommandDefinition } from './define.js';

export type Loader = () => Promise<{ default: CommandDefinition }>;

export interface GroupSpec {
  name: string;
  description: string;
  examples: [command: string, what: string][];
  commands: Record<string, Loader>;
}

/** A command without a group: its one-line summary lists it without loading its file. */
export interface TopCommandSpec {
  name: string;
  summary: string;
  load: Loader;
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
    description: 'the drain bucket: search, fetch and check the log objects the receiver wrote; ship log files',
    examples: [
      ["raxx-ops logs grep 'status=5' --app raxx-api-prod --since 2h", '5xx router lines of the last two hours'],
      ['raxx-ops logs status', 'objects, gaps and health per app and day'],
      ['raxx-ops logs ship auth /var/log/auth/auth-2025-06-01.log', "a day's log file, verified in S3"],
    ],
    commands: {
      grep: () => import('./logs/grep.js'),
      fetch: () => import('./logs/fetch.js'),
      tail: () => import('./logs/tail.js'),
      status: () => import('./logs/status.js'),
      ship: () => import('./logs/ship.js'),
      report: () => import('./logs/report.js'),
      dashboard: () => import('./logs/dashboard.js'),
      sources: () => import('./logs/sources.js'),
      compact: () => import('./logs/compact.js'),
      query: () => import('./logs/query.js'),
      'athena-setup': () => import('./logs/athena-setup.js'),
    },
  },
  {
    name: 'attachments',
    description: 'the support attachments bucket and its KMS key: restore deleted files, download URLs, key status and the incident steps',
    examples: [
      ['raxx-ops attachments restore --customer C --ticket T --dry-run', 'which deleted files of a ticket would come back'],
      ['raxx-ops attachments kms-status', 'the key: state, rotation, pending deletion'],
      ['raxx-ops attachments lockdown', 'exfiltration step 1: disable the key'],
    ],
    commands: {
      restore: () => import('./attachments/restore.js'),
      url: () => import('./attachments/url.js'),
      'kms-status': () => import('./attachments/kms-status.js'),
      lockdown: () => import('./attachments/lockdown.js'),
      unlock: () => import('./attachments/unlock.js'),
      'rotate-access-key': () => import('./attachments/rotate-access-key.js'),
      'kms-retire': () => import('./attachments/kms-retire.js'),
    },
  },
  {
    name: 'audit',
    description: 'the Postgres DML audit trail: an end-to-end smoke test, and the role settings it needs',
    examples: [
      ['raxx-ops --env staging audit smoke', 'roles, triggers, grants, a tracer INSERT and the tracer in S3'],
      ['raxx-ops audit fix-roles --dry-run', "which roles lack log_statement='mod'"],
    ],
    commands: {
      smoke: () => import('./audit/smoke.js'),
      'fix-roles': () => import('./audit/fix-roles.js'),
    },
  },
  {
    name: 'receiver',
    description: "the log drain receiver (the Lambda that writes Heroku's drain to S3)",
    examples: [['DRAIN_TOKEN=dev-token raxx-ops receiver serve --port 8080', 'the handler on loopback']],
    commands: { serve: () => import('./receiver/serve.js') },
  },
];

export const topCommands: TopCommandSpec[] = [
  {
    name: 'doctor',
    summary: "every runbook's diagnosis in one run: names the failure mode and the fix",
    load: () => import('./doctor.js'),
  },
  {
    name: 'completion',
    summary: 'print a shell completion script (bash or zsh) for groups, commands and flags',
    load: () => import('./completion.js'),
  },
];
