// SPDX-License-Identifier: Apache-2.0
// api.js - the dashboard's REST client: same-origin fetch with the session cookie, the CSRF
// token on every mutation, JSON bodies, problem+json errors turned into ApiError, and a
// callback when the session is gone (401).

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let csrfToken = null;
let onUnauthorized = () => {};

export function setCsrf(token) { csrfToken = token; }
export function whenUnauthorized(fn) { onUnauthorized = fn; }

export async function request(method, path, { body, ifMatch, headers } = {}) {
  const h = Object.assign({}, headers);
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) h['X-CSRF-Token'] = csrfToken;
  if (ifMatch) h['If-Match'] = ifMatch;
  const res = await fetch('/api/v1' + path, {
    method, headers: h, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  if (res.status !== 204 && type.includes('json')) data = await res.json();
  if (res.status === 401 && path !== '/auth/login') onUnauthorized();
  if (!res.ok) throw new ApiError(res.status, data);
  return { data, etag: res.headers.get('ETag'), status: res.status };
}

export const get = (p) => request('GET', p).then((r) => r.data);
export const post = (p, body) => request('POST', p, { body }).then((r) => r.data);
export const patch = (p, body, ifMatch) => request('PATCH', p, { body, ifMatch });
export const del = (p) => request('DELETE', p);

// One page of a list: the first (no cursor) or the one after cursor.
export async function page(path, cursor) {
  const sep = path.includes('?') ? '&' : '?';
  return get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
}
