// berth web console.
//
// Plain ES2020, no framework, no build step, nothing loaded from another origin: the server
// embeds this file and serves it at /assets/app.js. Every datum comes from the management API
// (/api/v1, see /api/v1/openapi.json) through fetch() with the session cookie; every write sends
// a JSON body or at least the JSON content type (the server's CSRF defence). Values from the
// server are only ever inserted as text nodes (h() below never parses HTML).
//
// Routes (hash):
//   #/repositories                                  the account's repositories
//   #/repositories/<repo>/images                    a repository: images tab
//   #/repositories/<repo>/images/<image path>       an image's artifacts
//   #/repositories/<repo>/users                     a repository: repository users tab
//   #/repositories/<repo>/history                   a repository: history tab
// List state (page, size, name filter) lives in the hash query (?page=2&size=50&name=api) and is
// updated with history.replaceState, so a reload or a shared link shows the same page.

'use strict';

(() => {
  const API = '/api/v1';
  const PAGE_SIZES = [10, 20, 50, 100];
  const DEFAULT_SIZE = 20;
  const SVGNS = 'http://www.w3.org/2000/svg';

  const state = {
    session: null,
    lastCopied: '',
  };

  // -------------------------------------------------------------------------------------------
  // DOM building: text only, never HTML parsing.
  // -------------------------------------------------------------------------------------------

  const DEFERRED_PROPS = new Set(['value', 'checked', 'selected']);

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    const deferred = [];
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value == null || value === false) continue;
        if (key === 'class') el.className = value;
        else if (key === 'style') Object.assign(el.style, value);
        else if (key.startsWith('on') && typeof value === 'function') {
          el.addEventListener(key.slice(2).toLowerCase(), value);
        } else if (DEFERRED_PROPS.has(key)) deferred.push([key, value]);
        else if (key === 'disabled' || key === 'required' || key === 'readOnly') el[key] = !!value;
        else el.setAttribute(key, value === true ? '' : String(value));
      }
    }
    append(el, children);
    // A <select>'s value can only be set once its options exist.
    for (const [key, value] of deferred) el[key] = value;
    return el;
  }

  function append(el, ...children) {
    for (const child of children.flat(Infinity)) {
      if (child == null || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function replace(el, ...children) {
    clear(el);
    return append(el, ...children);
  }

  // Icons: 24x24 stroke outlines drawn for this console.
  const P = (d) => ['path', { d }];
  const C = (cx, cy, r) => ['circle', { cx, cy, r }];
  const R = (x, y, width, height, rx) => ['rect', { x, y, width, height, rx }];
  const ICONS = {
    anchor: [C(12, 5, 3), P('M12 22V8'), P('M5 12H2a10 10 0 0 0 20 0h-3')],
    box: [
      P('M21 16V8a2 2 0 0 0-1-1.73l-7-4a2 2 0 0 0-2 0l-7 4A2 2 0 0 0 3 8v8a2 2 0 0 0 1 1.73l7 4a2 2 0 0 0 2 0l7-4A2 2 0 0 0 21 16z'),
      P('M3.3 7 12 12l8.7-5'),
      P('M12 22V12'),
    ],
    layers: [P('M12 2 2 7l10 5 10-5-10-5z'), P('M2 17l10 5 10-5'), P('M2 12l10 5 10-5')],
    users: [
      P('M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2'),
      C(9, 7, 4),
      P('M23 21v-2a4 4 0 0 0-3-3.87'),
      P('M16 3.13a4 4 0 0 1 0 7.75'),
    ],
    clock: [C(12, 12, 10), P('M12 6v6l4 2')],
    copy: [R(9, 9, 13, 13, 2), P('M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1')],
    check: [P('M20 6 9 17l-5-5')],
    more: [C(12, 5, 1), C(12, 12, 1), C(12, 19, 1)],
    plus: [P('M12 5v14'), P('M5 12h14')],
    search: [C(11, 11, 8), P('m21 21-4.35-4.35')],
    trash: [P('M3 6h18'), P('M19 6v14a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V6'), P('M8 6V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2')],
    edit: [
      P('M11 4H4a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2v-7'),
      P('M18.5 2.5a2.12 2.12 0 0 1 3 3L12 15l-4 1 1-4 9.5-9.5z'),
    ],
    refresh: [
      P('M23 4v6h-6'),
      P('M1 20v-6h6'),
      P('M3.51 9a9 9 0 0 1 14.85-3.36L23 10M1 14l4.64 4.36A9 9 0 0 0 20.49 15'),
    ],
    logout: [P('M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4'), P('M16 17l5-5-5-5'), P('M21 12H9')],
    terminal: [P('M4 17l6-6-6-6'), P('M12 19h8')],
    left: [P('M15 18l-6-6 6-6')],
    right: [P('M9 18l6-6-6-6')],
    alert: [
      P('M10.29 3.86 1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86a2 2 0 0 0-3.42 0z'),
      P('M12 9v4'),
      P('M12 17h.01'),
    ],
    x: [P('M18 6 6 18'), P('M6 6l12 12')],
    download: [P('M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4'), P('M7 10l5 5 5-5'), P('M12 15V3')],
    tag: [P('M20.59 13.41l-7.17 7.17a2 2 0 0 1-2.83 0L2 12V2h10l8.59 8.59a2 2 0 0 1 0 2.82z'), P('M7 7h.01')],
    book: [P('M4 19.5A2.5 2.5 0 0 1 6.5 17H20'), P('M6.5 2H20v20H6.5A2.5 2.5 0 0 1 4 19.5v-15A2.5 2.5 0 0 1 6.5 2z')],
    key: [C(7.5, 15.5, 5.5), P('M11.4 11.6 21 2'), P('M15.5 7.5l3 3L22 7l-3-3')],
    lock: [R(3, 11, 18, 11, 2), P('M7 11V7a5 5 0 0 1 10 0v4')],
    globe: [C(12, 12, 10), P('M2 12h20'), P('M12 2a15.3 15.3 0 0 1 4 10 15.3 15.3 0 0 1-4 10 15.3 15.3 0 0 1-4-10 15.3 15.3 0 0 1 4-10z')],
    inbox: [P('M22 12h-6l-2 3h-4l-2-3H2'), P('M5.45 5.11 2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.45-6.89A2 2 0 0 0 16.76 4H7.24a2 2 0 0 0-1.79 1.11z')],
    info: [C(12, 12, 10), P('M12 16v-4'), P('M12 8h.01')],
  };

  function icon(name, size = 16) {
    const svg = document.createElementNS(SVGNS, 'svg');
    const attrs = {
      viewBox: '0 0 24 24', width: size, height: size, fill: 'none', stroke: 'currentColor',
      'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round',
      'aria-hidden': 'true', focusable: 'false', class: 'icon',
    };
    for (const [k, v] of Object.entries(attrs)) svg.setAttribute(k, String(v));
    for (const [tag, a] of ICONS[name] || []) {
      const part = document.createElementNS(SVGNS, tag);
      for (const [k, v] of Object.entries(a)) part.setAttribute(k, String(v));
      svg.append(part);
    }
    return svg;
  }

  // -------------------------------------------------------------------------------------------
  // Formatting
  // -------------------------------------------------------------------------------------------

  const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

  function formatBytes(n) {
    if (n == null || !Number.isFinite(Number(n))) return '—';
    let v = Number(n);
    if (v < 1024) return `${v} B`;
    let i = 0;
    while (v >= 1024 && i < BYTE_UNITS.length - 1) {
      v /= 1024;
      i += 1;
    }
    const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
    return `${Number(v.toFixed(digits)).toLocaleString()} ${BYTE_UNITS[i]}`;
  }

  const numberFormat = new Intl.NumberFormat();
  const formatNumber = (n) => numberFormat.format(Number(n) || 0);

  const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
  const dateFormatUtc = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC',
  });
  const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

  function parseTime(iso) {
    if (!iso) return null;
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function formatTime(iso) {
    const d = parseTime(iso);
    return d ? dateTimeFormat.format(d) : String(iso || '');
  }

  function relativeTime(d) {
    const seconds = Math.round((d.getTime() - Date.now()) / 1000);
    const abs = Math.abs(seconds);
    if (abs < 45) return relativeFormat.format(seconds, 'second');
    if (abs < 2700) return relativeFormat.format(Math.round(seconds / 60), 'minute');
    if (abs < 64800) return relativeFormat.format(Math.round(seconds / 3600), 'hour');
    if (abs < 30 * 86400) return relativeFormat.format(Math.round(seconds / 86400), 'day');
    if (abs < 365 * 86400) return relativeFormat.format(Math.round(seconds / (30 * 86400)), 'month');
    return relativeFormat.format(Math.round(seconds / (365 * 86400)), 'year');
  }

  // A time cell: local date-time, the relative time and the exact instant on hover.
  function timeCell(iso, empty = 'never', testid) {
    const d = parseTime(iso);
    if (!d) return h('span', { class: 'muted', 'data-testid': testid }, iso ? String(iso) : empty);
    return h('time', {
      datetime: d.toISOString(), title: `${relativeTime(d)} · ${d.toISOString()}`, 'data-testid': testid,
    }, dateTimeFormat.format(d));
  }

  // An expiry set as a date (midnight UTC) reads best as that date; any other instant in local time.
  function formatExpiry(iso) {
    const d = parseTime(iso);
    if (!d) return String(iso || '');
    const midnightUtc = d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0;
    return midnightUtc ? dateFormatUtc.format(d) : dateTimeFormat.format(d);
  }

  function utcDateInput(iso) {
    const d = parseTime(iso);
    return d ? d.toISOString().slice(0, 10) : '';
  }

  function shortDigest(digest) {
    const s = String(digest || '');
    const i = s.indexOf(':');
    return i >= 0 ? s.slice(i + 1, i + 13) : s.slice(0, 12);
  }

  const MEDIA_TYPES = {
    'application/vnd.oci.image.manifest.v1+json': 'OCI image',
    'application/vnd.oci.image.index.v1+json': 'OCI index',
    'application/vnd.docker.distribution.manifest.v2+json': 'Docker image',
    'application/vnd.docker.distribution.manifest.list.v2+json': 'Docker manifest list',
  };

  // The config media types of plain container images: the artifact type the registry reports
  // for an image manifest without its own artifactType, which says nothing more than "image".
  const IMAGE_CONFIG_TYPES = new Set([
    'application/vnd.oci.image.config.v1+json',
    'application/vnd.docker.container.image.v1+json',
  ]);

  function mediaTypeLabel(artifact) {
    if (artifact.artifact_type && !IMAGE_CONFIG_TYPES.has(artifact.artifact_type)) return artifact.artifact_type;
    return MEDIA_TYPES[artifact.media_type] || artifact.media_type || '—';
  }

  const PERMISSIONS = { push_pull: 'Push & pull', pull: 'Pull only' };

  // -------------------------------------------------------------------------------------------
  // API
  // -------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // A path segment: percent-encoded, keeping ':' (legal in a segment; digests hold one).
  const seg = (s) => encodeURIComponent(String(s)).replace(/%3A/gi, ':');

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  async function api(method, path, body, options = {}) {
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
      if (res.status === 401 && !options.noAuthRedirect) sessionLost();
      throw new ApiError(res.status, (err && err.code) || `http_${res.status}`, message);
    }
    return data;
  }

  const errorMessage = (e) => (e && e.message) || 'Something went wrong.';

  // The host users push to, as the server words its commands (it may differ from the console's
  // own address behind a proxy); asked once, the console's host until the answer arrives.
  let registryHostPromise = null;
  function registryHost(repo) {
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
  function hostCode(repo, render, props = {}) {
    const el = h('code', { class: 'inline-code', ...props }, render(location.host));
    registryHost(repo).then((host) => {
      el.textContent = render(host);
    });
    return el;
  }

  // -------------------------------------------------------------------------------------------
  // Toasts, clipboard
  // -------------------------------------------------------------------------------------------

  const toastHost = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
  const lastCopiedEl = h('output', { class: 'sr-only', 'data-testid': 'last-copied', 'aria-hidden': 'true' });

  function toast(message, kind = 'success') {
    const close = () => {
      el.classList.add('leaving');
      setTimeout(() => el.remove(), 200);
    };
    const el = h('div', { class: `toast toast-${kind}`, 'data-testid': 'toast', 'data-kind': kind },
      icon(kind === 'error' ? 'alert' : kind === 'info' ? 'info' : 'check', 18),
      h('div', { class: 'toast-text' }, message),
      h('button', { class: 'icon-btn toast-close', type: 'button', 'aria-label': 'Dismiss', onclick: close }, icon('x', 14)));
    toastHost.append(el);
    while (toastHost.children.length > 4) toastHost.firstChild.remove();
    setTimeout(close, kind === 'error' ? 7000 : 3000);
  }

  function legacyCopy(text) {
    const area = h('textarea', { class: 'clipboard-helper', readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (_) {
      ok = false;
    }
    area.remove();
    return ok;
  }

  async function copyText(text, what = 'Copied') {
    state.lastCopied = text;
    lastCopiedEl.textContent = text;
    let ok = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        ok = true;
      } catch (_) {
        ok = false;
      }
    }
    if (!ok) ok = legacyCopy(text);
    if (ok) toast(what);
    else toast('The browser refused to copy: select the text and copy it by hand.', 'error');
    return ok;
  }

  function copyButton(getText, { testid, label = 'Copy', toastText = 'Copied', withText = false } = {}) {
    const btn = h('button', {
      type: 'button', class: withText ? 'btn btn-secondary btn-sm' : 'icon-btn', title: label, 'aria-label': label,
      'data-testid': testid,
      onclick: async (ev) => {
        ev.stopPropagation();
        const text = typeof getText === 'function' ? getText() : getText;
        if (await copyText(text, toastText)) {
          btn.classList.add('copied');
          setTimeout(() => btn.classList.remove('copied'), 1500);
        }
      },
    }, icon('copy', 14), withText ? label : null);
    return btn;
  }

  // -------------------------------------------------------------------------------------------
  // Small components
  // -------------------------------------------------------------------------------------------

  function pill(text, variant = 'gray', props = {}) {
    return h('span', { ...props, class: `pill pill-${variant}${props.class ? ` ${props.class}` : ''}` }, text);
  }

  function accessPill(level) {
    return level === 'public'
      ? pill([icon('globe', 12), 'Public'], 'green', { 'data-testid': 'access-level', 'data-access': level })
      : pill([icon('lock', 12), 'Private'], 'gray', { 'data-testid': 'access-level', 'data-access': level });
  }

  function usageBar(used, quota, { large = false } = {}) {
    const hasLimit = quota !== null && quota !== undefined;
    const ratio = hasLimit ? (quota > 0 ? used / quota : used > 0 ? 1 : 0) : 0;
    const pct = Math.min(100, Math.max(0, ratio * 100));
    const level = pct >= 90 ? 'danger' : pct >= 70 ? 'warn' : 'ok';
    const fill = h('div', { class: `usage-fill usage-${level}` });
    fill.style.width = `${hasLimit ? Math.max(pct, used > 0 ? 1 : 0) : 0}%`;
    const label = hasLimit
      ? [h('strong', null, formatBytes(used)), ` of ${formatBytes(quota)}`, h('span', { class: 'muted' }, ` · ${pct < 1 && used > 0 ? '<1' : Math.round(pct)}%`)]
      : [h('strong', null, formatBytes(used)), h('span', { class: 'muted' }, ' · no limit')];
    return h('div', {
      class: `usage${large ? ' usage-large' : ''}`, 'data-testid': 'storage', title: hasLimit ? `${used} of ${quota} bytes` : `${used} bytes, no limit`,
    },
    h('div', { class: 'usage-label' }, label),
    h('div', { class: `usage-track${hasLimit ? '' : ' usage-unlimited'}` }, fill));
  }

  function spinner(size = 18) {
    const el = h('span', { class: 'spinner', role: 'progressbar', 'aria-label': 'Loading' });
    el.style.width = `${size}px`;
    el.style.height = `${size}px`;
    return el;
  }

  function emptyState({ iconName = 'inbox', title, text, action, testid = 'empty-state' }) {
    return h('div', { class: 'empty', 'data-testid': testid },
      h('div', { class: 'empty-icon' }, icon(iconName, 28)),
      h('div', { class: 'empty-title' }, title),
      text ? h('div', { class: 'empty-text' }, text) : null,
      action || null);
  }

  function errorState(err, retry) {
    return h('div', { class: 'empty empty-error', 'data-testid': 'error-state' },
      h('div', { class: 'empty-icon' }, icon('alert', 28)),
      h('div', { class: 'empty-title' }, 'Could not load this page'),
      h('div', { class: 'empty-text' }, errorMessage(err)),
      retry ? h('button', { class: 'btn btn-secondary', type: 'button', onclick: retry }, icon('refresh', 14), 'Try again') : null);
  }

  function button(label, { kind = 'secondary', iconName, onClick, testid, type = 'button', size, title, disabled } = {}) {
    return h('button', {
      type, class: `btn btn-${kind}${size ? ` btn-${size}` : ''}`, onclick: onClick, 'data-testid': testid, title, disabled,
    }, iconName ? icon(iconName, 16) : null, label);
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  // -------------------------------------------------------------------------------------------
  // Dialogs
  // -------------------------------------------------------------------------------------------

  const openDialogs = [];

  // A modal dialog. `content` is the body; `footer` the buttons. With `onSubmit`, the dialog is a
  // form: Enter submits, the submit button shows progress, errors appear inside the dialog and
  // the dialog closes when onSubmit resolves to anything but false.
  function openDialog({ title, subtitle, content, footer, onSubmit, submitLabel = 'Save', submitKind = 'primary',
    cancelLabel = 'Cancel', size = 'md', testid = 'dialog', dismissable = true, onClose, submitTestid = 'dialog-submit' }) {
    const previousFocus = document.activeElement;
    const errorBox = h('div', { class: 'alert alert-error', 'data-testid': 'dialog-error', role: 'alert', hidden: true });
    const submitBtn = onSubmit
      ? h('button', { type: 'submit', class: `btn btn-${submitKind}`, 'data-testid': submitTestid }, submitLabel)
      : null;
    const closeBtn = h('button', { type: 'button', class: 'icon-btn dialog-x', 'aria-label': 'Close', onclick: () => close() }, icon('x', 18));
    const footerEl = h('div', { class: 'dialog-footer' },
      footer || [
        h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'dialog-cancel', onclick: () => close() }, cancelLabel),
        submitBtn,
      ]);
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const panel = h(onSubmit ? 'form' : 'div', {
      class: `dialog dialog-${size}`, role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId, 'data-testid': testid, novalidate: onSubmit ? true : null,
    },
    h('div', { class: 'dialog-header' },
      h('div', null, h('h2', { id: titleId, class: 'dialog-title' }, title), subtitle ? h('div', { class: 'dialog-subtitle' }, subtitle) : null),
      dismissable ? closeBtn : null),
    h('div', { class: 'dialog-body' }, errorBox, content),
    footerEl);
    const overlay = h('div', { class: 'overlay' }, panel);
    let closed = false;
    let busy = false;

    function close(result) {
      if (closed) return;
      closed = true;
      overlay.classList.add('leaving');
      setTimeout(() => overlay.remove(), 150);
      const i = openDialogs.indexOf(dialog);
      if (i >= 0) openDialogs.splice(i, 1);
      if (!openDialogs.length) document.body.classList.remove('modal-open');
      if (previousFocus && previousFocus.focus && document.contains(previousFocus)) previousFocus.focus();
      if (onClose) onClose(result);
    }

    function setError(message) {
      errorBox.hidden = !message;
      replace(errorBox, message ? [icon('alert', 16), h('span', null, message)] : []);
    }

    function setBusy(on) {
      busy = on;
      panel.classList.toggle('busy', on);
      if (submitBtn) {
        submitBtn.disabled = on;
        replace(submitBtn, on ? [spinner(14), submitLabel] : [submitLabel]);
      }
    }

    if (onSubmit) {
      panel.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (busy) return;
        setError('');
        setBusy(true);
        try {
          const result = await onSubmit();
          setBusy(false);
          if (result !== false) close(result);
        } catch (e) {
          setBusy(false);
          setError(errorMessage(e));
        }
      });
    }
    overlay.addEventListener('mousedown', (ev) => {
      if (ev.target === overlay && dismissable && !busy) close();
    });
    const dialog = { overlay, panel, close, setError, setBusy, dismissable, isBusy: () => busy };
    openDialogs.push(dialog);
    document.body.classList.add('modal-open');
    document.body.append(overlay);
    requestAnimationFrame(() => {
      const first = panel.querySelector('[autofocus], .dialog-body input:not([disabled]):not([type=hidden]), .dialog-body select, .dialog-body textarea')
        || submitBtn || panel.querySelector('.dialog-footer .btn');
      if (first) first.focus();
    });
    return dialog;
  }

  function confirmDialog({ title, message, confirmLabel = 'Delete', danger = true, action }) {
    return new Promise((resolve) => {
      let done = false;
      openDialog({
        title,
        content: h('div', { class: 'confirm-text' }, message),
        submitLabel: confirmLabel,
        submitKind: danger ? 'danger' : 'primary',
        submitTestid: 'confirm-ok',
        testid: 'confirm-dialog',
        size: 'sm',
        onSubmit: async () => {
          if (action) await action();
          done = true;
        },
        onClose: () => resolve(done),
      });
    });
  }

  document.addEventListener('keydown', (ev) => {
    const top = openDialogs[openDialogs.length - 1];
    if (ev.key === 'Tab' && top && !activeMenu) {
      // Keep the focus inside the open dialog.
      const focusable = [...top.panel.querySelectorAll('a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled])')]
        .filter((el) => el.offsetParent !== null);
      if (!focusable.length) return;
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      if (!top.panel.contains(document.activeElement)) {
        first.focus();
        ev.preventDefault();
      } else if (ev.shiftKey && document.activeElement === first) {
        last.focus();
        ev.preventDefault();
      } else if (!ev.shiftKey && document.activeElement === last) {
        first.focus();
        ev.preventDefault();
      }
      return;
    }
    if (ev.key !== 'Escape') return;
    if (closeMenu()) return;
    if (top && top.dismissable && !top.isBusy()) top.close();
  });

  // -------------------------------------------------------------------------------------------
  // Action menus
  // -------------------------------------------------------------------------------------------

  let activeMenu = null;

  function closeMenu() {
    if (!activeMenu) return false;
    activeMenu.menu.remove();
    activeMenu.button.setAttribute('aria-expanded', 'false');
    activeMenu = null;
    return true;
  }

  // items: {label, iconName, onClick, danger, testid, data} | {header} | 'separator'
  function actionMenu(items, { testid = 'row-actions', label = 'Actions' } = {}) {
    const btn = h('button', {
      type: 'button', class: 'icon-btn menu-btn', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-label': label, title: label, 'data-testid': testid,
    }, icon('more', 18));
    btn.addEventListener('click', (ev) => {
      ev.stopPropagation();
      if (activeMenu && activeMenu.button === btn) {
        closeMenu();
        return;
      }
      closeMenu();
      const list = typeof items === 'function' ? items() : items;
      const menu = h('div', { class: 'menu', role: 'menu', 'data-testid': 'menu' },
        list.map((item) => {
          if (item === 'separator') return h('div', { class: 'menu-sep', role: 'separator' });
          if (item.header) return h('div', { class: 'menu-header' }, item.header);
          const props = {
            type: 'button', role: 'menuitem', class: `menu-item${item.danger ? ' menu-danger' : ''}`, 'data-testid': item.testid,
            onclick: (e) => {
              e.stopPropagation();
              closeMenu();
              item.onClick();
            },
          };
          for (const [k, v] of Object.entries(item.data || {})) props[`data-${k}`] = v;
          return h('button', props, item.iconName ? icon(item.iconName, 15) : h('span', { class: 'menu-icon-gap' }), h('span', null, item.label));
        }));
      document.body.append(menu);
      const r = btn.getBoundingClientRect();
      const mr = menu.getBoundingClientRect();
      let top = r.bottom + 4;
      if (top + mr.height > window.innerHeight - 8 && r.top - mr.height - 4 > 8) top = r.top - mr.height - 4;
      const left = Math.max(8, Math.min(r.right - mr.width, window.innerWidth - mr.width - 8));
      menu.style.top = `${top + window.scrollY}px`;
      menu.style.left = `${left + window.scrollX}px`;
      btn.setAttribute('aria-expanded', 'true');
      activeMenu = { menu, button: btn };
      const firstItem = menu.querySelector('.menu-item');
      if (firstItem) firstItem.focus();
    });
    return btn;
  }

  document.addEventListener('mousedown', (ev) => {
    if (activeMenu && !activeMenu.menu.contains(ev.target) && ev.target !== activeMenu.button && !activeMenu.button.contains(ev.target)) closeMenu();
  });
  window.addEventListener('resize', () => closeMenu());
  document.addEventListener('keydown', (ev) => {
    if (!activeMenu || (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp')) return;
    const items = [...activeMenu.menu.querySelectorAll('.menu-item')];
    const i = items.indexOf(document.activeElement);
    const next = ev.key === 'ArrowDown' ? (i + 1) % items.length : (i - 1 + items.length) % items.length;
    items[next].focus();
    ev.preventDefault();
  });

  // -------------------------------------------------------------------------------------------
  // Tables and server-side pagination
  // -------------------------------------------------------------------------------------------

  // columns: [{title, render(item), class, width}]
  function dataTable({ columns, rowTestid, rowProps, empty, testid }) {
    const thead = h('thead', null, h('tr', null, columns.map((c) => {
      const th = h('th', { class: c.class, scope: 'col' }, c.title);
      if (c.width) th.style.width = c.width;
      return th;
    })));
    const tbody = h('tbody');
    const table = h('table', { class: 'table', 'data-testid': testid }, thead, tbody);
    const below = h('div', { class: 'table-state' });
    const wrap = h('div', { class: 'table-wrap' }, h('div', { class: 'table-scroll' }, table), below);
    let hasRows = false;

    function setLoading() {
      replace(below);
      if (hasRows) {
        wrap.classList.add('reloading');
        return;
      }
      wrap.classList.add('loading');
      replace(tbody, Array.from({ length: 5 }, () => h('tr', { class: 'skeleton-row' },
        columns.map(() => h('td', null, h('span', { class: 'skeleton' }))))));
    }

    function setItems(items, emptyArgs) {
      wrap.classList.remove('loading', 'reloading');
      replace(tbody, items.map((item) => {
        const props = { 'data-testid': rowTestid, ...(rowProps ? rowProps(item) : {}) };
        return h('tr', props, columns.map((c) => h('td', { class: c.class }, c.render(item))));
      }));
      hasRows = items.length > 0;
      replace(below, items.length ? [] : [emptyState(typeof empty === 'function' ? empty(emptyArgs) : empty)]);
      table.classList.toggle('is-empty', !items.length);
    }

    function setError(err, retry) {
      wrap.classList.remove('loading', 'reloading');
      clear(tbody);
      hasRows = false;
      table.classList.add('is-empty');
      replace(below, errorState(err, retry));
    }

    return { el: wrap, setLoading, setItems, setError };
  }

  function pager(onChange) {
    const info = h('span', { class: 'pager-info', 'data-testid': 'page-info' });
    const sizeSelect = h('select', { class: 'select select-sm', 'data-testid': 'page-size', 'aria-label': 'Items per page' },
      PAGE_SIZES.map((s) => h('option', { value: String(s) }, `${s} / page`)));
    const prev = h('button', { type: 'button', class: 'icon-btn pager-btn', 'aria-label': 'Previous page', 'data-testid': 'page-prev' }, icon('left', 16));
    const next = h('button', { type: 'button', class: 'icon-btn pager-btn', 'aria-label': 'Next page', 'data-testid': 'page-next' }, icon('right', 16));
    const pageInput = h('input', { class: 'input input-sm pager-input', type: 'number', min: '1', 'aria-label': 'Page', 'data-testid': 'page-input' });
    const pages = h('span', { class: 'pager-pages' });
    const el = h('div', { class: 'pager', 'data-testid': 'pager' }, info,
      h('div', { class: 'pager-controls' }, sizeSelect, prev, h('span', { class: 'pager-page' }, 'Page', pageInput, pages), next));
    let cur = { page: 1, size: DEFAULT_SIZE, total: 0 };
    const lastPage = () => Math.max(1, Math.ceil(cur.total / cur.size));

    prev.addEventListener('click', () => cur.page > 1 && onChange(cur.page - 1, cur.size));
    next.addEventListener('click', () => cur.page < lastPage() && onChange(cur.page + 1, cur.size));
    sizeSelect.addEventListener('change', () => onChange(1, Number(sizeSelect.value)));
    pageInput.addEventListener('change', () => {
      const p = Math.min(lastPage(), Math.max(1, Math.floor(Number(pageInput.value) || 1)));
      onChange(p, cur.size);
    });

    function update(page, size, total) {
      cur = { page, size, total };
      const first = total === 0 ? 0 : (page - 1) * size + 1;
      const last = Math.min(total, page * size);
      info.textContent = total === 0 ? 'No items' : `${formatNumber(first)}–${formatNumber(last)} of ${formatNumber(total)}`;
      if (!PAGE_SIZES.includes(size)) sizeSelect.append(h('option', { value: String(size) }, `${size} / page`));
      sizeSelect.value = String(size);
      pageInput.value = String(page);
      pageInput.max = String(lastPage());
      pages.textContent = `of ${formatNumber(lastPage())}`;
      prev.disabled = page <= 1;
      next.disabled = page >= lastPage();
      el.hidden = total === 0;
    }
    update(1, DEFAULT_SIZE, 0);
    return { el, update };
  }

  // Loads pages of a list endpoint into a table and a pager. `load(page, size)` returns the
  // API's {items, page, size, total}. Only the newest request's answer is shown.
  function pagedList({ table, load, page = 1, size = DEFAULT_SIZE, onState, emptyArgs }) {
    let seq = 0;
    let current = { page, size };
    const pg = pager((p, s) => go(p, s));

    async function go(p, s) {
      current = { page: p, size: s };
      if (onState) onState(current);
      const mine = ++seq;
      table.setLoading();
      try {
        const data = await load(p, s);
        if (mine !== seq) return;
        const items = data.items || [];
        const total = Number(data.total) || 0;
        // A page past the end (after deletes): show the last page instead.
        if (!items.length && total > 0 && p > 1) {
          go(Math.max(1, Math.ceil(total / s)), s);
          return;
        }
        table.setItems(items, emptyArgs ? emptyArgs() : undefined);
        pg.update(data.page || p, data.size || s, total);
      } catch (e) {
        if (mine !== seq) return;
        if (e.status === 401) return;
        table.setError(e, () => go(current.page, current.size));
        pg.update(p, s, 0);
      }
    }

    return {
      pager: pg.el,
      reload: () => go(current.page, current.size),
      goTo: (p) => go(p, current.size),
      start: () => go(current.page, current.size),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Routing
  // -------------------------------------------------------------------------------------------

  function parseHash() {
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

  const repoHref = (repo, tab = 'images') => `#/repositories/${seg(repo)}/${tab}`;
  const imageHref = (repo, image) => `#/repositories/${seg(repo)}/images/${String(image).split('/').map(seg).join('/')}`;

  // Records list state in the hash without a re-render.
  function setHashParams(params) {
    const { path } = parseHash();
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== '' && !(k === 'page' && Number(v) === 1) && !(k === 'size' && Number(v) === DEFAULT_SIZE)) q.set(k, String(v));
    }
    const s = q.toString();
    const hash = `#${path}${s ? `?${s}` : ''}`;
    if (hash !== location.hash) history.replaceState(null, '', hash);
  }

  const intParam = (params, key, dflt, max = Infinity) => {
    const n = Math.floor(Number(params.get(key)));
    return Number.isFinite(n) && n >= 1 ? Math.min(n, max) : dflt;
  };

  function navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  // -------------------------------------------------------------------------------------------
  // Shell: sidebar, top bar, content
  // -------------------------------------------------------------------------------------------

  const root = document.getElementById('app');
  let shell = null;

  function roleLabel(session) {
    if (session.role === 'admin') return 'System administrator';
    return session.account != null ? `Account ${session.account}` : 'Console user';
  }

  function buildShell() {
    const content = h('main', { class: 'content', id: 'content', tabindex: '-1' });
    const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb', 'data-testid': 'breadcrumbs' });
    const navRepos = h('a', { class: 'nav-item', href: '#/repositories', 'data-testid': 'nav-repositories' }, icon('box', 18), h('span', null, 'Repositories'));
    const session = state.session;
    const initials = (session.username || '?').slice(0, 2).toUpperCase();
    const sidebar = h('aside', { class: 'sidebar' }, h('div', { class: 'sidebar-inner' },
      h('a', { class: 'brand', href: '#/repositories' }, h('span', { class: 'brand-mark' }, icon('anchor', 20)), h('span', { class: 'brand-name' }, 'berth'), h('span', { class: 'brand-tag' }, 'Registry')),
      h('div', { class: 'nav-section' }, 'Container registry'),
      h('nav', { class: 'nav' }, navRepos),
      h('div', { class: 'nav-section' }, 'Developers'),
      h('nav', { class: 'nav' },
        h('a', { class: 'nav-item', href: '/api/v1/openapi.json', target: '_blank', rel: 'noopener' }, icon('book', 18), h('span', null, 'API reference'))),
      h('div', { class: 'sidebar-foot' }, 'OCI Distribution v1.1')));
    const topbar = h('header', { class: 'topbar' }, crumbs,
      h('div', { class: 'user' },
        h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials),
        h('div', { class: 'user-text' },
          h('div', { class: 'user-name', 'data-testid': 'session-user' }, session.username),
          h('div', { class: 'user-role' }, roleLabel(session))),
        h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'logout', onclick: logout, title: 'Log out' }, icon('logout', 15), 'Log out')));
    const layout = h('div', { class: 'layout' }, sidebar, h('div', { class: 'main' }, topbar, content));
    replace(root, layout);
    shell = { content, crumbs, navRepos };
  }

  function setCrumbs(items) {
    replace(shell.crumbs, items.map((item, i) => [
      i > 0 ? h('span', { class: 'crumb-sep', 'aria-hidden': 'true' }, '/') : null,
      item.href && i < items.length - 1
        ? h('a', { class: 'crumb', href: item.href }, item.label)
        : h('span', { class: 'crumb crumb-current', 'aria-current': 'page' }, item.label),
    ]));
    document.title = `${items[items.length - 1].label} · berth`;
  }

  function route() {
    closeMenu();
    for (const d of [...openDialogs]) d.close();
    if (!state.session) {
      renderLogin();
      return;
    }
    if (!shell || !document.contains(shell.content)) buildShell();
    const { segs, params } = parseHash();
    const content = shell.content;
    clear(content);
    window.scrollTo(0, 0);
    if (segs.length === 0 || (segs[0] === 'login' && segs.length === 1)) {
      history.replaceState(null, '', '#/repositories');
      renderRepositories(content, params);
      return;
    }
    if (segs[0] !== 'repositories') {
      renderNotFound(content);
      return;
    }
    if (segs.length === 1) {
      renderRepositories(content, params);
      return;
    }
    const repo = segs[1];
    if (segs.length === 2) {
      history.replaceState(null, '', repoHref(repo, 'images'));
      renderRepository(content, repo, 'images', params);
      return;
    }
    const tab = segs[2];
    if (tab === 'images' && segs.length > 3) {
      renderArtifacts(content, repo, segs.slice(3).join('/'), params);
      return;
    }
    if (['images', 'users', 'history'].includes(tab) && segs.length === 3) {
      renderRepository(content, repo, tab, params);
      return;
    }
    renderNotFound(content);
  }

  function renderNotFound(content) {
    setCrumbs([{ label: 'Not found' }]);
    append(content, h('div', { class: 'card' }, emptyState({
      iconName: 'alert', title: 'This page does not exist', text: 'The address may be mistyped, or the page was moved.',
      action: h('a', { class: 'btn btn-primary', href: '#/repositories' }, 'Go to repositories'),
    })));
  }

  function pageHeader({ title, subtitle, actions, iconName, testid }) {
    return h('div', { class: 'page-header' },
      h('div', { class: 'page-heading' },
        iconName ? h('div', { class: 'page-icon' }, icon(iconName, 22)) : null,
        h('div', null, h('h1', { class: 'page-title', 'data-testid': testid }, title), subtitle ? h('div', { class: 'page-subtitle' }, subtitle) : null)),
      actions ? h('div', { class: 'page-actions' }, actions) : null);
  }

  // -------------------------------------------------------------------------------------------
  // Login
  // -------------------------------------------------------------------------------------------

  function renderLogin(notice) {
    shell = null;
    document.title = 'Log in · berth';
    const username = h('input', { class: 'input', id: 'login-username', name: 'username', autocomplete: 'username', required: true, 'data-testid': 'login-username', autofocus: true });
    const password = h('input', { class: 'input', id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'login-password' });
    const errorBox = h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': 'login-error', hidden: true });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block btn-lg', 'data-testid': 'login-submit' }, 'Log in');
    const showError = (message) => {
      errorBox.hidden = !message;
      replace(errorBox, message ? [icon('alert', 16), h('span', { 'data-testid': 'login-error-text' }, message)] : []);
    };
    const form = h('form', { class: 'login-form', novalidate: true, 'data-testid': 'login-form' },
      h('div', { class: 'login-brand' }, h('span', { class: 'brand-mark brand-mark-lg' }, icon('anchor', 26)), h('span', { class: 'login-brand-name' }, 'berth')),
      h('h1', { class: 'login-title' }, 'Log in to the console'),
      h('p', { class: 'login-subtitle' }, 'Manage repositories, images and repository users.'),
      notice ? h('div', { class: 'alert alert-info', 'data-testid': 'login-notice' }, icon('info', 16), h('span', null, notice)) : null,
      errorBox,
      h('div', { class: 'field' }, h('label', { class: 'label', for: 'login-username' }, 'Username'), username),
      h('div', { class: 'field' }, h('label', { class: 'label', for: 'login-password' }, 'Password'), password),
      submit);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!username.value.trim() || !password.value) {
        showError('Enter your username and password.');
        return;
      }
      showError('');
      submit.disabled = true;
      replace(submit, spinner(16), 'Logging in…');
      try {
        state.session = await api('POST', '/session', { username: username.value.trim(), password: password.value }, { noAuthRedirect: true });
        if (!location.hash || location.hash === '#/login') history.replaceState(null, '', '#/repositories');
        route();
      } catch (e) {
        submit.disabled = false;
        replace(submit, 'Log in');
        showError(errorMessage(e));
        password.select();
      }
    });
    replace(root, h('div', { class: 'login-page' },
      h('div', { class: 'login-card' }, form),
      h('div', { class: 'login-foot' }, 'berth · multi-tenant OCI container registry')));
    requestAnimationFrame(() => username.focus());
  }

  async function logout() {
    try {
      await api('DELETE', '/session', undefined, { noAuthRedirect: true });
    } catch (e) {
      if (e.status !== 401) {
        toast(errorMessage(e), 'error');
        return;
      }
    }
    state.session = null;
    renderLogin('You are logged out.');
  }

  function sessionLost() {
    if (!state.session) return;
    state.session = null;
    for (const d of [...openDialogs]) d.close();
    closeMenu();
    renderLogin('Your session has ended. Log in again to continue.');
  }

  // -------------------------------------------------------------------------------------------
  // Repositories
  // -------------------------------------------------------------------------------------------

  function renderRepositories(content, params) {
    setCrumbs([{ label: 'Repositories' }]);
    shell.navRepos.classList.add('active');
    const table = dataTable({
      testid: 'repositories-table',
      rowTestid: 'repository-row',
      rowProps: (r) => ({ 'data-name': r.name }),
      columns: [
        {
          title: 'Name',
          render: (r) => h('a', { class: 'link strong', href: repoHref(r.name), 'data-testid': 'repository-link' }, icon('box', 15), r.name),
        },
        { title: 'Access level', width: '130px', render: (r) => accessPill(r.access_level) },
        { title: 'Storage used', width: '260px', render: (r) => usageBar(r.used_bytes, r.quota_bytes) },
        { title: 'Images', class: 'num', width: '100px', render: (r) => h('span', { 'data-testid': 'image-count' }, formatNumber(r.image_count)) },
        { title: 'Created', width: '200px', render: (r) => timeCell(r.created_at) },
      ],
      empty: {
        iconName: 'box',
        title: 'No repositories yet',
        text: 'A repository is a namespace for your images: create one, then push with docker or podman.',
        action: button('Create repository', { kind: 'primary', iconName: 'plus', onClick: () => createRepositoryDialog(list) }),
      },
    });
    const list = pagedList({
      table,
      page: intParam(params, 'page', 1),
      size: intParam(params, 'size', DEFAULT_SIZE, 100),
      load: (page, size) => api('GET', `/repositories${query({ page, size })}`),
      onState: (s) => setHashParams(s),
    });
    append(content,
      pageHeader({
        title: 'Repositories',
        subtitle: 'Namespaces of your account: each holds images, has an access level and a storage quota.',
        actions: button('Create repository', { kind: 'primary', iconName: 'plus', testid: 'create-repository', onClick: () => createRepositoryDialog(list) }),
      }),
      h('div', { class: 'card card-flush' }, table.el, list.pager));
    list.start();
  }

  const NAME_RE = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$/;
  const QUOTA_UNITS = [['MiB', 1024 ** 2], ['GiB', 1024 ** 3], ['TiB', 1024 ** 4]];

  // Access level radio cards.
  function accessField(initial) {
    const name = `access-${Math.random().toString(36).slice(2)}`;
    const option = (value, title, text, iconName) => {
      const input = h('input', { type: 'radio', name, value, checked: initial === value, 'data-testid': `access-${value}` });
      return h('label', { class: 'radio-card' }, input,
        h('span', { class: 'radio-card-body' },
          h('span', { class: 'radio-card-title' }, icon(iconName, 15), title),
          h('span', { class: 'radio-card-text' }, text)));
    };
    const el = h('div', { class: 'radio-cards', role: 'radiogroup', 'data-testid': 'repo-access' },
      option('private', 'Private', 'Only repository users with a permission can pull.', 'lock'),
      option('public', 'Public', 'Anyone can pull, without logging in. Pushing still needs a user.', 'globe'));
    return { el, value: () => (el.querySelector('input:checked') || {}).value || 'private' };
  }

  function quotaField(initialBytes) {
    let value = 10;
    let unit = 'GiB';
    const unlimitedInitially = initialBytes === null;
    if (initialBytes != null) {
      const fit = [...QUOTA_UNITS].reverse().find(([, m]) => initialBytes >= m && initialBytes % m === 0)
        || (initialBytes >= 1024 ** 3 ? ['GiB', 1024 ** 3] : ['MiB', 1024 ** 2]);
      unit = fit[0];
      value = Number((initialBytes / fit[1]).toFixed(3));
    }
    const number = h('input', { class: 'input', type: 'number', min: '0', step: 'any', value: String(value), 'data-testid': 'quota-value', 'aria-label': 'Quota', disabled: unlimitedInitially });
    const unitSelect = h('select', { class: 'select', 'data-testid': 'quota-unit', 'aria-label': 'Quota unit', value: unit, disabled: unlimitedInitially },
      QUOTA_UNITS.map(([u]) => h('option', { value: u }, u)));
    const unlimited = h('input', { type: 'checkbox', 'data-testid': 'quota-unlimited', checked: unlimitedInitially });
    unlimited.addEventListener('change', () => {
      number.disabled = unlimited.checked;
      unitSelect.disabled = unlimited.checked;
      if (!unlimited.checked) number.focus();
    });
    const el = h('div', { class: 'quota-field' },
      h('div', { class: 'input-group' }, number, unitSelect),
      h('label', { class: 'check' }, unlimited, h('span', null, 'No limit')));
    return {
      el,
      // The quota in bytes (null: no limit); throws a message when the number is not usable.
      bytes() {
        if (unlimited.checked) return null;
        const n = Number(number.value);
        if (number.value.trim() === '' || !Number.isFinite(n) || n < 0) throw new Error('Enter a quota of 0 or more, or choose "No limit".');
        const mult = QUOTA_UNITS.find(([u]) => u === unitSelect.value)[1];
        return Math.round(n * mult);
      },
    };
  }

  function field(label, control, hint, { id, error } = {}) {
    return h('div', { class: 'field' },
      h('label', { class: 'label', for: id }, label),
      control,
      error || null,
      hint ? h('div', { class: 'hint' }, hint) : null);
  }

  function createRepositoryDialog(list) {
    const nameInput = h('input', { class: 'input', id: 'repo-name', 'data-testid': 'repo-name', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. team-a', maxlength: '200' });
    const nameError = h('div', { class: 'field-error', 'data-testid': 'repo-name-error', hidden: true });
    const preview = h('code', { class: 'inline-code' });
    const updatePreview = () => {
      preview.textContent = `${location.host}/${nameInput.value.trim() || '<repository>'}/<image>:<tag>`;
    };
    nameInput.addEventListener('input', () => {
      nameError.hidden = true;
      updatePreview();
    });
    updatePreview();
    const access = accessField('private');
    const quota = quotaField(10 * 1024 ** 3);
    openDialog({
      title: 'Create repository',
      subtitle: 'A namespace for images in your account.',
      testid: 'create-repository-dialog',
      submitLabel: 'Create',
      content: [
        field('Name', nameInput, ['Lowercase letters and digits, separated by ".", "_" or "-". Images are named ', preview], { id: 'repo-name', error: nameError }),
        field('Access level', access.el),
        field('Storage quota', quota.el, 'The most storage the repository\'s artifacts may use. Pushes over the limit are refused.'),
      ],
      onSubmit: async () => {
        const name = nameInput.value.trim();
        if (!NAME_RE.test(name)) {
          nameError.textContent = name ? 'Use lowercase letters and digits, separated by ".", "_", "__" or "-".' : 'Enter a name.';
          nameError.hidden = false;
          nameInput.focus();
          return false;
        }
        const body = { name, access_level: access.value(), quota_bytes: quota.bytes() };
        const created = await api('POST', '/repositories', body);
        toast(`Repository ${created.name} created`);
        list.reload();
        return true;
      },
    });
  }

  function editRepositoryDialog(repo, onSaved) {
    const access = accessField(repo.access_level);
    const quota = quotaField(repo.quota_bytes);
    openDialog({
      title: `Edit ${repo.name}`,
      subtitle: `Currently using ${formatBytes(repo.used_bytes)}.`,
      testid: 'edit-repository-dialog',
      submitLabel: 'Save changes',
      content: [
        field('Access level', access.el),
        field('Storage quota', quota.el, 'Lowering the quota under the current usage refuses further pushes; nothing is deleted.'),
      ],
      onSubmit: async () => {
        const updated = await api('PATCH', `/repositories/${seg(repo.name)}`, { access_level: access.value(), quota_bytes: quota.bytes() });
        toast(`Repository ${repo.name} updated`);
        onSaved(updated);
      },
    });
  }

  // -------------------------------------------------------------------------------------------
  // A repository: summary and tabs
  // -------------------------------------------------------------------------------------------

  function renderRepository(content, repoName, tab, params) {
    setCrumbs([{ label: 'Repositories', href: '#/repositories' }, { label: repoName }]);
    shell.navRepos.classList.add('active');
    const summary = h('div', { class: 'card repo-summary' }, h('div', { class: 'summary-loading' }, spinner(20), 'Loading repository…'));
    const tabs = h('div', { class: 'tabs', role: 'tablist' },
      [['images', 'Images', 'layers'], ['users', 'Repository users', 'users'], ['history', 'History', 'clock']].map(([id, label, ic]) => h('a', {
        class: `tab${tab === id ? ' active' : ''}`, role: 'tab', href: repoHref(repoName, id), 'aria-selected': String(tab === id), 'data-testid': `tab-${id}`,
      }, icon(ic, 15), label)));
    const body = h('div', { class: 'tab-body' });
    append(content, summary, tabs, body);

    let repo = null;
    const showSummary = (r) => {
      repo = r;
      replace(summary, repositorySummary(r, {
        onEdit: () => editRepositoryDialog(repo, (u) => showSummary(u)),
        onDelete: () => deleteRepository(repo),
      }));
    };
    const loadSummary = () => api('GET', `/repositories/${seg(repoName)}`).then(showSummary).catch((e) => {
      if (e.status === 401) return;
      if (e.status === 404) {
        clear(content);
        append(content, h('div', { class: 'card' }, emptyState({
          iconName: 'box', title: `Repository ${repoName} does not exist`, text: errorMessage(e), testid: 'not-found',
          action: h('a', { class: 'btn btn-primary', href: '#/repositories' }, 'Back to repositories'),
        })));
        return;
      }
      replace(summary, errorState(e, loadSummary));
    });
    loadSummary();

    if (tab === 'images') renderImagesTab(body, repoName, params);
    else if (tab === 'users') renderUsersTab(body, repoName, params);
    else renderHistoryTab(body, repoName, params);
  }

  function repositorySummary(r, { onEdit, onDelete }) {
    return [
      h('div', { class: 'summary-top' },
        h('div', { class: 'page-heading' },
          h('div', { class: 'page-icon' }, icon('box', 22)),
          h('div', null,
            h('div', { class: 'summary-title-row' }, h('h1', { class: 'page-title', 'data-testid': 'repo-title' }, r.name), accessPill(r.access_level)),
            h('div', { class: 'page-subtitle' }, 'Push to ', hostCode(r.name, (host) => `${host}/${r.name}/<image>:<tag>`)))),
        h('div', { class: 'page-actions' },
          button('Edit', { iconName: 'edit', testid: 'edit-repository', onClick: onEdit }),
          button('Delete', { kind: 'danger-ghost', iconName: 'trash', testid: 'delete-repository', onClick: onDelete }))),
      h('div', { class: 'stats' },
        h('div', { class: 'stat stat-wide' }, h('div', { class: 'stat-label' }, 'Storage'), usageBar(r.used_bytes, r.quota_bytes, { large: true })),
        h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, 'Quota'), h('div', { class: 'stat-value', 'data-testid': 'repo-quota' }, r.quota_bytes == null ? 'No limit' : formatBytes(r.quota_bytes))),
        h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, 'Images'), h('div', { class: 'stat-value', 'data-testid': 'repo-image-count' }, formatNumber(r.image_count))),
        h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, 'Created'), h('div', { class: 'stat-value stat-small' }, timeCell(r.created_at)))),
    ];
  }

  function deleteRepository(repo) {
    confirmDialog({
      title: `Delete repository ${repo.name}?`,
      message: [h('p', null, 'Only an empty repository can be deleted: delete its artifacts first.'), h('p', null, 'Repository users keep their other permissions.')],
      action: async () => {
        await api('DELETE', `/repositories/${seg(repo.name)}`);
        toast(`Repository ${repo.name} deleted`);
      },
    }).then((done) => {
      if (done) navigate('#/repositories');
    });
  }

  // -------------------------------------------------------------------------------------------
  // Images tab
  // -------------------------------------------------------------------------------------------

  function renderImagesTab(body, repo, params) {
    const search = h('input', {
      class: 'input search-input', type: 'search', placeholder: 'Filter images by name', 'aria-label': 'Filter images by name', 'data-testid': 'image-search',
      value: params.get('name') || '', autocomplete: 'off', spellcheck: 'false',
    });
    let filter = params.get('name') || '';
    const table = dataTable({
      testid: 'images-table',
      rowTestid: 'image-row',
      rowProps: (img) => ({ 'data-name': img.name }),
      columns: [
        { title: 'Image', render: (img) => h('a', { class: 'link strong mono-name', href: imageHref(repo, img.name), 'data-testid': 'image-link' }, icon('layers', 15), img.name) },
        { title: 'Artifacts', class: 'num', width: '110px', render: (img) => h('span', { 'data-testid': 'artifact-count' }, formatNumber(img.artifact_count)) },
        { title: 'Pulls', class: 'num', width: '100px', render: (img) => h('span', { 'data-testid': 'pull-count' }, formatNumber(img.pull_count)) },
        { title: 'Last pulled', width: '200px', render: (img) => timeCell(img.last_pull_at, 'never', 'pull-time') },
        { title: 'Last modified', width: '200px', render: (img) => timeCell(img.last_modified_at, '—', 'last-modified') },
      ],
      empty: (f) => (f
        ? { iconName: 'search', title: 'No matching images', text: `No image name contains "${f}".` }
        : {
          iconName: 'layers', title: 'No images yet', text: 'Log in with a repository user, tag an image and push it here.',
          action: button('Show push commands', { kind: 'primary', iconName: 'terminal', onClick: () => pushCommandsDialog(repo) }),
        }),
    });
    const list = pagedList({
      table,
      page: intParam(params, 'page', 1),
      size: intParam(params, 'size', DEFAULT_SIZE, 100),
      load: (page, size) => api('GET', `/repositories/${seg(repo)}/images${query({ name: filter, page, size })}`),
      onState: (s) => setHashParams({ name: filter, ...s }),
      emptyArgs: () => filter,
    });
    const applyFilter = debounce(() => {
      const v = search.value.trim();
      if (v === filter) return;
      filter = v;
      list.goTo(1);
    }, 300);
    search.addEventListener('input', applyFilter);
    append(body,
      h('div', { class: 'toolbar' },
        h('div', { class: 'search' }, icon('search', 16), search),
        h('div', { class: 'toolbar-actions' },
          button('Refresh', { iconName: 'refresh', testid: 'refresh', onClick: () => list.reload() }),
          button('Push command', { kind: 'primary', iconName: 'terminal', testid: 'push-command', onClick: () => pushCommandsDialog(repo) }))),
      h('div', { class: 'card card-flush' }, table.el, list.pager));
    list.start();
  }

  // A dark command line with a copy button; `text` is a string or a function giving the current one.
  function commandBlock(text, testid, kind) {
    const current = () => (typeof text === 'function' ? text() : text);
    return h('div', { class: 'command' },
      h('pre', { class: 'command-text' }, h('code', { 'data-testid': testid, 'data-kind': kind }, current())),
      copyButton(current, { testid: `copy-${kind}`, label: 'Copy command' }));
  }

  function pushCommandsDialog(repo) {
    const image = h('input', { class: 'input', 'data-testid': 'push-image-name', placeholder: 'my-app', autocomplete: 'off', spellcheck: 'false' });
    const steps = h('div', { class: 'steps', 'data-testid': 'push-commands' }, h('div', { class: 'summary-loading' }, spinner(18), 'Loading commands…'));
    let seq = 0;
    const load = async () => {
      const mine = ++seq;
      try {
        const c = await api('GET', `/repositories/${seg(repo)}/push-commands${query({ image: image.value.trim() })}`);
        if (mine !== seq) return;
        replace(steps,
          step(1, 'Log in with a repository user', 'Use the name and secret of a repository user with the push_pull permission.', commandBlock(c.login, 'push-command-text', 'login')),
          step(2, 'Tag a local image for this repository', null, commandBlock(c.tag, 'push-command-text', 'tag')),
          step(3, 'Push it', null, commandBlock(c.push, 'push-command-text', 'push')));
      } catch (e) {
        if (mine !== seq) return;
        replace(steps, h('div', { class: 'alert alert-error' }, icon('alert', 16), h('span', null, errorMessage(e))));
      }
    };
    const step = (n, title, text, block) => h('div', { class: 'step' },
      h('div', { class: 'step-num' }, String(n)),
      h('div', { class: 'step-body' }, h('div', { class: 'step-title' }, title), text ? h('div', { class: 'hint' }, text) : null, block));
    image.addEventListener('input', debounce(load, 250));
    const dialog = openDialog({
      title: 'Push an image',
      subtitle: ['Commands for repository ', h('strong', null, repo), '. Works the same with podman.'],
      testid: 'push-commands-dialog',
      size: 'lg',
      content: [field('Image name (optional)', image, 'Fills the image name into the commands below.'), steps],
      footer: [
        h('a', { class: 'btn btn-ghost', href: repoHref(repo, 'users') }, icon('key', 15), 'Manage repository users'),
        h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'dialog-close', onclick: () => dialog.close() }, 'Done'),
      ],
    });
    load();
  }

  // -------------------------------------------------------------------------------------------
  // Artifacts of an image
  // -------------------------------------------------------------------------------------------

  function renderArtifacts(content, repo, image, params) {
    setCrumbs([
      { label: 'Repositories', href: '#/repositories' },
      { label: repo, href: repoHref(repo, 'images') },
      { label: image },
    ]);
    shell.navRepos.classList.add('active');
    const total = h('span', { class: 'muted' });
    const table = dataTable({
      testid: 'artifacts-table',
      rowTestid: 'artifact-row',
      rowProps: (a) => ({ 'data-digest': a.digest }),
      columns: [
        {
          title: 'Digest',
          width: '190px',
          render: (a) => h('div', { class: 'digest' },
            h('code', { class: 'digest-text', title: a.digest, 'data-testid': 'artifact-digest' }, shortDigest(a.digest)),
            copyButton(() => a.digest, { testid: 'copy-digest', label: 'Copy full digest', toastText: 'Digest copied' })),
        },
        {
          title: 'Tags',
          render: (a) => (a.tags && a.tags.length
            ? h('div', { class: 'pills' }, a.tags.map((t) => pill([icon('tag', 11), t], 'blue', { 'data-testid': 'tag', 'data-tag': t })))
            : h('span', { class: 'muted' }, 'untagged')),
        },
        { title: 'Type', width: '140px', render: (a) => h('span', { class: 'muted small', title: a.artifact_type || a.media_type }, mediaTypeLabel(a)) },
        { title: 'Size', class: 'num', width: '100px', render: (a) => h('span', { 'data-testid': 'artifact-size', title: `${a.size} bytes` }, formatBytes(a.size)) },
        { title: 'Pushed', width: '190px', render: (a) => timeCell(a.push_time, '—', 'push-time') },
        { title: 'Last pulled', width: '190px', render: (a) => timeCell(a.pull_time, 'never', 'pull-time') },
        { title: 'Pulls', class: 'num', width: '80px', render: (a) => h('span', { 'data-testid': 'pull-count' }, formatNumber(a.pull_count)) },
        { title: '', class: 'actions', width: '52px', render: (a) => actionMenu(() => artifactMenu(repo, image, a, list), { testid: 'artifact-actions' }) },
      ],
      empty: {
        iconName: 'layers', title: 'No artifacts',
        text: 'This image has no artifacts: they were deleted, or nothing was pushed yet.',
        action: h('a', { class: 'btn btn-secondary', href: repoHref(repo, 'images') }, icon('left', 15), 'Back to images'),
      },
    });
    const list = pagedList({
      table,
      page: intParam(params, 'page', 1),
      size: intParam(params, 'size', DEFAULT_SIZE, 100),
      load: async (page, size) => {
        const data = await api('GET', `/repositories/${seg(repo)}/artifacts${query({ image, page, size })}`);
        total.textContent = `${formatNumber(data.total)} artifact${data.total === 1 ? '' : 's'}`;
        return data;
      },
      onState: (s) => setHashParams(s),
    });
    append(content,
      pageHeader({
        iconName: 'layers',
        testid: 'image-title',
        title: image,
        subtitle: [hostCode(repo, (host) => `${host}/${repo}/${image}`), ' · ', total],
        actions: [
          button('Refresh', { iconName: 'refresh', testid: 'refresh', onClick: () => list.reload() }),
          button('Push command', { iconName: 'terminal', onClick: () => pushCommandsDialog(repo) }),
        ],
      }),
      h('div', { class: 'card card-flush' }, table.el, list.pager));
    list.start();
  }

  function artifactMenu(repo, image, a, list) {
    const cmds = a.pull_commands || [];
    const items = [{ header: 'Pull command' }];
    for (const c of cmds) {
      items.push(c.kind === 'digest'
        ? { label: 'Copy pull command (by digest)', iconName: 'download', testid: 'menu-copy-digest', onClick: () => copyText(c.command) }
        : { label: `Copy pull command (${c.reference})`, iconName: 'tag', testid: 'menu-copy-tag', data: { tag: c.reference }, onClick: () => copyText(c.command) });
    }
    if (!cmds.length) items.push({ label: 'Copy digest', iconName: 'copy', onClick: () => copyText(a.digest) });
    items.push('separator', { label: 'Delete', iconName: 'trash', danger: true, testid: 'menu-delete', onClick: () => deleteArtifact(repo, image, a, list) });
    return items;
  }

  function deleteArtifact(repo, image, a, list) {
    const tags = a.tags || [];
    confirmDialog({
      title: 'Delete artifact?',
      message: [
        h('p', null, 'The artifact ', h('code', { class: 'inline-code', title: a.digest }, `${a.digest.split(':')[0]}:${shortDigest(a.digest)}`), ' of ', h('strong', null, `${repo}/${image}`),
          tags.length ? [' and its tag', tags.length > 1 ? 's' : '', ' ', tags.map((t, i) => [i ? ', ' : '', h('strong', null, t)])] : null,
          ' will be deleted.'),
        h('p', { class: 'muted' }, 'Pulls of it will fail. The repository\'s usage drops at once; storage is reclaimed by garbage collection.'),
      ],
      action: async () => {
        await api('DELETE', `/repositories/${seg(repo)}/artifacts/${seg(a.digest)}${query({ image })}`);
        toast('Artifact deleted');
        list.reload();
      },
    });
  }

  // -------------------------------------------------------------------------------------------
  // Repository users tab
  // -------------------------------------------------------------------------------------------

  function renderUsersTab(body, repo, params) {
    const table = dataTable({
      testid: 'users-table',
      rowTestid: 'user-row',
      rowProps: (u) => ({ 'data-name': u.name }),
      columns: [
        { title: 'Name', render: (u) => h('div', { class: 'user-cell' }, h('span', { class: 'key-icon' }, icon('key', 14)), h('code', { class: 'mono strong', 'data-testid': 'user-name' }, u.name)) },
        {
          title: 'Repositories',
          render: (u) => h('div', { class: 'pills' }, (u.repositories || []).map((p) => h('span', {
            class: `perm-pill${p.repository === repo ? ' perm-current' : ''}`, 'data-testid': 'user-permission', 'data-repository': p.repository, 'data-permission': p.permission,
          }, h('span', { class: 'perm-repo' }, p.repository), h('span', { class: `perm-level perm-${p.permission}` }, PERMISSIONS[p.permission] || p.permission)))),
        },
        { title: 'Expires', width: '190px', render: (u) => expiryCell(u) },
        { title: 'Description', render: (u) => (u.description ? h('span', { class: 'desc', title: u.description, 'data-testid': 'user-description' }, u.description) : h('span', { class: 'muted' }, '—')) },
        { title: 'Created', width: '190px', render: (u) => timeCell(u.created_at) },
        {
          title: '', class: 'actions', width: '52px',
          render: (u) => actionMenu(() => [
            { label: 'Edit', iconName: 'edit', testid: 'menu-edit', onClick: () => userDialog({ repo, user: u, onDone: () => list.reload() }) },
            { label: 'Refresh secret', iconName: 'refresh', testid: 'menu-refresh-secret', onClick: () => refreshSecret(u, list, repo) },
            'separator',
            { label: 'Delete', iconName: 'trash', danger: true, testid: 'menu-delete', onClick: () => deleteUser(u, list) },
          ], { testid: 'user-actions' }),
        },
      ],
      empty: {
        iconName: 'users', title: 'No repository users',
        text: `Create a repository user with a permission on ${repo} to log in with docker and push or pull images.`,
        action: button('Create user', { kind: 'primary', iconName: 'plus', onClick: () => userDialog({ repo, onDone: () => list.reload() }) }),
      },
    });
    const list = pagedList({
      table,
      page: intParam(params, 'page', 1),
      size: intParam(params, 'size', DEFAULT_SIZE, 100),
      load: (page, size) => api('GET', `/repository-users${query({ repository: repo, page, size })}`),
      onState: (s) => setHashParams(s),
    });
    append(body,
      h('div', { class: 'toolbar' },
        h('div', { class: 'toolbar-text' }, 'Robot credentials for ', h('code', { class: 'inline-code' }, 'docker login'), ' with a permission on this repository.'),
        h('div', { class: 'toolbar-actions' },
          button('Create user', { kind: 'primary', iconName: 'plus', testid: 'create-user', onClick: () => userDialog({ repo, onDone: () => list.reload() }) }))),
      h('div', { class: 'card card-flush' }, table.el, list.pager));
    list.start();
  }

  function expiryCell(u) {
    const parts = [];
    if (u.expired) parts.push(pill([icon('lock', 11), 'Locked (expired)'], 'red', { 'data-testid': 'user-expired' }));
    if (u.disabled) parts.push(pill('Disabled', 'amber', { 'data-testid': 'user-disabled' }));
    if (u.expires_at == null) {
      if (!u.expired) parts.push(h('span', { class: 'muted', 'data-testid': 'user-expiry' }, 'never'));
    } else {
      parts.push(h('span', { class: u.expired ? 'small muted' : '', 'data-testid': 'user-expiry', title: u.expires_at }, u.expired ? `since ${formatExpiry(u.expires_at)}` : formatExpiry(u.expires_at)));
    }
    return h('div', { class: 'expiry' }, parts);
  }

  // Repository choices for permission rows: the first 100 repositories (the API's largest page).
  async function repositoryChoices(current) {
    const data = await api('GET', `/repositories${query({ page: 1, size: 100 })}`);
    const names = (data.items || []).map((r) => r.name);
    if (current && !names.includes(current)) names.unshift(current);
    return { names, complete: (data.total || 0) <= (data.items || []).length };
  }

  // The create and edit dialogs of a repository user.
  function userDialog({ repo, user, onDone }) {
    const editing = !!user;
    const nameInput = editing ? null : h('input', { class: 'input', id: 'user-name-input', 'data-testid': 'user-name-input', autocomplete: 'off', spellcheck: 'false', placeholder: 'ci-pipeline' });
    const never = h('input', { type: 'checkbox', 'data-testid': 'user-expiry-never', checked: editing ? user.expires_at == null : true });
    const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
    const date = h('input', {
      class: 'input input-date', type: 'date', 'data-testid': 'user-expiry-date', 'aria-label': 'Expiration date',
      value: editing && user.expires_at ? utcDateInput(user.expires_at) : '', min: editing ? null : tomorrow, disabled: never.checked,
    });
    never.addEventListener('change', () => {
      date.disabled = never.checked;
      if (!never.checked) {
        if (!date.value) date.value = new Date(Date.now() + 90 * 86400000).toISOString().slice(0, 10);
        date.focus();
      }
    });
    const description = h('textarea', { class: 'input textarea', id: 'user-description', 'data-testid': 'user-description-input', rows: '2', maxlength: '1000', placeholder: 'What uses this credential?', value: editing ? user.description || '' : '' });
    const disabled = editing ? h('input', { type: 'checkbox', 'data-testid': 'user-disabled-input', checked: !!user.disabled }) : null;

    const rowsEl = h('div', { class: 'perm-rows', 'data-testid': 'perm-rows' });
    const datalistId = `repos-${Math.random().toString(36).slice(2)}`;
    let choices = { names: [repo], complete: true };
    const rows = [];

    function repoControl(value) {
      if (choices.complete) {
        const names = choices.names.includes(value) || !value ? choices.names : [value, ...choices.names];
        return h('select', { class: 'select', 'data-testid': 'perm-repo', 'aria-label': 'Repository', value }, names.map((n) => h('option', { value: n }, n)));
      }
      return h('input', { class: 'input', 'data-testid': 'perm-repo', 'aria-label': 'Repository', list: datalistId, value, placeholder: 'repository name', autocomplete: 'off' });
    }

    function addRow(repository, permission = 'push_pull') {
      const row = { repository, permission };
      row.repoEl = repoControl(repository);
      row.permEl = h('select', { class: 'select', 'data-testid': 'perm-permission', 'aria-label': 'Permission', value: permission },
        Object.entries(PERMISSIONS).map(([v, l]) => h('option', { value: v }, `${l} (${v})`)));
      row.removeBtn = h('button', {
        type: 'button', class: 'icon-btn', 'aria-label': 'Remove repository', title: 'Remove', 'data-testid': 'perm-remove',
        onclick: () => {
          rows.splice(rows.indexOf(row), 1);
          row.el.remove();
          syncRemove();
        },
      }, icon('trash', 15));
      row.el = h('div', { class: 'perm-row', 'data-testid': 'perm-row' }, row.repoEl, row.permEl, row.removeBtn);
      rows.push(row);
      rowsEl.append(row.el);
      syncRemove();
      return row;
    }
    const syncRemove = () => rows.forEach((r) => { r.removeBtn.disabled = rows.length <= 1; });

    const initialPerms = editing ? (user.repositories || []).map((p) => [p.repository, p.permission]) : [[repo, 'push_pull']];
    const addBtn = button('Add repository', { kind: 'ghost', iconName: 'plus', size: 'sm', testid: 'perm-add', onClick: () => {
      const used = new Set(rows.map((r) => r.repoEl.value));
      const next = choices.names.find((n) => !used.has(n)) || '';
      const row = addRow(next, 'pull');
      row.repoEl.focus();
    } });

    function renderRows() {
      clear(rowsEl);
      const values = rows.length ? rows.map((r) => [r.repoEl.value, r.permEl.value]) : initialPerms;
      rows.length = 0;
      for (const [r, p] of values) addRow(r, p);
      if (!rows.length) addRow(repo, 'push_pull');
    }
    renderRows();

    const content = [
      editing
        ? h('div', { class: 'field' }, h('div', { class: 'label' }, 'Name'), h('code', { class: 'mono strong' }, user.name))
        : field('Name (optional)', nameInput, 'Left empty, a name is generated. The account prefix is added to the name.', { id: 'user-name-input' }),
      h('div', { class: 'field' },
        h('div', { class: 'label' }, 'Expiration'),
        h('div', { class: 'inline-fields' }, date, h('label', { class: 'check' }, never, h('span', null, 'Never expires'))),
        h('div', { class: 'hint' }, 'On this date (00:00 UTC) the user is locked, not deleted: extend the date to unlock it.')),
      field('Description', description, null, { id: 'user-description' }),
      h('div', { class: 'field' },
        h('div', { class: 'label' }, 'Repository permissions'),
        h('div', { class: 'hint hint-top' }, 'push_pull: push and pull images; pull: pull only.'),
        rowsEl,
        h('datalist', { id: datalistId }),
        addBtn),
      editing ? h('label', { class: 'check' }, disabled, h('span', null, 'Disabled (cannot log in until enabled again)')) : null,
    ];

    repositoryChoices(repo).then((c) => {
      choices = c;
      const dl = document.getElementById(datalistId);
      if (dl) replace(dl, c.names.map((n) => h('option', { value: n })));
      renderRows();
    }).catch(() => {});

    const dialog = openDialog({
      title: editing ? `Edit ${user.name}` : 'Create repository user',
      subtitle: editing ? 'Changes apply to the next request the user makes.' : 'A credential for docker login, with permissions on repositories.',
      testid: editing ? 'edit-user-dialog' : 'create-user-dialog',
      submitLabel: editing ? 'Save changes' : 'Create',
      size: 'lg',
      content,
      onSubmit: async () => {
        const repositories = rows.map((r) => ({ repository: r.repoEl.value.trim(), permission: r.permEl.value }));
        if (repositories.some((p) => !p.repository)) throw new Error('Choose a repository in every permission row.');
        const seen = new Set();
        for (const p of repositories) {
          if (seen.has(p.repository)) throw new Error(`Repository ${p.repository} is listed twice.`);
          seen.add(p.repository);
        }
        if (!never.checked && !date.value) throw new Error('Choose an expiration date, or "Never expires".');
        const expires_at = never.checked ? null : date.value;
        if (editing) {
          const patch = { description: description.value.trim(), expires_at, repositories, disabled: disabled.checked };
          await api('PATCH', `/repository-users/${seg(user.name)}`, patch);
          toast(`User ${user.name} updated`);
        } else {
          const body = { description: description.value.trim(), expires_at, repositories };
          const name = nameInput.value.trim();
          if (name) body.name = name;
          const created = await api('POST', '/repository-users', body);
          secretDialog(created, 'Repository user created', repo);
        }
        onDone();
      },
    });
    return dialog;
  }

  function secretDialog(u, title, repo) {
    const nameText = h('code', { class: 'secret-value', 'data-testid': 'secret-name' }, u.name);
    const secretText = h('code', { class: 'secret-value', 'data-testid': 'secret' }, u.secret);
    let dialog = null;
    let loginCmd = `docker login ${location.host} -u ${u.name}`;
    const loginBlock = commandBlock(() => loginCmd, 'login-command', 'docker-login');
    if (repo) {
      registryHost(repo).then((host) => {
        loginCmd = `docker login ${host} -u ${u.name}`;
        loginBlock.querySelector('code').textContent = loginCmd;
      });
    }
    dialog = openDialog({
      title,
      testid: 'secret-dialog',
      dismissable: false,
      content: [
        h('div', { class: 'alert alert-warn', 'data-testid': 'secret-warning' }, icon('alert', 16),
          h('span', null, h('strong', null, 'Copy the secret now: it will not be shown again. '), 'If it is lost, refresh the secret to get a new one.')),
        h('div', { class: 'field' }, h('div', { class: 'label' }, 'Name'), h('div', { class: 'secret-box' }, nameText, copyButton(() => u.name, { testid: 'copy-secret-name', label: 'Copy name', toastText: 'Name copied' }))),
        h('div', { class: 'field' }, h('div', { class: 'label' }, 'Secret'), h('div', { class: 'secret-box' }, secretText, copyButton(() => u.secret, { testid: 'copy-secret', label: 'Copy secret', toastText: 'Secret copied' }))),
        h('div', { class: 'field' }, h('div', { class: 'label' }, 'Log in'), loginBlock,
          h('div', { class: 'hint' }, 'docker asks for the password: paste the secret.')),
      ],
      footer: [h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'secret-done', onclick: () => dialog.close() }, 'I have saved the secret')],
    });
  }

  function refreshSecret(u, list, repo) {
    let fresh = null;
    confirmDialog({
      title: `Refresh the secret of ${u.name}?`,
      message: [h('p', null, 'A new secret is generated and the current one stops working at once.'), h('p', { class: 'muted' }, 'Clients logged in with the old secret must log in again.')],
      confirmLabel: 'Refresh secret',
      danger: false,
      action: async () => {
        fresh = await api('POST', `/repository-users/${seg(u.name)}/secret`);
      },
    }).then((done) => {
      if (done && fresh) {
        secretDialog(fresh, 'New secret', repo);
        list.reload();
      }
    });
  }

  function deleteUser(u, list) {
    confirmDialog({
      title: `Delete ${u.name}?`,
      message: [h('p', null, 'The user loses all its permissions at once; clients using it can no longer push or pull.'), h('p', { class: 'muted' }, 'This cannot be undone.')],
      action: async () => {
        await api('DELETE', `/repository-users/${seg(u.name)}`);
        toast(`User ${u.name} deleted`);
        list.reload();
      },
    });
  }

  // -------------------------------------------------------------------------------------------
  // History tab
  // -------------------------------------------------------------------------------------------

  function actionVariant(action) {
    const a = String(action).toLowerCase();
    if (a.includes('delete') || a.includes('remove')) return 'red';
    if (a.includes('push') || a.includes('create')) return 'green';
    if (a.includes('pull')) return 'blue';
    if (a.includes('update') || a.includes('change') || a.includes('edit') || a.includes('refresh') || a.includes('secret')) return 'amber';
    return 'gray';
  }

  function renderHistoryTab(body, repo, params) {
    const table = dataTable({
      testid: 'history-table',
      rowTestid: 'history-row',
      rowProps: (e) => ({ 'data-action': e.action }),
      columns: [
        { title: 'Time', width: '200px', render: (e) => timeCell(e.at, '—', 'history-time') },
        { title: 'Actor', width: '180px', render: (e) => h('span', { class: 'mono', 'data-testid': 'history-actor' }, e.actor) },
        { title: 'Action', width: '170px', render: (e) => pill(String(e.action).replace(/[_.]/g, ' '), actionVariant(e.action), { 'data-testid': 'history-action', title: e.action }) },
        { title: 'Image', render: (e) => (e.image ? h('a', { class: 'link', href: imageHref(repo, e.image), 'data-testid': 'history-image' }, e.image) : h('span', { class: 'muted' }, '—')) },
        {
          title: 'Target',
          render: (e) => {
            if (!e.target) return h('span', { class: 'muted' }, '—');
            const isDigest = /^sha256:[0-9a-f]{64}$/.test(e.target);
            return h('code', { class: 'mono small', title: e.target, 'data-testid': 'history-target' }, isDigest ? `sha256:${shortDigest(e.target)}` : e.target);
          },
        },
        { title: 'Detail', render: (e) => (e.detail ? h('span', { class: 'desc', title: e.detail }, e.detail) : h('span', { class: 'muted' }, '—')) },
      ],
      empty: { iconName: 'clock', title: 'No history yet', text: 'Pushes, deletes and changes to this repository appear here.' },
    });
    const list = pagedList({
      table,
      page: intParam(params, 'page', 1),
      size: intParam(params, 'size', DEFAULT_SIZE, 100),
      load: (page, size) => api('GET', `/repositories/${seg(repo)}/history${query({ page, size })}`),
      onState: (s) => setHashParams(s),
    });
    append(body,
      h('div', { class: 'toolbar' },
        h('div', { class: 'toolbar-text' }, 'Who did what to this repository and its images, newest first.'),
        h('div', { class: 'toolbar-actions' }, button('Refresh', { iconName: 'refresh', testid: 'refresh', onClick: () => list.reload() }))),
      h('div', { class: 'card card-flush' }, table.el, list.pager));
    list.start();
  }

  // -------------------------------------------------------------------------------------------
  // Start
  // -------------------------------------------------------------------------------------------

  async function start() {
    document.body.append(toastHost, lastCopiedEl);
    replace(root, h('div', { class: 'boot' }, spinner(28)));
    try {
      state.session = await api('GET', '/session', undefined, { noAuthRedirect: true });
    } catch (e) {
      state.session = null;
      if (e.status !== 401) {
        renderLogin(errorMessage(e));
        return;
      }
    }
    route();
  }

  window.addEventListener('hashchange', () => route());
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
