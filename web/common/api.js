// api.js - the platform's HTTP/JSON API (docs/api.md) for the pages.
//
//   import { api, me } from '/common/api.js';
//   const r = await api('POST', '/api/applications', { json: {...}, headers: {...} });
//   if (!r.ok) showError(r.error);          // {code, field, message}
//
// The session is an HttpOnly cookie the page never sees; the CSRF token
// every state change needs comes from GET /api/me (or a sign-in's answer)
// and is kept in memory only.

let csrf = null;

export function setCsrf(token) {
  csrf = token;
}

/** {ok, status, json, error} - never throws for an HTTP error; a network failure gives status 0. */
export async function api(method, path, { json, body, headers = {} } = {}) {
  const h = { ...headers };
  let payload;
  if (json !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  } else if (body !== undefined) {
    payload = body;
  }
  if (method !== 'GET' && method !== 'HEAD' && csrf) h['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(path, { method, headers: h, body: payload, credentials: 'same-origin' });
  } catch (e) {
    return { ok: false, status: 0, json: null, error: { code: 'network', field: null, message: String(e) } };
  }
  let data = null;
  const text = await res.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (data && typeof data.csrf === 'string') csrf = data.csrf;
  return { ok: res.ok, status: res.status, json: data, text, error: data && data.error ? data.error : null };
}

/** Who is signed in: the /api/me answer, or null (and the CSRF token is kept). */
export async function me() {
  const r = await api('GET', '/api/me');
  return r.ok ? r.json : null;
}
