import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { EXIT_USAGE, type CliCommand, type CliIo } from './command.js';
import { auditCommand } from './audit.js';
import { deleteCommand } from './delete.js';
import { exportCommand } from './export.js';
import { holdPlaceCommand, holdReleaseCommand } from './hold.js';
import { listCommand } from './list.js';
import { resealCommand } from './reseal.js';
import { verifyCommand } from './verify.js';

/**
 * `chaperone <command> [args]`: a small dispatcher, one file per command (cli/<command>.ts). Add a command
 * by adding it to COMMANDS.
 */
export const COMMANDS: readonly CliCommand[] = [
  listCommand,
  verifyCommand,
  resealCommand,
  exportCommand,
  holdPlaceCommand,
  holdReleaseCommand,
  deleteCommand,
  auditCommand,
];

function usage(io: CliIo): void {
  io.stderr.write(`usage: chaperone <command> [arguments]\n\ncommands:\n${COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}\n    ${c.usage}`).join('\n')}\n`);
}

export async function runChaperone(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    usage(io);
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`chaperone: unknown command "${name}"\n`);
    usage(io);
    return EXIT_USAGE;
  }
  return command.run(args, io);
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isMain()) {
  const code = await runChaperone(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  process.exitCode = code;
}
