/**
 * One place that keeps secrets out of what the API and the worker print (DESIGN §6): configuration
 * errors, log lines and the errors they quote. It removes the user-info of URLs (`postgres://app:pw@db`
 * becomes `postgres://***@db`), bearer tokens, `dlk_` API keys, `password=`/`token=`-style pairs, and the
 * values of secret settings once the configuration is known (registerSecrets).
 */
import { inspect } from 'node:util';

export const MASK = '***';

/** Settings whose value is a secret as a whole, by name (API_TOKENS, MDM_API_KEY, *_PASSWORD, ...). */
export const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|ENCRYPTION_KEY|_KEYS?$|CREDENTIAL)/i;

const PATTERNS: [RegExp, string][] = [
  // scheme://user:password@host -> scheme://***@host (also a user alone: it is often a secret too).
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi, `$1${MASK}@`],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${MASK}`],
  [/\bdlk_[A-Za-z0-9_-]+/g, `dlk_${MASK}`],
  [/\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?token|client[_-]?secret)=[^\s&,;"']+/gi, `$1=${MASK}`],
];

/** Values shorter than this are not masked wherever they appear (they would mask ordinary words). */
const MIN_SECRET_LENGTH = 6;
const secrets = new Set<string>();

/** Values that must never be printed: masked wherever they appear from now on, in every log line. */
export function registerSecrets(values: Iterable<string>): void {
  for (const v of values) if (v.length >= MIN_SECRET_LENGTH) secrets.add(v);
}

/** The secret values in a parsed configuration: secret-named settings and static tokens. */
export function secretsOf(config: object): string[] {
  const found: string[] = [];
  const collect = (value: unknown, secret: boolean): void => {
    // URL passwords are not registered: the URL pattern masks them where they appear, and a short one
    // (the local `postgres`) would otherwise mask an ordinary word in every line.
    if (typeof value === 'string') {
      if (secret) found.push(value);
    } else if (Array.isArray(value)) value.forEach((v) => collect(v, secret));
    else if (value && typeof value === 'object') {
      // Not inherited: API_TOKENS entries are { token, actorId, role } and only the token is secret.
      for (const [k, v] of Object.entries(value)) collect(v, k === 'token' || SECRET_NAME.test(k));
    }
  };
  collect(config, false);
  return found;
}

export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(MASK);
  return out;
}

/** A log argument with its secrets masked: text as text, an Error as an Error (message and stack). */
export function redactArg(arg: unknown): unknown {
  if (typeof arg === 'string') return redactSecrets(arg);
  if (arg instanceof Error) {
    const copy = new Error(redactSecrets(arg.message));
    copy.name = arg.name;
    copy.stack = redactSecrets(arg.stack ?? `${arg.name}: ${arg.message}`);
    const cause = (arg as { cause?: unknown }).cause;
    if (cause !== undefined) (copy as { cause?: unknown }).cause = redactArg(cause);
    return copy;
  }
  if (arg && typeof arg === 'object') return redactSecrets(inspect(arg, { depth: 4, breakLength: Infinity }));
  return arg;
}

type LogMethod = (...args: unknown[]) => void;
export type RedactableLogger = Record<'error' | 'warn' | 'info', LogMethod>;

/** The logger with every argument passed through redactArg. */
export function redactingLogger<L extends RedactableLogger>(logger: L): L {
  const wrap =
    (m: LogMethod): LogMethod =>
    (...args) =>
      m(...args.map(redactArg));
  return {
    ...logger,
    error: wrap(logger.error.bind(logger)),
    warn: wrap(logger.warn.bind(logger)),
    info: wrap(logger.info.bind(logger)),
  };
}

let consolePatched = false;

/**
 * For processes (api/main.ts, worker/main.ts): masks the configuration's secrets and every pattern above
 * in all console output, including what libraries print, from here on.
 */
export function redactConsole(config: object): void {
  registerSecrets(secretsOf(config));
  if (consolePatched) return;
  consolePatched = true;
  for (const name of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[name].bind(console);
    console[name] = (...args: unknown[]) => original(...args.map(redactArg));
  }
}
