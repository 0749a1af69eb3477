/**
 * Builds the MDM port `MDM_KIND` names. Each kind validates its own settings here, at start-up, with a
 * clear message; a capability the chosen MDM lacks is refused at start, never faked.
 */
import type { Config } from '../config/env';
import { createHttpMdm } from './httpAdapter';
import { readNanoMdmSettings } from './nanomdm/settings';
import { startNanoMdm } from './nanomdm/setup';
import { createIntuneSetup } from './intune/setup';
import type { MdmPort } from './port';

export interface MdmPortSetup {
  port: MdmPort;
  /** One line for the start-up log: which MDM, where. */
  describe: string;
  /** Stops what the adapter runs beside the port (e.g. a webhook listener). */
  close?: () => Promise<void>;
}

export class MdmSettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid MDM configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'MdmSettingsError';
  }
}

export async function createMdmPort(config: Config, _env: NodeJS.ProcessEnv = process.env): Promise<MdmPortSetup> {
  switch (config.MDM_KIND) {
    case 'emulator':
      return {
        port: createHttpMdm({
          baseUrl: config.MDM_BASE_URL,
          apiKey: config.MDM_API_KEY,
          timeoutMs: config.MDM_TIMEOUT_MS,
          maxAttempts: config.MDM_MAX_ATTEMPTS,
        }),
        describe: `the MDM emulator at ${config.MDM_BASE_URL}`,
      };
    case 'intune':
      return createIntuneSetup(config, _env);
    case 'nanomdm': {
      const { settings, problems } = readNanoMdmSettings(_env);
      if (!settings) throw new MdmSettingsError(problems);
      const nano = await startNanoMdm(settings, { url: config.DATABASE_URL });
      return {
        port: nano.port,
        describe: `NanoMDM at ${settings.url} (webhook listener ${nano.webhookUrl})`,
        close: nano.close,
      };
    }
  }
}
