// berth console: console passwords: a new password typed twice (the create and reset dialogs of
// the console users page use it too), and the dialog in which the logged-in console user changes
// its own password (the user menu in the top bar opens it).

import { h } from './dom.js';
import { api } from './api.js';
import { toast, field, fieldFailure } from './ui.js';
import { openDialog } from './dialogs.js';

// The server's bounds (identity: 8 to 256 characters, counted in characters, not bytes).
export const MIN_PASSWORD_CHARS = 8;
const MAX_PASSWORD_CHARS = 256;

const chars = (s) => Array.from(s).length;

let fieldSeq = 0;

// A new password and its repetition. `value()` gives the password, or throws the message to show
// (empty, too short or long, the two differ); the server checks again.
export function newPasswordFields({ label = 'New password', testid = 'new-password', autofocus = false } = {}) {
  fieldSeq += 1;
  const id = `${testid}-${fieldSeq}`;
  const password = h('input', {
    class: 'input', id, type: 'password', autocomplete: 'new-password', 'data-testid': testid, autofocus,
    minlength: String(MIN_PASSWORD_CHARS), maxlength: String(MAX_PASSWORD_CHARS), 'aria-describedby': `${id}-hint`,
  });
  const repeat = h('input', {
    class: 'input', id: `${id}-repeat`, type: 'password', autocomplete: 'new-password', 'data-testid': `${testid}-repeat`,
  });
  const hint = h('div', { class: 'hint', id: `${id}-hint` }, `At least ${MIN_PASSWORD_CHARS} characters.`);
  const el = [
    h('div', { class: 'field' }, h('label', { class: 'label', for: id }, label), password, hint),
    field(`Repeat the ${label.toLowerCase()}`, repeat, null, { id: `${id}-repeat` }),
  ];
  return {
    el,
    value() {
      const v = password.value;
      const fail = (message, input) => {
        throw fieldFailure(input, message);
      };
      if (!v) fail(`Enter the ${label.toLowerCase()}.`, password);
      if (chars(v) < MIN_PASSWORD_CHARS) fail(`A password needs at least ${MIN_PASSWORD_CHARS} characters.`, password);
      if (chars(v) > MAX_PASSWORD_CHARS) fail(`A password has at most ${MAX_PASSWORD_CHARS} characters.`, password);
      if (repeat.value !== v) fail('The two passwords differ: type the same password twice.', repeat);
      return v;
    },
  };
}

// The logged-in user changes its own password, giving the current one. The server ends every
// session and API token of the user and sends this page a new session cookie, so it stays
// logged in.
export function changePasswordDialog(session) {
  const current = h('input', {
    class: 'input', id: 'current-password', type: 'password', autocomplete: 'current-password', 'data-testid': 'current-password', autofocus: true,
  });
  const fresh = newPasswordFields({ label: 'New password', testid: 'new-password' });
  openDialog({
    title: 'Change password',
    subtitle: ['For ', h('strong', null, session.username), '. Your other sessions and API tokens end: log in there again, and create new API tokens.'],
    testid: 'change-password-dialog',
    submitLabel: 'Change password',
    content: [
      // For password managers: whose password this is.
      h('input', { type: 'text', autocomplete: 'username', value: session.username, readOnly: true, hidden: true, 'aria-hidden': 'true', tabindex: '-1' }),
      field('Current password', current, null, { id: 'current-password' }),
      fresh.el,
    ],
    onSubmit: async () => {
      if (!current.value) throw fieldFailure(current, 'Enter your current password.');
      const next = fresh.value();
      await api('PUT', '/session/password', { current_password: current.value, new_password: next });
      toast('Password changed. Your other sessions and API tokens were ended; this page stays logged in.', 'success', 8000);
    },
  });
}
