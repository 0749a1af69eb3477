/**
 * From a verified token's claims to an actor: which claim names the person, which claim carries the
 * roles, and how an identity provider's group names become this service's roles.
 */
import { API_ROLES, type ApiRole } from '../../config/env';
import { CredentialsRefused } from './types';

export interface ClaimRules {
  /**
   * Claim naming the actor (default `sub`); `sub` is the fallback when it is absent or empty. An `email`
   * claim counts only when `email_verified` is true: anyone may type an address into an account.
   */
  actorClaim: string;
  /** Claim (or dotted path, e.g. `realm_access.roles`) holding a role name or a list of them. */
  roleClaim: string;
  /**
   * Claim value → role. When given, only listed values grant a role (the identity provider's group
   * names are not trusted to coincide with ours); when absent, the values must be our role names.
   */
  roleMap?: Readonly<Record<string, ApiRole>>;
}

/** Most privileged first: a person in several groups acts with the widest role they were given. */
const PRECEDENCE: readonly ApiRole[] = ['admin', 'field-staff', 'viewer'];

/** Some providers send the flag as the string "true". */
function emailVerified(claims: Record<string, unknown>): boolean {
  return claims.email_verified === true || claims.email_verified === 'true';
}

/**
 * The actor's id. Decision: an unverified email is refused (403 naming the reason) rather than replaced
 * by `sub`, so one person never shows up under two ids depending on a flag at the provider.
 */
export function actorIdFrom(claims: Record<string, unknown>, rules: ClaimRules): string | undefined {
  for (const name of [rules.actorClaim, 'sub']) {
    const value = claims[name];
    if (typeof value !== 'string' || value.trim() === '') continue;
    if (name === 'email' && !emailVerified(claims)) {
      throw new CredentialsRefused(
        'token email is not verified (email_verified is not true); the actor is taken from a verified email only',
        403,
      );
    }
    return value.trim();
  }
  return undefined;
}

function claimAt(claims: Record<string, unknown>, path: string): unknown {
  // A claim whose name itself contains dots (URL-style namespaced claims) wins over a nested path.
  if (path in claims) return claims[path];
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A string claim may hold several space-separated values (as `scope` does). */
function claimValues(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function mappedRole(value: string, map: ClaimRules['roleMap']): ApiRole | undefined {
  // hasOwn: a claim value like "__proto__" or "constructor" must not find something on the prototype.
  if (map) return Object.hasOwn(map, value) ? map[value] : undefined;
  return (API_ROLES as readonly string[]).includes(value) ? (value as ApiRole) : undefined;
}

export function roleFrom(claims: Record<string, unknown>, rules: ClaimRules): ApiRole | undefined {
  const values = claimValues(claimAt(claims, rules.roleClaim));
  const granted = new Set<ApiRole>();
  for (const value of values) {
    const role = mappedRole(value, rules.roleMap);
    if (role) granted.add(role);
  }
  return PRECEDENCE.find((r) => granted.has(r));
}
