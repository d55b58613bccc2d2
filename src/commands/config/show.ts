// `raxx-ops config show`: answers "which bucket / apps / function / SSM names will this run use?"
import { ssmNames } from '../../lib/core/config.js';
import { table } from '../../lib/core/table.js';
import { createCommand } from '../define.js';

export default createCommand({
  description: 'print the resolved configuration: which bucket, apps, function and SSM names this run would use',
  examples: [
    ['raxx-ops config show', 'the built-in production values'],
    ['raxx-ops --env staging config show --json', 'staging, as JSON'],
    ['raxx-ops --config ./raxx-ops.json config show', 'with a file overriding the defaults'],
  ],
  handler(_args, ctx) {
    const { config, out } = ctx;
    const { sources, resources: _resources, ...settings } = config;
    const ssm = ssmNames(config);
    if (out.json) {
      out.data({ ...settings, ssm, sources });
      return;
    }
    const c = out.color;
    const rows: [string, string][] = [
      ['environment', config.env],
      ['region', config.region],
      ['apps', config.apps.map(c.app).join(', ')],
      ['drain bucket', `${config.drain.bucket} (keys under ${config.drain.keyPrefix || '/'})`],
      ['receiver function', config.drain.functionName],
      ['receiver log group', config.drain.logGroup],
      ['SSM parameters', Object.values(ssm).join(', ')],
      ['audit roles', config.audit.roles.join(', ')],
      ['audit triggers', config.audit.triggers.join(', ')],
      ['attachments bucket', config.attachments.bucket],
      ['attachments KMS key', config.attachments.kmsAlias],
      ['health thresholds', `warning after ${config.health.warnSilentMinutes} min silent, critical after ${config.health.criticalSilentMinutes} min; retention floor ${config.health.retentionFloorDays} days`],
      [
        'log sources (ship)',
        config.logSources.length === 0
          ? 'none declared (any name ships with the defaults)'
          : config.logSources.map((s) => `${s.name}${s.required ? ' (required)' : ''}: ${s.layout}, ${s.bucket ?? config.drain.bucket}, ${s.retentionDays} days`).join('; '),
      ],
      ['sources', sources.join(' < ')],
    ];
    for (const line of table(rows.map(([k, v]) => [c.dim(k), v]))) out.line(line);
  },
});
