// Runs once before the test files: finding moto costs about a second of CPU (python starts and
// imports moto), and every test file that needs it would otherwise pay that in its own worker.
import { findMoto, MOTO_COMMAND_ENV } from './moto-command.js';

export default function setup(): void {
  process.env[MOTO_COMMAND_ENV] = JSON.stringify(findMoto() ?? null);
}
