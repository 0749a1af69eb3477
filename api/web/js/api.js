// Talking to the API with the signed-in token. The token lives in sessionStorage: it survives a reload
// but not closing the tab, which suits a shared phone better than localStorage.
const TOKEN_KEY = 'device-lifecycle.token';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An answer that is not 2xx, with the API's `{ error: { code, message, details } }` when it sent one. */
export class ApiFailure extends Error {
  constructor(status, error) {
    super(error && error.message ? error.message : `the server answered ${status}`);
    this.status = status;
    this.code = error && error.code;
    this.details = (error && error.details) || {};
  }
}

export async function apiCall(method, path, { body, headers = {} } = {}) {
  const token = getToken();
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiFailure(0, {
      code: 'offline',
      message: 'Could not reach the server. Check the connection and try again.',
    });
  }
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new ApiFailure(res.status, json && json.error);
  return json;
}

/**
 * A fresh key for one opened form: a double tap or a retry after a lost answer sends the same key and
 * the workflow acknowledges it as a duplicate instead of applying it twice. getRandomValues works on
 * plain http too (randomUUID needs a secure context, which a phone on the office network may not have).
 */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'field-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
