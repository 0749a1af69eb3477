/**
 * Runs the MDM emulator as a process: `npm run mdm-emulator`.
 * Env: MDM_EMULATOR_PORT (4010), MDM_EMULATOR_HOST (127.0.0.1), MDM_API_KEY (local-mdm-key),
 * MDM_EMULATOR_DATA_DIR (.data/mdm), MDM_EMULATOR_JOB_STEP_MS (200).
 */
import { z } from 'zod';
import { createMdmEmulator, defaultJobStepMs } from './server';

const env = z
  .object({
    MDM_EMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(4010),
    MDM_EMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
    MDM_API_KEY: z.string().min(1).default('local-mdm-key'),
    MDM_EMULATOR_DATA_DIR: z.string().min(1).default('.data/mdm'),
    MDM_EMULATOR_JOB_STEP_MS: z.coerce.number().int().min(0).default(defaultJobStepMs),
  })
  .parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v)));

const emulator = createMdmEmulator({
  apiKey: env.MDM_API_KEY,
  dataDir: env.MDM_EMULATOR_DATA_DIR,
  jobStepMs: env.MDM_EMULATOR_JOB_STEP_MS,
});
const running = await emulator.listen(env.MDM_EMULATOR_PORT, env.MDM_EMULATOR_HOST);
console.log(`MDM emulator listening on ${running.url} (state: ${env.MDM_EMULATOR_DATA_DIR}/state.json)`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
