import { userInfo } from 'node:os';
import { createSealServices, loadSealConfig, type BuiltServices, type SealConfig } from '../queue/config.js';
import { ConfigError } from '../queue/errors.js';
import { createLogger } from '../queue/logger.js';
import { EXIT_USAGE, type CliIo } from './command.js';

/**
 * The pipeline's services as a records-staff command uses them: the same configuration file as the
 * pipeline service (--config, else $CHAPERONE_SEAL_CONFIG), its log lines (errors only) on stderr. A refused
 * configuration is reported with the field and the command exits with EXIT_USAGE.
 */
export async function openCliSealServices(io: CliIo, command: string, configPath: string | undefined): Promise<{ config: SealConfig; built: BuiltServices } | number> {
  try {
    const config = await loadSealConfig(configPath ? { ...io.env, CHAPERONE_SEAL_CONFIG: configPath } : io.env);
    const built = await createSealServices(config, { logger: createLogger({ level: 'error', destination: { write: (line: string) => void io.stderr.write(line) } }) });
    return { config, built };
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(`chaperone ${command}: configuration refused — ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}

/** Who ran the command, as the audit log records it: the operating-system user, printable ASCII only. */
export function cliActor(): { role: string; id: string } {
  return { role: 'operator', id: `cli-${userInfo().username}`.replace(/[^\x21-\x7e]/g, '_').slice(0, 128) };
}
