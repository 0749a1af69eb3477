/**
 * NanoMDM's HTTP API as v0.9.0 has it (docs/operations-guide.md, "Enqueue"): PUT a raw command plist to
 * /v1/enqueue/{enrollment id}, HTTP Basic `nanomdm:<api key>`. `?nopush=1`: no APNs push, since a server
 * without a push certificate cannot send one; devices (our simulated agents) poll on their own.
 */
import * as plist from 'plist';
import { MdmRejectedError, MdmUnavailableError } from '../errors';
import type { AppleCommand } from './appleCommands';

export interface NanoMdmApi {
  enqueue(enrollmentId: string, command: AppleCommand): Promise<void>;
}

export function createNanoMdmApi(options: { url: string; apiKey: string; timeoutMs: number }): NanoMdmApi {
  const auth = `Basic ${Buffer.from(`nanomdm:${options.apiKey}`).toString('base64')}`;
  return {
    async enqueue(enrollmentId, command) {
      const url = `${options.url}/v1/enqueue/${encodeURIComponent(enrollmentId)}?nopush=1`;
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'PUT',
          headers: { Authorization: auth, 'Content-Type': 'application/x-plist' },
          body: plist.build({ CommandUUID: command.commandUuid, Command: command.command } as plist.PlistValue),
          signal: AbortSignal.timeout(options.timeoutMs),
        });
      } catch (err) {
        const timeout = (err as Error).name === 'TimeoutError';
        throw new MdmUnavailableError(
          `NanoMDM at ${options.url} did not answer: ${(err as Error).message}`,
          timeout ? 'timeout' : 'network',
          undefined,
          { cause: err },
        );
      }
      const text = await response.text();
      if (response.ok) return;
      // A command UUID NanoMDM already holds: an earlier attempt of ours got through (UUIDs are derived
      // from the job and step, so it is this very command).
      if (/command already exists/i.test(text)) return;
      if (response.status >= 500 || response.status === 408) {
        throw new MdmUnavailableError(
          `NanoMDM answered ${response.status}: ${text.slice(0, 300)}`,
          'unavailable',
          response.status,
        );
      }
      throw new MdmRejectedError(response.status, undefined, `NanoMDM refused the enqueue: ${text.slice(0, 300)}`);
    },
  };
}
