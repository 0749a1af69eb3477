/**
 * The bench's devices: asset numbers in a block nobody uses, assets created through the API (one by
 * one with POST /assets for the processes driven end to end, by CSV import for campaigns), and devices
 * enrolled in the MDM emulator where the process will reach the MDM. Every bench asset has the run's
 * own department, so visibility counts and inbox filters see only this run's processes.
 */
import { randomInt } from 'node:crypto';
import { createHttpMdm } from '../mdm/httpAdapter';
import type { MdmPort } from '../mdm/port';
import { expectStatus, type ApiClient } from './http';
import { mapLimited } from './lanes';

export interface BenchDevice {
  assetNumber: string;
  serialNumber: string;
  mdmDeviceId?: string;
}

/** A real 40x12 white PNG (the API checks that a drawn signature is a PNG image of bounded size). */
export const SMALL_SIGNATURE =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAACgAAAAMCAAAAAA1qKCRAAAAEklEQVR42mP4TyRgGFU41BUCAI+R3jBeVReTAAAAAElFTkSuQmCC';

/** A change-user's start body; the new user is given, as in the shape the raw baseline copies. */
export function changeUserBody() {
  return {
    reason: 'Benchmark: hand the device to a new user',
    plannedCollectionDate: daysAhead(7),
    storageLocation: 'Bench store',
    newUser: {
      department: 'Bench new owners',
      location: 'Bench desk',
      name: 'Bench New User',
      email: 'bench.new@example.com',
      phone: '+81 3 0000 0000',
    },
  };
}

/** A collection campaign's body (the new user is chosen later, as a campaign does). */
export function collectionBody(assetNumbers: string[]) {
  return {
    reason: 'Benchmark: collection campaign',
    plannedCollectionDate: daysAhead(7),
    storageLocation: 'Bench store',
    assetNumbers,
  };
}

/** The data of each report, the same for the API driver and the raw one. */
export function reportData(event: string, mdmDeviceId?: string): Record<string, unknown> {
  switch (event) {
    case 'device-collected':
      return { collectedBy: 'Bench Field', storageLocation: 'Bench shelf' };
    case 'device-reenrolled':
      return mdmDeviceId ? { mdmDeviceId } : {};
    case 'device-delivered':
      return { receivedBy: 'Bench New User', signature: SMALL_SIGNATURE };
    default:
      return {};
  }
}

function daysAhead(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

export const assetNumberOf = (n: number) => `A-${String(n).padStart(6, '0')}`;

export class Fleet {
  readonly mdm: MdmPort;
  private next: number;
  readonly end: number;

  private constructor(
    private readonly api: ApiClient,
    private readonly adminToken: string,
    mdm: { baseUrl: string; apiKey: string },
    readonly department: string,
    readonly first: number,
    size: number,
  ) {
    this.mdm = createHttpMdm({ baseUrl: mdm.baseUrl, apiKey: mdm.apiKey, timeoutMs: 30_000, maxAttempts: 3 });
    this.next = first;
    this.end = first + size;
  }

  /**
   * Picks a block of `size` asset numbers in which none of a few probes exists (on a fresh stack only the
   * demo fleet's A-000001... are taken), so the bench never updates an asset it did not create.
   */
  static async reserve(opts: {
    api: ApiClient;
    adminToken: string;
    mdm: { baseUrl: string; apiKey: string };
    department: string;
    size: number;
  }): Promise<Fleet> {
    const { api, size } = opts;
    if (size > 800_000) throw new Error(`cannot reserve ${size} asset numbers`);
    for (let attempt = 0; attempt < 20; attempt++) {
      const first = randomInt(100_000, 999_999 - size);
      const probes = [first, first + size - 1, ...Array.from({ length: 6 }, () => first + randomInt(0, size))];
      const taken = await Promise.all(
        probes.map(async (n) => {
          const res = await api.call('GET', `/assets/${assetNumberOf(n)}`, { token: opts.adminToken });
          return res.status !== 404;
        }),
      );
      if (!taken.some(Boolean)) return new Fleet(api, opts.adminToken, opts.mdm, opts.department, first, size);
    }
    throw new Error('found no free block of asset numbers in 20 tries');
  }

  /** The next `n` asset numbers of the block. */
  take(n: number): string[] {
    if (this.next + n > this.end) throw new Error(`the reserved block has ${this.end - this.next} numbers left`);
    const numbers = Array.from({ length: n }, (_, i) => assetNumberOf(this.next + i));
    this.next += n;
    return numbers;
  }

  /** Enrols a device for each asset number in the MDM emulator (as in real life, before the asset is recorded). */
  async enrol(assetNumbers: string[], concurrency = 8): Promise<BenchDevice[]> {
    return mapLimited(assetNumbers, concurrency, async (assetNumber) => {
      const serialNumber = `SNB${assetNumber.slice(2)}${randomInt(1e5, 9e5)}`;
      const device = await this.mdm.registerDevice({
        serialNumber,
        model: 'iPhone 15',
        assetNumber,
        idempotencyKey: `bench-enrol-${serialNumber}`,
      });
      return { assetNumber, serialNumber, mdmDeviceId: device.id };
    });
  }

  /** POST /assets, one request per asset (what the processes driven end to end start from). */
  async createOneByOne(devices: BenchDevice[], location: string, concurrency = 8): Promise<void> {
    await mapLimited(devices, concurrency, async (d) => {
      const res = await this.api.call('POST', '/assets', {
        token: this.adminToken,
        body: {
          assetNumber: d.assetNumber,
          serialNumber: d.serialNumber,
          model: 'iPhone 15',
          ...(d.mdmDeviceId ? { mdmDeviceId: d.mdmDeviceId } : {}),
          status: 'in_use',
          department: this.department,
          location,
          userName: 'Bench Old User',
          userEmail: 'bench.old@example.com',
          userPhone: '+81 3 1111 2222',
        },
      });
      expectStatus(res, 201, `POST /assets ${d.assetNumber}`);
    });
  }

  /** POST /assets/import: one CSV (at most 10,000 rows) for a campaign's assets. */
  async importCsv(devices: BenchDevice[], location: string): Promise<void> {
    const header = 'Asset #,Serial Number,Model,Department,Location,MDM Device ID,Asset Status,User Name,E-mail,Phone';
    const rows = devices.map((d) =>
      [
        d.assetNumber,
        d.serialNumber,
        'iPhone 15',
        this.department,
        location,
        d.mdmDeviceId ?? '',
        'in_use',
        'Bench Old User',
        'bench.old@example.com',
        '+81 3 1111 2222',
      ].join(','),
    );
    const res = await this.api.call('POST', '/assets/import', {
      token: this.adminToken,
      csv: `${header}\n${rows.join('\n')}\n`,
      timeoutMs: 300_000,
    });
    expectStatus(res, 200, `POST /assets/import (${devices.length} rows)`);
  }
}

/** Devices that will never reach the MDM (they wait at the first human step): no enrolment. */
export function unenrolled(assetNumbers: string[]): BenchDevice[] {
  return assetNumbers.map((assetNumber) => ({ assetNumber, serialNumber: `SNW${assetNumber.slice(2)}` }));
}
