/**
 * Authentication and roles for the API. Every route except health checks needs
 * `Authorization: Bearer <token>`; the actor found here is the only actor ever sent to a workflow
 * (a body cannot claim to be someone else).
 */
export { CredentialsRefused, type Actor, type Authenticator } from './types';
export { StaticTokenAuthenticator } from './staticTokens';
export { ApiKeyAuthenticator } from './apiKeys';
export { OidcAuthenticator, looksLikeJwt } from './oidc';
export { CompositeAuthenticator, createAuthenticator } from './fromConfig';
export { apiKeysRouter } from './apiKeysRouter';
export { actorOf, ANY_ROLE, authenticate, REPORTERS, requireRole } from './middleware';
export { guardedAuthentication } from './guardedAuthentication';
export { workflowActor } from './workflowActor';
