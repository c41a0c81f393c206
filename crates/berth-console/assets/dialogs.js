// berth console: modal dialogs and confirmations, and the keys they answer: Tab stays inside the
// top dialog, Escape closes an open menu first, then the top dialog.

import { h, replace, icon } from './dom.js';
import { errorMessage } from './api.js';
import { spinner } from './ui.js';
import { closeMenu, menuOpen } from './menus.js';

const openDialogs = [];

// A modal dialog. `content` is the body; `footer` the buttons. With `onSubmit`, the dialog is a
// form: Enter submits, the submit button shows progress, errors appear inside the dialog and
// the dialog closes when onSubmit resolves to anything but false.
export function openDialog({ title, subtitle, content, footer, onSubmit, submitLabel = 'Save', submitKind = 'primary',
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

export function confirmDialog({ title, message, confirmLabel = 'Delete', danger = true, action }) {
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
  if (ev.key === 'Tab' && top && !menuOpen()) {
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

// Closes every open dialog (on a route change, or when the session ends).
export function closeDialogs() {
  for (const d of [...openDialogs]) d.close();
}
