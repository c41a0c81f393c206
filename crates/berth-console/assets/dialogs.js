// berth console: modal dialogs and confirmations, and the keys they answer: Tab stays inside the
// top dialog, Escape closes an open menu first, then the top dialog.

import { h, replace, icon } from './dom.js';
import { errorMessage } from './api.js';
import { spinner } from './ui.js';
import { closeMenu, menuOpen } from './menus.js';

const openDialogs = [];

// Focuses the page's heading (the first <h1> of the content), made focusable for that; false
// when the page has none yet. After a route change and when a dialog closes with nothing else
// to go back to, so a screen reader reads where the person is.
export function focusHeading() {
  const heading = document.querySelector('#content h1, .login-page h1');
  if (!heading) return false;
  heading.setAttribute('tabindex', '-1');
  heading.focus({ preventScroll: true });
  return true;
}

// A modal dialog. `content` is the body; `footer` the buttons. With `onSubmit`, the dialog is a
// form: Enter submits, the submit button shows progress, errors appear inside the dialog and
// the dialog closes when onSubmit resolves to anything but false.
export function openDialog({ title, subtitle, content, footer, onSubmit, submitLabel = 'Save', submitKind = 'primary',
  cancelLabel = 'Cancel', size = 'md', testid = 'dialog', dismissable = true, onClose, submitTestid = 'dialog-submit' }) {
  // Where the focus goes back to when this dialog closes.
  let previousFocus = document.activeElement;
  const errorId = `dlg-error-${Math.random().toString(36).slice(2)}`;
  const errorBox = h('div', { class: 'alert alert-error', id: errorId, 'data-testid': 'dialog-error', role: 'alert', hidden: true });
  // The field the shown error is about (aria-invalid, and described by the error).
  let invalidField = null;
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
    // Dialogs this one opened (a secret shown once after a create) are still open: the first
    // of them returns the focus where this one would have, and the focus stays where it is.
    const above = i >= 0 ? openDialogs.slice(i + 1) : [];
    if (i >= 0) openDialogs.splice(i, 1);
    if (!openDialogs.length) document.body.classList.remove('modal-open');
    if (onClose) onClose(result);
    if (above.length) {
      above[0].inheritFocus(panel, previousFocus);
      return;
    }
    // Back to what opened the dialog (a menu's button, a row's); when that is gone (the list
    // re-rendered) or was never focused, to the page heading.
    if (previousFocus && previousFocus !== document.body && previousFocus.focus && document.contains(previousFocus)) previousFocus.focus();
    else if (!openDialogs.length) focusHeading();
  }

  // The dialog that opened this one closed: return the focus where that one would have.
  function inheritFocus(closedPanel, target) {
    // (Its own target is the other dialog's, or nothing: the body, when the busy submit button
    // that had the focus was disabled.)
    if (!previousFocus || previousFocus === document.body || closedPanel.contains(previousFocus) || !document.contains(previousFocus)) previousFocus = target;
  }

  function setError(message, fieldEl) {
    errorBox.hidden = !message;
    replace(errorBox, message ? [icon('alert', 16), h('span', null, message)] : []);
    if (invalidField) {
      invalidField.removeAttribute('aria-invalid');
      const rest = (invalidField.getAttribute('aria-describedby') || '').split(/\s+/).filter((id) => id && id !== errorId);
      if (rest.length) invalidField.setAttribute('aria-describedby', rest.join(' '));
      else invalidField.removeAttribute('aria-describedby');
      invalidField = null;
    }
    if (message && fieldEl) {
      invalidField = fieldEl;
      fieldEl.setAttribute('aria-invalid', 'true');
      const ids = (fieldEl.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
      fieldEl.setAttribute('aria-describedby', [...ids, errorId].join(' '));
      fieldEl.focus();
    }
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
        setError(errorMessage(e), e && e.field);
      }
    });
  }
  overlay.addEventListener('mousedown', (ev) => {
    if (ev.target === overlay && dismissable && !busy) close();
  });
  const dialog = { overlay, panel, close, setError, setBusy, dismissable, isBusy: () => busy, inheritFocus };
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
  // A menu handled it (Tab closes a menu and returns to its button).
  if (ev.defaultPrevented) return;
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
  if (closeMenu({ returnFocus: true })) return;
  if (top && top.dismissable && !top.isBusy()) top.close();
});

// Whether a dialog is open.
export const dialogOpen = () => openDialogs.length > 0;

// Closes every open dialog (on a route change, or when the session ends).
export function closeDialogs() {
  for (const d of [...openDialogs]) d.close();
}
