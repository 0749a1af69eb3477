/**
 * Who is calling, and how an Authenticator says "no" with a reason the caller may see.
 */
import type { ApiRole } from '../../config/env';

export interface Actor {
  id: string;
  role: ApiRole;
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
 * The message never contains the token.
 */
export class CredentialsRefused extends Error {
  constructor(
    message: string,
    readonly status: 401 | 403 = 401,
  ) {
    super(message);
    this.name = 'CredentialsRefused';
  }
}
