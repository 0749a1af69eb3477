/**
 * A collection campaign of 30 devices on real parts (issue 11 item 4, DESIGN §3.1): the Java time-skipping
 * Temporal test server running the real workflows, a real worker with the real activities on real
 * PostgreSQL, the MDM emulator over HTTP and the SMTP sink, all driven through the HTTP API (the API's
 * Temporal client talks to the time-skipping server; its clock is the server's).
 *
 * The devices are chosen by selection (planned status in_stock, own planned date within a window) and keep
 * their own dates, ten different ones: reminders go out on each device's own date, the campaign view and
 * its CSVs follow the collection reports and the dates passing, and the cancel of the whole campaign puts
 * every record back (DB checked) with one result per device, once however often it is sent. A second
 * campaign by list shows a device without a planned date refused in its row, and a cancel that restores
 * a plan the campaign had really changed (no planned status before).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../api/csv';
import * as assetsRepo from '../db/assetsRepo';
import * as eventsRepo from '../db/assetEventsRepo';
import type { Asset } from '../db/types';
import { workflowIdFor } from '../workflows/definitions';
import { startApi, TOKEN_ACTORS, TOKENS, type ApiHarness } from './support/apiHarness';
import { assetSeries, DAY_MS, PATIENCE_MS } from './support/fixtures';
import { useHarness } from './support/suite';

const h = useHarness({ timeSkipping: true });

const HOUR = 3_600_000;
const DEPARTMENTS = ['人事部', '開発部', '経理部'];
const LOCATIONS = ['東京本社', '大阪支社'];
const CAMPAIGN = 30;
const no = assetSeries();
/** The campaign's devices: no(1)..no(30); no(31..33) must stay out of its selection. */
const devices = Array.from({ length: CAMPAIGN }, (_, i) => no(i + 1));
const japanese = new Intl.Collator('ja');

let api: ApiHarness;
/** The API's clock: the time-skipping server's, read after every skip. */
let serverNow = 0;
let today = '';

const day = (offset: number) => new Date(Date.parse(today) + offset * DAY_MS).toISOString().slice(0, 10);
/** Device i (0-based) is due on today+2 .. today+11, three devices per date, spread over departments. */
const dueOffset = (i: number) => 2 + (i % 10);
const holder = (i: number) => `holder-${i + 1}@example.com`;
const departmentOf = (i: number) => DEPARTMENTS[i % 3]!;
const locationOf = (i: number) => LOCATIONS[Math.floor(i / 3) % 2]!;

async function refreshClock(): Promise<void> {
  serverNow = await h.timeSkipping!.env.currentTimeMs();
}

/** Lets server time pass until `offset` days after today's midnight (UTC) plus an hour. */
async function skipTo(offset: number): Promise<void> {
  await refreshClock();
  const target = Date.parse(today) + offset * DAY_MS + HOUR;
  await h.timeSkipping!.env.sleep(target - serverNow);
  await refreshClock();
}

/** Waits (real time, PATIENCE_MS at most) until `probe` holds, then returns what it saw. */
async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: last seen ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function noticeKinds(assetNumber: string): Promise<string[]> {
  return (await eventsRepo.listForAsset(h.db.pool, assetNumber))
    .filter((e) => e.eventType === 'notice-sent')
    .map((e) => String(e.details.kind));
}

async function reminders(): Promise<number[]> {
  return Promise.all(devices.map(async (d) => (await noticeKinds(d)).filter((k) => k === 'reminder').length));
}

/** Reminder mails in the sink, per device (to the device's holder, naming the device). */
function reminderMails(): number[] {
  const mails = h.mail.messages().filter((m) => m.subject.startsWith('Reminder:'));
  return devices.map((d, i) => mails.filter((m) => m.subject.includes(d) && m.to.includes(holder(i))).length);
}

/** Reminders expected when server time is `offset` days past today's midnight (plus an hour). */
function expectedReminders(offset: number): number[] {
  return devices.map((_, i) => {
    const due = dueOffset(i);
    return (offset >= due - 1 ? 1 : 0) + (offset >= due ? 1 : 0);
  });
}

async function eventCount(assetNumber: string, type: string): Promise<number> {
  return (await eventsRepo.listForAsset(h.db.pool, assetNumber)).filter((e) => e.eventType === type).length;
}

async function openCollectTasks(): Promise<number> {
  const { rows } = await h.db.pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM open_tasks WHERE task_type = 'collect-device' AND task_queue = $1",
    [h.taskQueue],
  );
  return Number(rows[0]!.n);
}

const get = (path: string, token: string = TOKENS.viewer) => api.call('GET', path, { token });

function csvRecords(body: string): string[][] {
  return parseCsv(body).map((r) => r.fields);
}

/** The collection list's order: department, location, asset number (Japanese collation). */
function inListOrder<T extends { department: string; location: string; assetNumber: string }>(rows: T[]): T[] {
  return [...rows].sort(
    (a, b) =>
      japanese.compare(a.department, b.department) ||
      japanese.compare(a.location, b.location) ||
      a.assetNumber.localeCompare(b.assetNumber),
  );
}

interface Seeded {
  assetNumber: string;
  department: string;
  location: string;
  userName: string;
  userEmail: string;
  userPhone: string;
}
const seeded: Seeded[] = [];
const before = new Map<string, Pick<Asset, 'plannedStatus' | 'plannedDate'>>();

async function plans(numbers: readonly string[]) {
  const assets = await assetsRepo.getMany(h.db.pool, numbers);
  return numbers.map((n) => ({
    assetNumber: n,
    plannedStatus: assets.get(n)!.plannedStatus,
    plannedDate: assets.get(n)!.plannedDate,
  }));
}

beforeAll(async () => {
  await refreshClock();
  today = new Date(serverNow).toISOString().slice(0, 10);
  api = await startApi({
    temporalAddress: h.timeSkipping!.address,
    db: h.db.pool,
    taskQueue: h.taskQueue,
    clock: () => new Date(serverNow),
    // A reminder a day before each device's own date and on it; escalation and repeats out of the way.
    env: {
      REMINDER_BEFORE_DAYS: '1',
      ESCALATE_AFTER_DAYS: '30',
      TASK_REMINDER_EVERY_DAYS: '30',
      MDM_POLL_INITIAL_MS: '100',
      MDM_POLL_MAX_MS: '400',
    },
    updateTimeoutMs: PATIENCE_MS,
    queryTimeoutMs: PATIENCE_MS,
  });
  for (const [i, assetNumber] of devices.entries()) {
    const device: Seeded = {
      assetNumber,
      department: departmentOf(i),
      location: locationOf(i),
      userName: `Holder ${i + 1}`,
      userEmail: holder(i),
      userPhone: `+81 3 0000 ${String(i + 1).padStart(4, '0')}`,
    };
    seeded.push(device);
    await h.seedDevice({ ...device, plannedStatus: 'in_stock', plannedDate: day(dueOffset(i)) });
  }
  // Out of the selection: a date after the window, another planned status, already in stock.
  await h.seedDevice({ assetNumber: no(31), plannedStatus: 'in_stock', plannedDate: day(12) });
  await h.seedDevice({ assetNumber: no(32), plannedStatus: 'retired', plannedDate: day(3) });
  await h.seedDevice({ assetNumber: no(33), status: 'in_stock', plannedStatus: 'in_stock', plannedDate: day(3) });
  // For the campaign by list: an own date but no planned status, and no date at all.
  await h.seedDevice({ assetNumber: no(34), plannedDate: day(5) });
  await h.seedDevice({ assetNumber: no(35) });
  for (const p of await plans(devices)) before.set(p.assetNumber, p);
}, PATIENCE_MS);

afterAll(async () => {
  await api?.close();
});

describe('a collection campaign of 30 devices, each on its own planned date', () => {
  let campaignId = '';
  const collected = new Map<string, { by: string; storage: string }>();

  it('starts from planned status and a date window, keeping each device its own date', async () => {
    const res = await api.call('POST', '/api/v1/collections', {
      token: TOKENS.admin,
      body: {
        reason: 'Annual device refresh',
        storageLocation: 'Tokyo HQ IT store',
        select: { plannedStatus: 'in_stock', plannedDateFrom: day(2), plannedDateTo: day(11) },
      },
    });
    expect([200, 202], JSON.stringify(res.body)).toContain(res.status);
    campaignId = res.body.bulkId;
    const rows = await until(
      'every start decided',
      async () => (await get(`/api/v1/bulk/${campaignId}`)).body,
      (b) => b.status === 'done',
    );
    expect(rows.counts).toEqual({ started: CAMPAIGN });
    expect(rows.results.map((r: { assetNumber: string }) => r.assetNumber).sort()).toEqual([...devices].sort());

    await until('every device waits for collection', openCollectTasks, (n) => n === CAMPAIGN);
    // Each process planned its device's own date (the campaign gave none) and told its holder.
    expect(await plans(devices)).toEqual(devices.map((d) => before.get(d)));
    for (const d of devices)
      await until(
        `collection notice of ${d}`,
        () => noticeKinds(d),
        (k) => k.length === 1,
      );
    expect(await reminders()).toEqual(devices.map(() => 0));

    const view = (await get(`/api/v1/campaigns/${campaignId}`)).body;
    expect(view).toMatchObject({
      campaignId,
      requestedBy: TOKEN_ACTORS.admin,
      selection: { by: 'window', plannedStatus: 'in_stock', plannedDateFrom: day(2), plannedDateTo: day(11) },
      plannedCollectionDate: null,
      totals: { listed: 30, started: 30, notStarted: 0, collected: 0, outstanding: 30, overdue: 0, cancelled: 0 },
    });
    const byPlace = view.byDepartmentAndLocation;
    expect(byPlace.map((g: Seeded) => [g.department, g.location])).toEqual(
      inListOrder(
        DEPARTMENTS.flatMap((d) => LOCATIONS.map((l) => ({ department: d, location: l, assetNumber: '' }))),
      ).map((g) => [g.department, g.location]),
    );
    expect(byPlace.every((g: { devices: number; outstanding: number }) => g.devices === 5 && g.outstanding === 5)).toBe(
      true,
    );
    const own = Object.fromEntries(
      view.devices.map((d: { assetNumber: string; plannedDate: string }) => [d.assetNumber, d.plannedDate]),
    );
    expect(own).toEqual(Object.fromEntries(devices.map((d, i) => [d, day(dueOffset(i))])));
  });

  it("reminds each holder on the day before the device's own date and on it", async () => {
    await skipTo(2); // today+2: the first three devices are due, the next three have had one reminder
    await until(
      'reminders up to today+2',
      reminders,
      (r) => JSON.stringify(r) === JSON.stringify(expectedReminders(2)),
    );
    await until(
      'reminder mails up to today+2',
      async () => reminderMails(),
      (r) => JSON.stringify(r) === JSON.stringify(expectedReminders(2)),
    );
    expect(expectedReminders(2).filter((n) => n > 0)).toHaveLength(6);
  });

  it('follows collection reports: the view and both CSVs', async () => {
    // Two of the three devices due today and one due later are collected.
    const toCollect = [devices[0]!, devices[10]!, devices[5]!];
    for (const [k, assetNumber] of toCollect.entries()) {
      const storage = `Shelf ${k + 1}`;
      const res = await api.call('POST', `/api/v1/workflows/${workflowIdFor(assetNumber)}/events/device-collected`, {
        token: TOKENS.field,
        body: { step: 'awaiting-collection', data: { collectedBy: `Field ${k + 1}`, storageLocation: storage } },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      collected.set(assetNumber, { by: `Field ${k + 1}`, storage });
    }
    for (const d of toCollect)
      await until(
        `collection of ${d} recorded`,
        () => eventCount(d, 'device-collected'),
        (n) => n === 1,
      );

    await skipTo(4); // devices due today+2 and today+3 not collected are overdue now
    // A collected device's task is closed: it got the reminders due until its collection (today+2), no more.
    const expected = devices.map((d, i) => (collected.has(d) ? expectedReminders(2) : expectedReminders(4))[i]);
    await until('reminders up to today+4', reminders, (r) => JSON.stringify(r) === JSON.stringify(expected));
    await until(
      'reminder mails up to today+4',
      async () => reminderMails(),
      (r) => JSON.stringify(r) === JSON.stringify(expected),
    );
    const overdue = devices.filter((d, i) => !collected.has(d) && dueOffset(i) < 4);
    expect(overdue).toHaveLength(4);

    const view = (await get(`/api/v1/campaigns/${campaignId}`)).body;
    expect(view.totals).toMatchObject({ listed: 30, collected: 3, outstanding: 27, overdue: 4, cancelled: 0 });
    const rows = new Map(view.devices.map((d: { assetNumber: string }) => [d.assetNumber, d]));
    for (const [d, c] of collected) {
      expect(rows.get(d)).toMatchObject({
        state: 'collected',
        collectedBy: c.by,
        reportedBy: TOKEN_ACTORS.field,
        storageLocation: c.storage,
        overdue: false,
      });
    }
    for (const d of overdue) expect(rows.get(d)).toMatchObject({ state: 'outstanding', overdue: true });
    // Counted where each device was at the start, whatever the collected ones have become since.
    for (const g of view.byDepartmentAndLocation) {
      const here = seeded.filter((s) => s.department === g.department && s.location === g.location);
      expect(g).toEqual({
        department: g.department,
        location: g.location,
        devices: here.length,
        collected: here.filter((s) => collected.has(s.assetNumber)).length,
        outstanding: here.filter((s) => !collected.has(s.assetNumber)).length,
        overdue: here.filter((s) => overdue.includes(s.assetNumber)).length,
        stopped: 0,
      });
    }

    // The campaign's collection list: exactly its 27 outstanding devices, columns and order of the collection list.
    const list = await get(`/api/v1/campaigns/${campaignId}/collection-list.csv`);
    expect(list.status).toBe(200);
    expect(list.headers.get('content-type')).toContain('text/csv');
    const outstanding = inListOrder(seeded.filter((s) => !collected.has(s.assetNumber)));
    expect(csvRecords(list.body)).toEqual([
      ['Asset #', 'Department', 'Location', 'User Name', 'E-mail', 'Phone'],
      ...outstanding.map((s) => [s.assetNumber, s.department, s.location, s.userName, s.userEmail, `'${s.userPhone}`]),
    ]);

    // The reconciliation: every listed device, collected or not, when, by whom, where it is stored.
    const rec = csvRecords((await get(`/api/v1/campaigns/${campaignId}/reconciliation.csv`)).body);
    expect(rec[0]).toEqual([
      'Asset #',
      'Department',
      'Location',
      'Planned Date',
      'State',
      'Overdue',
      'Collected',
      'Collected At',
      'Collected By',
      'Reported By',
      'Storage Location',
      'Workflow',
      'Not Started Because',
    ]);
    expect(rec.slice(1).map((r) => r[0])).toEqual(inListOrder(seeded).map((s) => s.assetNumber));
    for (const r of rec.slice(1)) {
      const [assetNumber, , , plannedDate, state, isOverdue, wasCollected, at, by, reporter, storage, workflow] = r;
      const i = devices.indexOf(assetNumber!);
      const c = collected.get(assetNumber!);
      expect(plannedDate).toBe(day(dueOffset(i)));
      expect(workflow).toBe(workflowIdFor(assetNumber!));
      expect([state, isOverdue, wasCollected]).toEqual([
        c ? 'collected' : 'outstanding',
        overdue.includes(assetNumber!) ? 'yes' : 'no',
        c ? 'yes' : 'no',
      ]);
      expect([by, reporter, storage]).toEqual(c ? [c.by, TOKEN_ACTORS.field, c.storage] : ['', '', '']);
      expect(Boolean(at && !Number.isNaN(Date.parse(at)))).toBe(Boolean(c));
    }
  });

  it('is cancelled as a whole: every process stops, every record is back, one result per device, once', async () => {
    const res = await api.call('POST', `/api/v1/campaigns/${campaignId}/cancel`, {
      token: TOKENS.admin,
      body: { reason: 'Refresh postponed' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ campaignId, total: 30, counts: { cancelled: 30 } });
    expect(res.body.results.map((r: { assetNumber: string }) => r.assetNumber).sort()).toEqual([...devices].sort());

    for (const d of devices) {
      await until(
        `${d} cancelled`,
        () => eventCount(d, 'cancelled'),
        (n) => n === 1,
      );
      await until(
        `${d} plan restored`,
        () => eventCount(d, 'plan-restored'),
        (n) => n === 1,
      );
    }
    // Planned status and date exactly as before the campaign, for every device.
    expect(await plans(devices)).toEqual(devices.map((d) => before.get(d)));
    for (const d of devices) {
      const stop = (await eventsRepo.listForAsset(h.db.pool, d)).find((e) => e.eventType === 'cancelled')!;
      expect(stop.actor).toBe(TOKEN_ACTORS.admin);
      expect(stop.details).toMatchObject({
        reason: 'Refresh postponed',
        undone: expect.arrayContaining(['plan-restored']),
      });
    }
    // The collected devices stay where they were put: what was done to the device is kept.
    for (const [d, c] of collected) {
      const asset = await assetsRepo.get(h.db.pool, d);
      expect(asset).toMatchObject({ status: 'in_stock', location: c.storage });
    }

    for (const d of devices) {
      const handle = api.temporal.workflow.getHandle(workflowIdFor(d));
      await until(
        `${d} closed`,
        async () => (await handle.describe()).status.name,
        (s) => s !== 'RUNNING',
      );
    }
    const again = await api.call('POST', `/api/v1/campaigns/${campaignId}/cancel`, { token: TOKENS.admin, body: {} });
    expect(again.status).toBe(200);
    expect(again.body.counts).toEqual({ 'already-closed': 30 });
    expect(new Set(again.body.results.map((r: { detail: string }) => r.detail))).toEqual(new Set(['cancelled']));
    for (const d of devices) expect(await eventCount(d, 'cancelled')).toBe(1);

    const view = (await get(`/api/v1/campaigns/${campaignId}`)).body;
    expect(view.totals).toMatchObject({ listed: 30, collected: 3, outstanding: 0, overdue: 0, cancelled: 27 });
    expect(view.cancelledBy).toBe(TOKEN_ACTORS.admin);
    const list = csvRecords((await get(`/api/v1/campaigns/${campaignId}/collection-list.csv`)).body);
    expect(list).toEqual([['Asset #', 'Department', 'Location', 'User Name', 'E-mail', 'Phone']]);
  });

  it("never touches a device's later process: the campaign's cancel addresses its own processes only", async () => {
    const device = devices[1]!;
    const started = await api.call('POST', `/api/v1/devices/${device}/change-user`, {
      token: TOKENS.admin,
      body: { reason: 'Single leaver', plannedCollectionDate: day(9), storageLocation: 'Shelf 9' },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    await until(`${device} waits again`, openCollectTasks, (n) => n === 1);

    const again = await api.call('POST', `/api/v1/campaigns/${campaignId}/cancel`, { token: TOKENS.admin, body: {} });
    const row = again.body.results.find((r: { assetNumber: string }) => r.assetNumber === device);
    expect(row).toMatchObject({ outcome: 'already-closed' });
    const later = await api.temporal.workflow.getHandle(workflowIdFor(device)).describe();
    expect(later.runId).toBe(started.body.runId);
    expect(later.status.name).toBe('RUNNING');
    expect(await eventCount(device, 'cancelled')).toBe(1);
    // The campaign still counts its own process of the device: stopped, not the later one's waiting.
    const view = (await get(`/api/v1/campaigns/${campaignId}`)).body;
    expect(view.devices.find((d: { assetNumber: string }) => d.assetNumber === device).state).toBe('cancelled');
    await api.temporal.workflow.getHandle(workflowIdFor(device)).terminate('test over');
  });

  it('by list: a device without a planned date is refused in its row; the cancel restores the plan it changed', async () => {
    const [dated, undated] = [no(34), no(35)];
    const res = await api.call('POST', '/api/v1/collections', {
      token: TOKENS.admin,
      body: { reason: 'Leavers', storageLocation: 'Osaka store', assetNumbers: [dated, undated, 'A-000000'] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results.map((r: { result: string }) => r.result)).toEqual(['started', 'invalid', 'unknown-asset']);
    expect(res.body.results[1].error).toMatchObject({ code: 'no-planned-date' });
    expect(res.body.results[1].error.message).toContain(undated);
    const id = res.body.bulkId;
    await until(
      `${dated} planned for collection`,
      () => plans([dated]),
      (p) => p[0]!.plannedStatus === 'in_stock',
    );
    expect((await plans([dated]))[0]).toEqual({ assetNumber: dated, plannedStatus: 'in_stock', plannedDate: day(5) });

    const view = (await get(`/api/v1/campaigns/${id}`)).body;
    expect(view.selection).toEqual({ by: 'list' });
    expect(view.totals).toMatchObject({ listed: 3, started: 1, notStarted: 2, outstanding: 1 });

    // Its reconciliation has a row for every listed number, the ones never started with the reason.
    const rec = csvRecords((await get(`/api/v1/campaigns/${id}/reconciliation.csv`)).body);
    expect(rec.slice(1).map((r) => [r[0], r[4], r[6], r[12]])).toEqual([
      [dated, 'outstanding', 'no', ''],
      [undated, 'not-started', 'no', `invalid: ${res.body.results[1].error.message}`],
      ['A-000000', 'not-started', 'no', `unknown-asset: ${res.body.results[2].error.message}`],
    ]);

    const cancel = await api.call('POST', `/api/v1/campaigns/${id}/cancel`, { token: TOKENS.admin, body: {} });
    expect(cancel.body.results.map((r: { outcome: string }) => r.outcome)).toEqual([
      'cancelled',
      'not-started',
      'not-started',
    ]);
    await until(
      `${dated} plan restored`,
      () => plans([dated]),
      (p) => p[0]!.plannedStatus === null,
    );
    expect((await plans([dated]))[0]).toEqual({ assetNumber: dated, plannedStatus: null, plannedDate: day(5) });
  });

  it('answers errors as DESIGN §4 says', async () => {
    expect((await get('/api/v1/campaigns/not-a-uuid')).body.error.details.problems).toEqual([
      { field: 'campaignId', problem: 'must be a campaign id (a UUID)' },
    ]);
    expect((await get('/api/v1/campaigns/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const viewerCancel = await api.call('POST', `/api/v1/campaigns/${campaignId}/cancel`, {
      token: TOKENS.viewer,
      body: {},
    });
    expect(viewerCancel.status).toBe(403);
    const both = await api.call('POST', '/api/v1/collections', {
      token: TOKENS.admin,
      body: {
        reason: 'x',
        storageLocation: 'y',
        assetNumbers: [devices[0]],
        select: { plannedStatus: 'in_stock', plannedDateFrom: day(2), plannedDateTo: day(3) },
      },
    });
    expect(both.status).toBe(400);
    const none = await api.call('POST', '/api/v1/collections', {
      token: TOKENS.admin,
      body: {
        reason: 'x',
        storageLocation: 'y',
        select: { plannedStatus: 'in_stock', plannedDateFrom: day(40), plannedDateTo: day(41) },
      },
    });
    expect(none.status).toBe(400);
    expect(none.body.error.details.problems[0].field).toBe('select');
  });
});
