// berth console: hash routes: a route's segments, links to pages, and list state (page, size,
// name filter) kept in the hash query with history.replaceState, so a reload or a shared link
// shows the same page. app.js maps a route to its page.

import { seg } from './api.js';
import { DEFAULT_SIZE } from './table.js';

export function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const qi = raw.indexOf('?');
  const pathPart = qi >= 0 ? raw.slice(0, qi) : raw;
  const queryPart = qi >= 0 ? raw.slice(qi + 1) : '';
  const segs = pathPart.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch (_) {
      return s;
    }
  });
  return { segs, params: new URLSearchParams(queryPart), path: pathPart };
}

export const repoHref = (repo, tab = 'images') => `#/repositories/${seg(repo)}/${tab}`;
export const imageHref = (repo, image) => `#/repositories/${seg(repo)}/images/${String(image).split('/').map(seg).join('/')}`;
export const artifactHref = (repo, image, digest) => `${imageHref(repo, image)}/${seg(digest)}`;

// Records list state in the hash without a re-render.
export function setHashParams(params) {
  const { path } = parseHash();
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '' && !(k === 'page' && Number(v) === 1) && !(k === 'size' && Number(v) === DEFAULT_SIZE)) q.set(k, String(v));
  }
  const s = q.toString();
  const hash = `#${path}${s ? `?${s}` : ''}`;
  if (hash !== location.hash) history.replaceState(null, '', hash);
}

export const intParam = (params, key, dflt, max = Infinity) => {
  const n = Math.floor(Number(params.get(key)));
  return Number.isFinite(n) && n >= 1 ? Math.min(n, max) : dflt;
};

// Renders the page of the current hash; app.js sets it.
let router = () => {};

export function setRouter(handler) {
  router = handler;
}

export function navigate(hash) {
  if (location.hash === hash) router();
  else location.hash = hash;
}
