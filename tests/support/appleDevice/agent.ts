/**
 * A simulated Apple device: speaks the MDM protocol to a real NanoMDM the way iOS does, in plists over
 * HTTP. Check-ins (Authenticate, TokenUpdate, CheckOut) go to the check-in endpoint; the command loop
 * reports Idle, receives a command, answers it and receives the next until the queue is empty. It keeps
 * its own serial number and profile list and answers EraseDevice, RemoveProfile, ProfileList,
 * DeviceInformation and InstallProfile with Acknowledged, Error or NotNow as configured per request type.
 * Its identity is a certificate issued by the test's CA, sent in NanoMDM's certificate header.
 */
import { randomBytes } from 'node:crypto';
import * as plist from 'plist';
import { CERT_HEADER } from '../nanomdmServer';
import type { DeviceIdentity } from './certificates';

export type DeviceAnswer = 'Acknowledged' | 'Error' | 'NotNow';

export interface DeviceProfile {
  identifier: string;
  displayName: string;
  payloadTypes: string[];
}

export const ENROLMENT_PROFILE: DeviceProfile = {
  identifier: 'com.example.mdm.enrollment',
  displayName: 'Company MDM Enrollment',
  payloadTypes: ['com.apple.mdm'],
};

export interface AppleDeviceOptions {
  mdmUrl: string;
  identity: DeviceIdentity;
  serialNumber: string;
  /** The device's UDID (its NanoMDM enrollment id); a device enrolling again after an erase keeps it. */
  udid?: string;
  model?: string;
  /** Configuration profiles installed at enrolment besides the enrolment profile. */
  profiles?: DeviceProfile[];
  /** Answers per request type, used in turn; the last one repeats. Default: Acknowledged. */
  answers?: Partial<Record<string, DeviceAnswer[]>>;
}

export interface HandledCommand {
  commandUuid: string;
  requestType: string;
  answer: DeviceAnswer;
}

const TOPIC = 'com.apple.mgmt.External.device-lifecycle-test';

export class SimulatedAppleDevice {
  readonly udid: string;
  readonly serialNumber: string;
  readonly model: string;
  profiles: DeviceProfile[];
  erased = false;
  checkedOut = false;
  readonly handled: HandledCommand[] = [];
  private answers: Partial<Record<string, DeviceAnswer[]>>;
  private loop?: { stop: boolean; done: Promise<void> };

  constructor(private readonly options: AppleDeviceOptions) {
    this.serialNumber = options.serialNumber;
    this.udid = options.udid ?? randomBytes(20).toString('hex');
    this.model = options.model ?? 'iPhone15,2';
    this.profiles = [ENROLMENT_PROFILE, ...(options.profiles ?? [])];
    this.answers = { ...options.answers };
  }

  /** Sets how the device answers a request type from now on (in turn; the last repeats). */
  answer(requestType: string, ...answers: DeviceAnswer[]): void {
    this.answers[requestType] = answers;
  }

  /** Enrolment: Authenticate then TokenUpdate, as after installing the enrolment profile. */
  async enrol(): Promise<void> {
    await this.checkin({
      MessageType: 'Authenticate',
      Topic: TOPIC,
      UDID: this.udid,
      SerialNumber: this.serialNumber,
      Model: this.model,
      ProductName: this.model,
      DeviceName: `Test ${this.serialNumber}`,
      OSVersion: '17.5',
    });
    await this.checkin({
      MessageType: 'TokenUpdate',
      Topic: TOPIC,
      UDID: this.udid,
      Token: randomBytes(32),
      PushMagic: randomBytes(8).toString('hex'),
    });
  }

  /** CheckOut: what iOS sends when its enrolment profile is removed (CheckOutWhenRemoved). */
  async checkOut(): Promise<void> {
    await this.checkin({ MessageType: 'CheckOut', Topic: TOPIC, UDID: this.udid });
    this.checkedOut = true;
  }

  /** One connection: Idle, then answer every command NanoMDM hands out until it has none. */
  async poll(): Promise<HandledCommand[]> {
    const handled: HandledCommand[] = [];
    if (this.erased || this.checkedOut) return handled;
    let command = await this.report({ UDID: this.udid, Status: 'Idle' });
    while (command) {
      const result = this.handle(command);
      handled.push(result.handled);
      this.handled.push(result.handled);
      command = await this.report({ UDID: this.udid, CommandUUID: result.handled.commandUuid, ...result.report });
      if (result.after) {
        await result.after();
        break;
      }
    }
    return handled;
  }

  /** Polls in the background (as a device woken by pushes would connect), every `intervalMs`. */
  start(intervalMs = 100): void {
    const loop = { stop: false, done: Promise.resolve() };
    loop.done = (async () => {
      while (!loop.stop) {
        await this.poll().catch(() => undefined);
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
    this.loop = loop;
  }

  async stop(): Promise<void> {
    if (!this.loop) return;
    this.loop.stop = true;
    await this.loop.done;
    this.loop = undefined;
  }

  private nextAnswer(requestType: string): DeviceAnswer {
    const list = this.answers[requestType];
    if (!list || list.length === 0) return 'Acknowledged';
    return list.length > 1 ? list.shift()! : list[0]!;
  }

  private handle(raw: Record<string, unknown>): {
    handled: HandledCommand;
    report: Record<string, unknown>;
    after?: () => Promise<void>;
  } {
    const commandUuid = String(raw.CommandUUID);
    const command = (raw.Command ?? {}) as Record<string, unknown>;
    const requestType = String(command.RequestType);
    const answer = this.nextAnswer(requestType);
    const handled = { commandUuid, requestType, answer };
    if (answer === 'NotNow') return { handled, report: { Status: 'NotNow' } };
    if (answer === 'Error') return { handled, report: { Status: 'Error', ErrorChain: errorChain(requestType) } };
    switch (requestType) {
      case 'ProfileList':
        return { handled, report: { Status: 'Acknowledged', ProfileList: this.profiles.map(profileListItem) } };
      case 'DeviceInformation':
        return {
          handled,
          report: {
            Status: 'Acknowledged',
            QueryResponses: {
              SerialNumber: this.serialNumber,
              Model: this.model,
              ProductName: this.model,
              DeviceName: `Test ${this.serialNumber}`,
              UDID: this.udid,
            },
          },
        };
      case 'InstallProfile':
        this.install(command.Payload);
        return { handled, report: { Status: 'Acknowledged' } };
      case 'RemoveProfile':
        return this.remove(handled, String(command.Identifier));
      case 'EraseDevice':
        // Acknowledged first; then the device erases itself and never speaks to this enrolment again.
        return { handled, report: { Status: 'Acknowledged' }, after: async () => this.erase() };
      default:
        return {
          handled: { ...handled, answer: 'Error' },
          report: { Status: 'Error', ErrorChain: errorChain(requestType) },
        };
    }
  }

  private remove(handled: HandledCommand, identifier: string) {
    const profile = this.profiles.find((p) => p.identifier === identifier);
    if (!profile) {
      return {
        handled: { ...handled, answer: 'Error' as const },
        report: { Status: 'Error', ErrorChain: errorChain('RemoveProfile', 'The profile is not installed.') },
      };
    }
    if (profile.payloadTypes.includes('com.apple.mdm')) {
      // Removing the enrolment profile removes every profile MDM installed, then the device checks out.
      return {
        handled,
        report: { Status: 'Acknowledged' },
        after: async () => {
          this.profiles = [];
          await this.checkOut();
        },
      };
    }
    this.profiles = this.profiles.filter((p) => p !== profile);
    return { handled, report: { Status: 'Acknowledged' } };
  }

  private install(payload: unknown): void {
    const text = Buffer.from(payload as Uint8Array).toString('utf8');
    const p = plist.parse(text) as {
      PayloadIdentifier: string;
      PayloadDisplayName?: string;
      PayloadContent?: Array<{ PayloadType: string }>;
    };
    this.profiles = this.profiles.filter((x) => x.identifier !== p.PayloadIdentifier);
    this.profiles.push({
      identifier: p.PayloadIdentifier,
      displayName: p.PayloadDisplayName ?? p.PayloadIdentifier,
      payloadTypes: (p.PayloadContent ?? []).map((c) => c.PayloadType),
    });
  }

  private erase(): void {
    this.erased = true;
    this.profiles = [];
  }

  private async checkin(message: Record<string, unknown>): Promise<void> {
    const r = await this.put('application/x-apple-aspen-mdm-checkin', message);
    if (!r.ok) throw new Error(`${String(message.MessageType)} refused by NanoMDM: HTTP ${r.status} ${await r.text()}`);
  }

  /** Sends a command report; returns the next command NanoMDM hands out, if any. */
  private async report(message: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    const r = await this.put('application/x-apple-aspen-mdm', message);
    const text = await r.text();
    if (!r.ok) throw new Error(`command report refused by NanoMDM: HTTP ${r.status} ${text}`);
    return text.trim() ? (plist.parse(text) as Record<string, unknown>) : undefined;
  }

  private put(contentType: string, message: Record<string, unknown>): Promise<Response> {
    return fetch(this.options.mdmUrl, {
      method: 'PUT',
      headers: { 'Content-Type': contentType, [CERT_HEADER]: this.options.identity.rfc9440 },
      body: plist.build(message as plist.PlistValue),
    });
  }
}

function profileListItem(p: DeviceProfile) {
  return {
    PayloadIdentifier: p.identifier,
    PayloadDisplayName: p.displayName,
    PayloadUUID: p.identifier,
    PayloadVersion: 1,
    PayloadRemovalDisallowed: false,
    IsManaged: true,
    PayloadContent: p.payloadTypes.map((t, i) => ({
      PayloadType: t,
      PayloadIdentifier: `${p.identifier}.${i}`,
      PayloadVersion: 1,
    })),
  };
}

/** An error chain as iOS reports one (ErrorChain: domain, code, descriptions). */
function errorChain(requestType: string, description = `The device refused ${requestType}.`) {
  return [
    {
      ErrorCode: 4001,
      ErrorDomain: 'MCMDMErrorDomain',
      LocalizedDescription: description,
      USEnglishDescription: description,
    },
  ];
}
