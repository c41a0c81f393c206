// berth console: small components shared by the pages: toasts, the clipboard, pills, usage bars,
// loading, empty and error states, buttons, form fields and command lines.

import { h, icon } from './dom.js';
import { formatBytes } from './format.js';
import { errorMessage } from './api.js';

// -------------------------------------------------------------------------------------------
// Toasts, clipboard
// -------------------------------------------------------------------------------------------

export const toastHost = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });

// A notice at the bottom right for a few seconds (`ms`; errors stay longer).
export function toast(message, kind = 'success', ms = kind === 'error' ? 7000 : 3000) {
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
  setTimeout(close, ms);
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

export async function copyText(text, what = 'Copied') {
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

export function copyButton(getText, { testid, label = 'Copy', toastText = 'Copied', withText = false } = {}) {
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

export function pill(text, variant = 'gray', props = {}) {
  return h('span', { ...props, class: `pill pill-${variant}${props.class ? ` ${props.class}` : ''}` }, text);
}

export function accessPill(level) {
  return level === 'public'
    ? pill([icon('globe', 12), 'Public'], 'green', { 'data-testid': 'access-level', 'data-access': level })
    : pill([icon('lock', 12), 'Private'], 'gray', { 'data-testid': 'access-level', 'data-access': level });
}

export function usageBar(used, quota, { large = false } = {}) {
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

export function spinner(size = 18) {
  const el = h('span', { class: 'spinner', role: 'progressbar', 'aria-label': 'Loading' });
  el.style.width = `${size}px`;
  el.style.height = `${size}px`;
  return el;
}

// An empty or missing thing. With `heading`, its title is the page's <h1> (a page that is only
// this state).
export function emptyState({ iconName = 'inbox', title, text, action, testid = 'empty-state', heading = false }) {
  return h('div', { class: 'empty', 'data-testid': testid },
    h('div', { class: 'empty-icon' }, icon(iconName, 28)),
    h(heading ? 'h1' : 'div', { class: 'empty-title', tabindex: heading ? '-1' : null }, title),
    text ? h('div', { class: 'empty-text' }, text) : null,
    action || null);
}

export function errorState(err, retry) {
  return h('div', { class: 'empty empty-error', 'data-testid': 'error-state' },
    h('div', { class: 'empty-icon' }, icon('alert', 28)),
    h('div', { class: 'empty-title' }, 'Could not load this page'),
    h('div', { class: 'empty-text' }, errorMessage(err)),
    retry ? h('button', { class: 'btn btn-secondary', type: 'button', onclick: retry }, icon('refresh', 14), 'Try again') : null);
}

export function button(label, { kind = 'secondary', iconName, onClick, testid, type = 'button', size, title, disabled } = {}) {
  return h('button', {
    type, class: `btn btn-${kind}${size ? ` btn-${size}` : ''}`, onclick: onClick, 'data-testid': testid, title, disabled,
  }, iconName ? icon(iconName, 16) : null, label);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

let fieldSeq = 0;
export const uniqueId = (prefix) => `${prefix}-${++fieldSeq}`;

// Adds ids to an element's aria-describedby (kept once each).
export function describedBy(el, ...ids) {
  const have = (el.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
  for (const id of ids) if (id && !have.includes(id)) have.push(id);
  if (have.length) el.setAttribute('aria-describedby', have.join(' '));
}

const LABELABLE = new Set(['INPUT', 'SELECT', 'TEXTAREA']);

// A labelled form field. A control that can take a <label> gets one (with `id`, or one made up)
// and its hint and error through aria-describedby; any other control (a group of radios or
// checkboxes, a composite) is named by the label through aria-labelledby and becomes a group
// (`role`, default 'group', unless it has a role already).
export function field(label, control, hint, { id, error, role = 'group' } = {}) {
  const hintEl = hint ? h('div', { class: 'hint', id: uniqueId('hint') }, hint) : null;
  const labelable = control instanceof Element && LABELABLE.has(control.tagName);
  let labelEl;
  if (labelable) {
    const controlId = id || control.id || uniqueId('field');
    control.id = controlId;
    labelEl = h('label', { class: 'label', for: controlId }, label);
  } else {
    const labelId = uniqueId('label');
    labelEl = h('div', { class: 'label', id: labelId }, label);
    if (control instanceof Element) {
      control.setAttribute('aria-labelledby', labelId);
      if (!control.getAttribute('role')) control.setAttribute('role', role);
    }
  }
  if (control instanceof Element) {
    if (hintEl) describedBy(control, hintEl.id);
    if (error) {
      if (!error.id) error.id = uniqueId('error');
      describedBy(control, error.id);
    }
  }
  return h('div', { class: 'field' }, labelEl, control, error || null, hintEl);
}

// An error of one field, tied to it (aria-describedby, aria-invalid): `show(message)` and
// `clear()`.
export function fieldError(input, testid) {
  const el = h('div', { class: 'field-error', id: uniqueId('error'), 'data-testid': testid, hidden: true });
  describedBy(input, el.id);
  return {
    el,
    show(message) {
      el.textContent = message;
      el.hidden = false;
      input.setAttribute('aria-invalid', 'true');
    },
    clear() {
      el.hidden = true;
      input.removeAttribute('aria-invalid');
    },
  };
}

// A failure of one field, for a dialog's onSubmit to throw: the dialog shows the message and
// ties it to the field (aria-describedby, aria-invalid) and focuses the field.
export function fieldFailure(input, message) {
  const e = new Error(message);
  e.field = input;
  return e;
}

// A dark command line with a copy button; `text` is a string or a function giving the current
// one. `label` names the copy button ("Copy the docker login command").
export function commandBlock(text, testid, kind, label = 'Copy command') {
  const current = () => (typeof text === 'function' ? text() : text);
  return h('div', { class: 'command' },
    h('pre', { class: 'command-text' }, h('code', { 'data-testid': testid, 'data-kind': kind }, current())),
    copyButton(current, { testid: `copy-${kind}`, label }));
}

// Tabs with tab panels (WAI-ARIA tabs: the arrow keys, Home and End move between tabs; only
// the selected tab is in the Tab order). items: [{id, label, panel}]; `label` names the tab list.
export function tabs(items, { label, selected = items[0].id, onSelect } = {}) {
  const base = uniqueId('tabs');
  const tabEls = [];
  const panels = [];
  const select = (id, focus) => {
    items.forEach((item, i) => {
      const on = item.id === id;
      tabEls[i].setAttribute('aria-selected', String(on));
      tabEls[i].tabIndex = on ? 0 : -1;
      tabEls[i].classList.toggle('active', on);
      panels[i].hidden = !on;
      if (on && focus) tabEls[i].focus();
    });
    if (onSelect) onSelect(id);
  };
  items.forEach((item) => {
    const tab = h('button', {
      type: 'button', role: 'tab', class: 'tab', id: `${base}-${item.id}-tab`, 'aria-controls': `${base}-${item.id}`,
      onclick: () => select(item.id, false),
    }, item.label);
    tabEls.push(tab);
    panels.push(h('div', { role: 'tabpanel', class: 'tab-panel', id: `${base}-${item.id}`, 'aria-labelledby': tab.id, tabindex: '0' }, item.panel));
  });
  const list = h('div', { class: 'tabs tabs-inline', role: 'tablist', 'aria-label': label }, tabEls);
  list.addEventListener('keydown', (ev) => {
    const i = tabEls.indexOf(document.activeElement);
    if (i < 0) return;
    const n = tabEls.length;
    const next = { ArrowRight: (i + 1) % n, ArrowLeft: (i - 1 + n) % n, Home: 0, End: n - 1 }[ev.key];
    if (next === undefined) return;
    ev.preventDefault();
    select(items[next].id, true);
  });
  select(selected, false);
  return h('div', { class: 'tabset' }, list, panels);
}
