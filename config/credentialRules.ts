/**
 * Start-up rules for the static tokens of API_TOKENS (DESIGN §6): development and example tokens only in
 * local development on loopback, and long random tokens in production. Messages name the entry and its
 * actor, never the token.
 */
import type { ApiTokenEntry } from './env';

/**
 * Tokens published in this repository (the built-in DEV_API_TOKENS, deploy/compose.example.env): anyone
 * can read them, so they are credentials only where nobody else can reach the API.
 */
export const DEVELOPMENT_TOKENS: ReadonlySet<string> = new Set([
  'dev-admin-token',
  'dev-field-token',
  'dev-viewer-token',
  'example-admin-token-change-me',
  'example-field-token-change-me',
]);

/** Placeholders people copy from examples ("change-me") are development tokens too. */
export function isDevelopmentToken(token: string): boolean {
  return DEVELOPMENT_TOKENS.has(token) || /change-?me/i.test(token);
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.trim().toLowerCase());
}

export interface DevelopmentTokenSetting {
  NODE_ENV: string;
  API_HOST: string;
}

/** Development tokens work only when nobody but this machine can call the API, and not in production. */
export function developmentTokensAllowed(c: DevelopmentTokenSetting): boolean {
  return (c.NODE_ENV === 'development' || c.NODE_ENV === 'test') && isLoopbackHost(c.API_HOST);
}

export const MIN_PRODUCTION_TOKEN_LENGTH = 32;
const MIN_DISTINCT_CHARACTERS = 10;

/** True when the token is made of a shorter piece repeated (`abcdabcd...`). */
function isRepetition(token: string): boolean {
  for (let unit = 1; unit <= token.length / 2; unit++) {
    if (token.length % unit === 0 && token.slice(0, unit).repeat(token.length / unit) === token) return true;
  }
  return false;
}

/**
 * Why a token is too weak for production, or undefined. Randomness cannot be proven from one string;
 * length, variety and the absence of a repeated pattern catch the hand-made ones (`admin-token-2024`,
 * `aaaa...`, `abab...`). `openssl rand -base64 32` passes.
 */
export function productionTokenWeakness(token: string): string | undefined {
  if (token.length < MIN_PRODUCTION_TOKEN_LENGTH)
    return `${token.length} characters, needs at least ${MIN_PRODUCTION_TOKEN_LENGTH}`;
  if (new Set(token).size < MIN_DISTINCT_CHARACTERS)
    return `only ${new Set(token).size} different characters, needs at least ${MIN_DISTINCT_CHARACTERS}`;
  if (isRepetition(token)) return 'a repeated pattern';
  return undefined;
}

export interface CredentialSettings extends DevelopmentTokenSetting {
  API_TOKENS: readonly ApiTokenEntry[];
}

/** Every API_TOKENS entry the environment must not accept, as configuration problems naming the variable. */
export function credentialProblems(c: CredentialSettings): string[] {
  const problems: string[] = [];
  const devAllowed = developmentTokensAllowed(c);
  c.API_TOKENS.forEach((entry, i) => {
    const which = `API_TOKENS: entry #${i + 1} (actor ${entry.actorId})`;
    if (isDevelopmentToken(entry.token) && !devAllowed) {
      problems.push(
        `${which} is a development or example token; those work only with NODE_ENV=development or test and ` +
          `API_HOST on loopback (127.0.0.1, ::1, localhost), not NODE_ENV=${c.NODE_ENV} with API_HOST=${c.API_HOST}`,
      );
      return;
    }
    const weakness = c.NODE_ENV === 'production' ? productionTokenWeakness(entry.token) : undefined;
    if (weakness) {
      problems.push(
        `${which} is too weak for production (${weakness}); use ${MIN_PRODUCTION_TOKEN_LENGTH}+ random ` +
          'characters, e.g. `openssl rand -base64 32`',
      );
    }
  });
  return problems;
}
