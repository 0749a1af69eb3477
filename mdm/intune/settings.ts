/**
 * Intune's own settings, read from the environment when MDM_KIND=intune (mdm/createMdmPort.ts). They live
 * here, not in config/env.ts, because only this adapter reads them. Every problem is reported at once,
 * naming the variable, so a start-up with a half-filled configuration says everything that is missing.
 */

export interface IntuneSettings {
  /** The Microsoft Entra tenant (directory) id or its domain name. */
  tenantId: string;
  /** The app registration's application (client) id. */
  clientId: string;
  clientSecret: string;
  /** Microsoft Graph, with its version: `https://graph.microsoft.com/v1.0` unless a test points it elsewhere. */
  graphBaseUrl: string;
  /** The v2.0 token endpoint of the tenant unless a test points it elsewhere. */
  tokenUrl: string;
}

const DEFAULT_GRAPH_BASE_URL = 'https://graph.microsoft.com/v1.0';

/** The token endpoint of the client-credentials flow for a tenant (see tokenSource.ts for the page). */
export function defaultTokenUrl(tenantId: string): string {
  return `https://login.microsoftonline.com/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;
}

export function readIntuneSettings(env: NodeJS.ProcessEnv): { settings?: IntuneSettings; problems: string[] } {
  const problems: string[] = [];
  const required = (name: string, what: string): string => {
    const value = env[name]?.trim();
    if (!value) problems.push(`${name} is required with MDM_KIND=intune (${what})`);
    return value ?? '';
  };
  const optionalUrl = (name: string, fallback: string): string => {
    const value = env[name]?.trim();
    if (!value) return fallback;
    if (!isHttpUrl(value)) problems.push(`${name} must be an http(s) URL, got '${value}'`);
    return value.replace(/\/+$/, '');
  };

  const tenantId = required('INTUNE_TENANT_ID', 'the Microsoft Entra tenant id or domain');
  if (tenantId && !/^[A-Za-z0-9.-]+$/.test(tenantId))
    problems.push(`INTUNE_TENANT_ID must be a tenant id (GUID) or a domain name, got '${tenantId}'`);
  const clientId = required('INTUNE_CLIENT_ID', "the app registration's application (client) id");
  const clientSecret = required('INTUNE_CLIENT_SECRET', 'a client secret of that app registration');
  const graphBaseUrl = optionalUrl('INTUNE_GRAPH_BASE_URL', DEFAULT_GRAPH_BASE_URL);
  const tokenUrl = optionalUrl('INTUNE_TOKEN_URL', tenantId ? defaultTokenUrl(tenantId) : '');

  if (problems.length > 0) return { problems };
  return { settings: { tenantId, clientId, clientSecret, graphBaseUrl, tokenUrl }, problems };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
