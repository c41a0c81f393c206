// berth console: the login page. `onSession` gets the session the API answers and shows the page
// that was asked for.

import { h, replace, icon } from '../dom.js';
import { api, errorMessage } from '../api.js';
import { spinner } from '../ui.js';

export function renderLogin(root, notice, onSession) {
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
      const session = await api('POST', '/session', { username: username.value.trim(), password: password.value }, { noAuthRedirect: true });
      if (!location.hash || location.hash === '#/login') history.replaceState(null, '', '#/repositories');
      onSession(session);
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
