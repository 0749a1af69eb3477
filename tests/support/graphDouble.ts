/**
 * A small Microsoft Graph (and Microsoft identity platform token endpoint) double: a real HTTP server on
 * loopback that answers the calls the Intune adapter makes, shaped as Microsoft documents them. No real
 * tenant was available; every answer below copies a documented example and says which page it came from.
 *
 * Modelled:
 * - POST /{tenant}/oauth2/v2.0/token (client credentials; tokens expire; wrong secret refused)
 * - GET /v1.0/deviceManagement/managedDevices[?$filter=serialNumber eq '...'] with server-side paging
 *   through @odata.nextLink ($skiptoken), and GET .../managedDevices/{id}
 * - POST .../wipe and .../retire (204), whose deviceActionResults move pending -> active -> done | failed
 *   when the test's device side says so; DELETE .../managedDevices/{id} (204)
 * - GET .../managedDevices/{id}/deviceConfigurationStates
 * - injectable throttling (429 with or without Retry-After) and outages (503, or connections dropped)
 * Every request is recorded, so tests observe retries and sends from the server side.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Request, type Response } from 'express';

export interface GraphDoubleOptions {
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** expires_in of issued tokens, in seconds (the documented example: 3599). */
  tokenLifetimeSeconds?: number;
  /** Items per page of a collection before @odata.nextLink. */
  pageSize?: number;
}

export interface RecordedGraphRequest {
  method: string;
  /** Path without the query. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
  authorization?: string;
}

export interface DoubleDevice {
  id: string;
  serialNumber: string;
  model: string;
  managementState: string;
  enrolledDateTime: string;
  deviceActionResults: Array<{
    '@odata.type': string;
    actionName: string;
    actionState: string;
    startDateTime: string;
    lastUpdatedDateTime: string;
  }>;
  configurationStates: Array<{ id: string; displayName: string; state: string }>;
}

export interface RunningGraphDouble {
  /** http://127.0.0.1:port */
  url: string;
  graphBaseUrl: string;
  tokenUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Device side: a device enrols (Intune creates its managed device record). */
  enrol(fields: { serialNumber: string; model?: string; configurationProfiles?: string[] }): DoubleDevice;
  device(id: string): DoubleDevice | undefined;
  /** Device side: the device picks the action up (active), carries it out (done) or fails it. */
  advanceAction(id: string, actionName: string, state: 'active' | 'done' | 'failed'): void;
  /** The next `count` Graph requests (not the token endpoint) get 429, with Retry-After if given. */
  throttle(setting: { count: number; retryAfter?: string }): void;
  /**
   * Until endOutage(): every Graph request (or only those of `method`) gets 503 (Retry-After if given) or
   * its connection dropped.
   */
  startOutage(setting: { mode: 'unavailable' | 'refuse'; retryAfter?: string; method?: string }): void;
  endOutage(): void;
  /** Tokens issued so far stop being accepted (401), as an expired token would. */
  revokeTokens(): void;
  tokenRequests(): number;
  requests(filter?: { method?: string; pathIncludes?: string }): RecordedGraphRequest[];
  clearRequests(): void;
  close(): Promise<void>;
}

export async function startGraphDouble(options: GraphDoubleOptions = {}): Promise<RunningGraphDouble> {
  const tenantId = options.tenantId ?? 'contoso.onmicrosoft.com';
  const clientId = options.clientId ?? '00001111-aaaa-2222-bbbb-3333cccc4444';
  const clientSecret = options.clientSecret ?? 'double-secret';
  const pageSize = options.pageSize ?? 2;
  const devices = new Map<string, DoubleDevice>();
  const tokens = new Map<string, number>(); // token -> expiry (ms)
  const recorded: RecordedGraphRequest[] = [];
  let throttled: { count: number; retryAfter?: string } | undefined;
  let outage: { mode: 'unavailable' | 'refuse'; retryAfter?: string; method?: string } | undefined;
  let tokenCount = 0;
  let url = '';

  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(express.json());
  app.use((req, res, next) => {
    const entry: RecordedGraphRequest = {
      method: req.method,
      path: req.path,
      query: Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, String(v)])),
      body: req.body,
      status: 0,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    recorded.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
    next();
  });

  app.post('/:tenant/oauth2/v2.0/token', (req, res) => token(req, res));
  app.use('/v1.0', (req, res, next) => weather(req, res, next));
  app.use('/v1.0', (req, res, next) => authorize(req, res, next));
  app.get('/v1.0/deviceManagement/managedDevices', (req, res) => list(req, res));
  app.get('/v1.0/deviceManagement/managedDevices/:id', (req, res) => withDevice(req, res, (d) => res.json(entity(d))));
  app.get('/v1.0/deviceManagement/managedDevices/:id/deviceConfigurationStates', (req, res) =>
    withDevice(req, res, (d) => page(req, res, d.configurationStates.map(configurationState))),
  );
  app.post('/v1.0/deviceManagement/managedDevices/:id/wipe', (req, res) =>
    withDevice(req, res, (d) => startAction(res, d, 'wipe', 'wipePending')),
  );
  app.post('/v1.0/deviceManagement/managedDevices/:id/retire', (req, res) =>
    withDevice(req, res, (d) => startAction(res, d, 'retire', 'retirePending')),
  );
  // Delete managedDevice: "If successful, this method returns a 204 No Content response code."
  // https://learn.microsoft.com/en-us/graph/api/intune-devices-manageddevice-delete?view=graph-rest-1.0
  app.delete('/v1.0/deviceManagement/managedDevices/:id', (req, res) =>
    withDevice(req, res, (d) => {
      devices.delete(d.id);
      res.status(204).end();
    }),
  );
  app.use((req, res) => graphError(res, 400, 'BadRequest', `Resource not found for the segment '${req.path}'.`));

  // Token response copied from "Microsoft identity platform and the OAuth 2.0 client credentials flow",
  // https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow,
  // "Successful response example" ({ token_type, expires_in: 3599, access_token }) and "Error response
  // example" ({ error, error_description, error_codes, timestamp, trace_id, correlation_id }).
  function token(req: Request, res: Response): void {
    tokenCount += 1;
    const form = req.body as Record<string, string | undefined>;
    if (req.params.tenant !== tenantId)
      return tokenError(res, 400, 'invalid_request', 90002, `Tenant '${req.params.tenant}' not found.`);
    if (form.grant_type !== 'client_credentials' || form.scope !== 'https://graph.microsoft.com/.default')
      return tokenError(
        res,
        400,
        'invalid_scope',
        70011,
        "The provided value for the input parameter 'scope' is not valid.",
      );
    if (form.client_id !== clientId || form.client_secret !== clientSecret)
      return tokenError(res, 401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    const accessToken = `eyJ0eXAiOiJKV1Qi.double.${randomUUID()}`;
    const lifetime = options.tokenLifetimeSeconds ?? 3599;
    tokens.set(accessToken, Date.now() + lifetime * 1000);
    res.json({ token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken });
  }

  function tokenError(res: Response, status: number, error: string, code: number, text: string): void {
    res.status(status).json({
      error,
      error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
      error_codes: [code],
      timestamp: new Date().toISOString(),
      trace_id: randomUUID(),
      correlation_id: randomUUID(),
    });
  }

  // Throttling response copied from "Microsoft Graph throttling guidance", "Sample response",
  // https://learn.microsoft.com/en-us/graph/throttling (429, Retry-After: 2.128, error TooManyRequests);
  // "without Retry-After" as the throttling-limits page notes for some resources and Intune users report.
  // Outage: 503 with the Graph error body (https://learn.microsoft.com/en-us/graph/errors, 503
  // "Service Unavailable ... Retry-After"), or the connection dropped.
  function weather(req: Request, res: Response, next: () => void): void {
    const down = outage && (!outage.method || outage.method === req.method) ? outage : undefined;
    if (down?.mode === 'refuse') {
      res.socket?.destroy();
      return;
    }
    if (down) {
      if (down.retryAfter) res.setHeader('Retry-After', down.retryAfter);
      return graphError(
        res,
        503,
        'serviceNotAvailable',
        'The service is temporarily unavailable for maintenance or is overloaded.',
      );
    }
    if (throttled && throttled.count > 0) {
      throttled.count -= 1;
      if (throttled.retryAfter) res.setHeader('Retry-After', throttled.retryAfter);
      res.status(429).json({
        error: {
          code: 'TooManyRequests',
          innerError: {
            code: '429',
            date: new Date().toISOString().slice(0, 19),
            message: 'Please retry after',
            'request-id': randomUUID(),
            status: '429',
          },
          message: 'Please retry again later.',
        },
      });
      return;
    }
    next();
  }

  function authorize(req: Request, res: Response, next: () => void): void {
    const header = req.headers.authorization ?? '';
    const expiry = tokens.get(header.replace(/^Bearer /, ''));
    if (!header.startsWith('Bearer ') || expiry === undefined || expiry < Date.now())
      return graphError(res, 401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.');
    next();
  }

  // List managedDevices; the example's collection shape { "value": [ ... ] }:
  // https://learn.microsoft.com/en-us/graph/api/intune-devices-manageddevice-list?view=graph-rest-1.0
  function list(req: Request, res: Response): void {
    const filter = typeof req.query.$filter === 'string' ? req.query.$filter : undefined;
    let items = [...devices.values()];
    if (filter) {
      const match = /^serialNumber eq '((?:[^']|'')*)'$/.exec(filter);
      if (!match) return graphError(res, 400, 'BadRequest', `Invalid filter clause: ${filter}`);
      const serial = (match[1] ?? '').replace(/''/g, "'");
      items = items.filter((d) => d.serialNumber === serial);
    }
    page(req, res, items.map(entity));
  }

  // Server-side paging as in "Paging Microsoft Graph data in your app", https://learn.microsoft.com/en-us/graph/paging:
  // a page of results plus "@odata.nextLink", the full URL of the next page (original query + $skiptoken).
  function page(req: Request, res: Response, items: unknown[]): void {
    const skip = Number(req.query.$skiptoken ?? 0);
    const next = skip + pageSize;
    const body: Record<string, unknown> = { value: items.slice(skip, next) };
    if (next < items.length) {
      const link = new URL(`${url}${req.originalUrl}`);
      link.searchParams.set('$skiptoken', String(next));
      body['@odata.nextLink'] = link.toString();
    }
    res.json(body);
  }

  function withDevice(req: Request, res: Response, then: (d: DoubleDevice) => void): void {
    const device = devices.get(String(req.params.id));
    if (!device)
      return graphError(res, 404, 'ResourceNotFound', `Resource not found: managedDevice '${String(req.params.id)}'.`);
    then(device);
  }

  // Wipe and retire: "If successful, this action returns a 204 No Content response code."
  // https://learn.microsoft.com/en-us/graph/api/intune-devices-manageddevice-wipe?view=graph-rest-1.0 and
  // https://learn.microsoft.com/en-us/graph/api/intune-devices-manageddevice-retire?view=graph-rest-1.0
  // The action then shows in deviceActionResults as "pending" (the state in the Get example), one result
  // per action name (a new one replaces the old).
  function startAction(res: Response, device: DoubleDevice, actionName: string, managementState: string): void {
    const now = new Date().toISOString();
    device.deviceActionResults = device.deviceActionResults.filter((r) => r.actionName !== actionName);
    device.deviceActionResults.push({
      '@odata.type': 'microsoft.graph.deviceActionResult',
      actionName,
      actionState: 'pending',
      startDateTime: now,
      lastUpdatedDateTime: now,
    });
    device.managementState = managementState;
    res.status(204).end();
  }

  function graphError(res: Response, status: number, code: string, message: string): void {
    res.status(status).json({
      error: { code, message, innerError: { date: new Date().toISOString().slice(0, 19), 'request-id': randomUUID() } },
    });
  }

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    graphBaseUrl: `${url}/v1.0`,
    tokenUrl: `${url}/${tenantId}/oauth2/v2.0/token`,
    tenantId,
    clientId,
    clientSecret,
    enrol({ serialNumber, model = 'iPhone 15', configurationProfiles = ['Wi-Fi (office)'] }) {
      const device: DoubleDevice = {
        id: randomUUID(),
        serialNumber,
        model,
        managementState: 'managed',
        enrolledDateTime: new Date().toISOString(),
        deviceActionResults: [],
        configurationStates: configurationProfiles.map((displayName) => ({
          id: randomUUID(),
          displayName,
          state: 'compliant',
        })),
      };
      devices.set(device.id, device);
      return device;
    },
    device: (id) => devices.get(id),
    advanceAction(id, actionName, state) {
      const device = devices.get(id);
      const result = device?.deviceActionResults.find((r) => r.actionName === actionName);
      if (!device || !result) throw new Error(`graph double: no ${actionName} on device ${id}`);
      result.actionState = state;
      result.lastUpdatedDateTime = new Date().toISOString();
      if (state === 'failed') device.managementState = `${actionName}Failed`;
      if (state === 'done') device.managementState = actionName === 'retire' ? 'retireIssued' : 'wipeIssued';
    },
    throttle: (setting) => {
      throttled = { ...setting };
    },
    startOutage: (setting) => {
      outage = setting;
    },
    endOutage: () => {
      outage = undefined;
    },
    revokeTokens: () => tokens.clear(),
    tokenRequests: () => tokenCount,
    requests: (filter = {}) =>
      recorded.filter(
        (r) =>
          (!filter.method || r.method === filter.method) &&
          (!filter.pathIncludes || r.path.includes(filter.pathIncludes)),
      ),
    clearRequests: () => {
      recorded.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A managed device as Graph returns it: the fields of the Get managedDevice example,
 * https://learn.microsoft.com/en-us/graph/api/intune-devices-manageddevice-get?view=graph-rest-1.0
 * (example values kept where the adapter reads nothing), with this device's id, serial number, model,
 * managementState (https://learn.microsoft.com/en-us/graph/api/resources/intune-devices-managementstate)
 * and deviceActionResults. Returned at the top level, as Graph returns entities (the example page wraps it
 * in "value"; the adapter reads both).
 */
function entity(d: DoubleDevice): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.managedDevice',
    id: d.id,
    userId: 'User Id value',
    deviceName: 'Device Name value',
    managedDeviceOwnerType: 'company',
    deviceActionResults: d.deviceActionResults.map((r) => ({ ...r })),
    enrolledDateTime: d.enrolledDateTime,
    lastSyncDateTime: '2017-01-01T00:02:49.3205976-08:00',
    operatingSystem: 'iOS',
    complianceState: 'compliant',
    jailBroken: 'False',
    managementAgent: 'mdm',
    osVersion: 'Os Version value',
    managementState: d.managementState,
    azureADRegistered: true,
    deviceEnrollmentType: 'userEnrollment',
    emailAddress: 'Email Address value',
    azureADDeviceId: 'Azure ADDevice Id value',
    deviceRegistrationState: 'registered',
    isSupervised: true,
    isEncrypted: true,
    userPrincipalName: 'User Principal Name value',
    model: d.model,
    manufacturer: 'Apple',
    serialNumber: d.serialNumber,
    userDisplayName: 'User Display Name value',
    managedDeviceName: 'Managed Device Name value',
    partnerReportedThreatState: 'activated',
  };
}

/**
 * A deviceConfigurationState as in its resource's JSON representation (id, displayName, platformType,
 * settingCount, settingStates, state, version),
 * https://learn.microsoft.com/en-us/graph/api/resources/intune-deviceconfig-deviceconfigurationstate
 */
function configurationState(s: { id: string; displayName: string; state: string }): Record<string, unknown> {
  return {
    '@odata.type': '#microsoft.graph.deviceConfigurationState',
    id: s.id,
    displayName: s.displayName,
    version: 7,
    platformType: 'ios',
    state: s.state,
    settingCount: 12,
    settingStates: [],
  };
}
