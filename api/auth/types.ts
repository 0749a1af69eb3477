/**
 * Who is calling, and how an Authenticator says "no" with a reason the caller may see.
 */
import type { ApiRole } from '../../config/env';

export interface Actor {
  id: string;
  role: ApiRole;
  /**
   * Which credential acted, for the audit trail (DESIGN §6): `key:<api key id>`, `oidc:<iss>|<sub>` or
   * `static:<actor id>`. Set by every authenticator; optional for actors made elsewhere (tests, tools).
   */
  credential?: string;
}

/**
 * Turns a bearer token into an actor. `undefined` means "not a credential I know" (a generic 401);
 * throwing CredentialsRefused says why (expired, revoked, no role) in words safe to show the caller.
 */
export interface Authenticator {
  authenticate(token: string): Promise<Actor | undefined>;
}

/**
 * A credential that was recognised but refused. `status` 401: present a different credential;
 * 403: the credential is valid but grants no role here, so signing in again will not help.
 * The message never contains the token. `guess`: the credential was never valid (a bad signature), as
 * opposed to one that was (expired, revoked); only guesses count towards an address's back-off.
 */
export class CredentialsRefused extends Error {
  constructor(
    message: string,
    readonly status: 401 | 403 = 401,
    readonly guess = false,
  ) {
    super(message);
    this.name = 'CredentialsRefused';
  }
}
