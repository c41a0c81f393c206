// berth console: the management API (/api/v1, see /api/v1/openapi.json) through fetch() with the
// session cookie; every write sends a JSON body or at least the JSON content type (the server's
// CSRF defence). Also the registry host the push and pull commands name.

import { h } from './dom.js';

const API = '/api/v1';

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// A path segment: percent-encoded, keeping ':' (legal in a segment; digests hold one).
export const seg = (s) => encodeURIComponent(String(s)).replace(/%3A/gi, ':');

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Called when a request answers 401 (the session ended); app.js sets it.
let unauthorized = () => {};

export function onUnauthorized(handler) {
  unauthorized = handler;
}

export async function api(method, path, body, options = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (method !== 'GET' && method !== 'HEAD') {
    init.headers['Content-Type'] = 'application/json';
    if (body !== undefined) init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch (_) {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check the connection and try again.');
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && data.error;
    const message = (err && err.message) || `The server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`;
    if (res.status === 401 && !options.noAuthRedirect) unauthorized();
    throw new ApiError(res.status, (err && err.code) || `http_${res.status}`, message);
  }
  return data;
}

export const errorMessage = (e) => (e && e.message) || 'Something went wrong.';

// The host users push to, as the server words its commands (it may differ from the console's
// own address behind a proxy); asked once, the console's host until the answer arrives.
let registryHostPromise = null;
export function registryHost(repo) {
  if (!registryHostPromise) {
    registryHostPromise = api('GET', `/repositories/${seg(repo)}/push-commands`)
      .then((c) => (c && c.host) || location.host)
      .catch(() => {
        registryHostPromise = null;
        return location.host;
      });
  }
  return registryHostPromise;
}

// A <code> showing `render(host)`, first with the console's host, then with the registry's.
export function hostCode(repo, render, props = {}) {
  const el = h('code', { class: 'inline-code', ...props }, render(location.host));
  registryHost(repo).then((host) => {
    el.textContent = render(host);
  });
  return el;
}
