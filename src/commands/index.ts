// Every command group, in the order `raxx-ops --help` lists them. Group files only declare
// flags and help; each command's code loads when it runs.
import type { Register } from './registry.js';
import { register as config } from './config/index.js';
import { register as drains } from './drains/index.js';
import { register as logs } from './logs/index.js';
import { register as receiver } from './receiver/index.js';

export const groups: Register[] = [config, drains, logs, receiver];
