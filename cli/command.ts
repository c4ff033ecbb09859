/**
 * One CLI command: its name, a one-line summary, usage, and `run`, which gets the arguments after the
 * command name and the process's streams and environment, and returns the exit code (0 ok, 1 the check
 * failed, 2 usage or configuration error). Commands write their result to stdout and progress and errors
 * to stderr, so stdout can be piped.
 */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  run(args: readonly string[], io: CliIo): Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
