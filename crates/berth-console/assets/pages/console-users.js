// berth console: the console users page (system administrator only): the console users of one
// account, or the system administrators; create, reset a password, disable or enable, delete.
// The list state (account, page, size) lives in the hash: #/console-users?account=10000.

import { h, append, replace, icon } from '../dom.js';
import { timeCell } from '../format.js';
import { api, query, seg, errorMessage } from '../api.js';
import { toast, pill, button, field, fieldFailure, emptyState } from '../ui.js';
import { openDialog, confirmDialog } from '../dialogs.js';
import { actionMenu } from '../menus.js';
import { DEFAULT_SIZE, dataTable, pagedList } from '../table.js';
import { setHashParams, intParam } from '../routes.js';
import { setCrumbs, activateNav, pageHeader } from '../shell.js';
import { newPasswordFields, changePasswordDialog } from '../passwords.js';

// The server's rule for a new console user's name (identity: check_console_username).
const USERNAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

// Every account, for the filter and the create dialog (the API's pages of 100, one after another).
async function loadAccounts() {
  const all = [];
  for (let page = 1; page <= 100; page += 1) {
    const data = await api('GET', `/accounts${query({ page, size: 100 })}`);
    const items = data.items || [];
    all.push(...items);
    if (!items.length || all.length >= (Number(data.total) || 0)) break;
  }
  return all;
}

const accountLabel = (a) => `${a.name} (account ${a.id})`;

export function renderConsoleUsers(content, session, params) {
  setCrumbs([{ label: 'Console users' }]);
  activateNav('console-users');
  if (session.role !== 'admin') {
    append(content, h('div', { class: 'card' }, emptyState({
      iconName: 'lock',
      title: 'Only the system administrator manages console users',
      text: 'Ask the system administrator to create, reset, disable or delete a console user. To change your own password, open the menu under your name at the top right.',
      testid: 'admin-only',
      heading: true,
      action: h('a', { class: 'btn btn-primary', href: '#/repositories' }, 'Go to repositories'),
    })));
    return;
  }

  // The account shown ('' : the system administrators).
  const asked = params.get('account') || '';
  let filter = /^\d+$/.test(asked) ? asked : '';
  let accounts = [];
  const names = new Map();
  const nameOf = (id) => (id === '' ? 'System administrators' : names.has(id) ? accountLabel({ id, name: names.get(id) }) : `Account ${id}`);

  const filterSelect = h('select', { class: 'select', id: 'console-users-account', 'data-testid': 'console-users-account' });
  const fillFilter = () => {
    const ids = accounts.map((a) => String(a.id));
    replace(filterSelect,
      h('option', { value: '' }, 'System administrators'),
      h('optgroup', { label: 'Console users of an account' },
        filter && !ids.includes(filter) ? h('option', { value: filter }, nameOf(filter)) : null,
        accounts.map((a) => h('option', { value: String(a.id) }, accountLabel(a)))));
    filterSelect.value = filter;
  };
  fillFilter();
  const accountsReady = loadAccounts().then((list) => {
    accounts = list;
    for (const a of list) names.set(String(a.id), a.name);
    fillFilter();
    return list;
  }).catch((e) => {
    if (e.status !== 401) toast(`The accounts could not be loaded: ${errorMessage(e)}`, 'error');
    return [];
  });

  const table = dataTable({
    testid: 'console-users-table', label: 'Console users',
    rowTestid: 'console-user-row',
    rowProps: (u) => ({ 'data-username': u.username, 'data-state': u.disabled ? 'disabled' : 'active' }),
    columns: [
      {
        title: 'Username',
        render: (u) => h('div', { class: 'user-cell' },
          h('span', { class: 'key-icon' }, icon(u.role === 'admin' ? 'shield' : 'user', 14)),
          h('code', { class: 'mono strong', 'data-testid': 'console-user-name' }, u.username),
          u.username === session.username ? pill('you', 'blue', { 'data-testid': 'console-user-you' }) : null),
      },
      {
        title: 'Role',
        width: '200px',
        render: (u) => (u.role === 'admin'
          ? pill([icon('shield', 11), 'System administrator'], 'blue', { 'data-testid': 'console-user-role', 'data-role': u.role })
          : pill('Console user', 'gray', { 'data-testid': 'console-user-role', 'data-role': u.role })),
      },
      {
        title: 'Account',
        render: (u) => (u.account == null
          ? h('span', { class: 'muted', 'data-testid': 'console-user-account', 'data-account': '', title: 'A system administrator belongs to no account: it manages all of them.' }, 'All accounts')
          : h('span', { 'data-testid': 'console-user-account', 'data-account': String(u.account) },
            names.get(String(u.account)) || `Account ${u.account}`, h('span', { class: 'muted' }, ` · ${u.account}`))),
      },
      { title: 'Created', width: '200px', render: (u) => timeCell(u.created_at) },
      {
        title: 'State',
        width: '120px',
        render: (u) => (u.disabled
          ? pill([icon('ban', 11), 'Disabled'], 'amber', { 'data-testid': 'console-user-state', 'data-state': 'disabled', title: 'Cannot log in until enabled again' })
          : pill([icon('check', 11), 'Active'], 'green', { 'data-testid': 'console-user-state', 'data-state': 'active' })),
      },
      {
        title: '', class: 'actions', width: '52px',
        render: (u) => actionMenu(() => userMenu(u), { testid: 'console-user-actions', label: `Actions for ${u.username}` }),
      },
    ],
    empty: (id) => ({
      iconName: 'user',
      title: `No console users in ${nameOf(id)}`,
      text: 'A console user logs in to this console and manages the repositories and repository users of its account.',
      action: button('Create console user', { kind: 'primary', iconName: 'plus', onClick: () => openCreate() }),
    }),
  });
  const list = pagedList({
    noun: ['console user', 'console users'],
    table,
    page: intParam(params, 'page', 1),
    size: intParam(params, 'size', DEFAULT_SIZE, 100),
    // The account names are at hand when the rows render (both requests run at once).
    load: async (page, size) => {
      const [data] = await Promise.all([api('GET', `/console-users${query({ account: filter, page, size })}`), accountsReady]);
      return data;
    },
    onState: (s) => setHashParams({ account: filter, ...s }),
    emptyArgs: () => filter,
  });

  const show = (id) => {
    filter = id;
    if (filterSelect.value !== id) fillFilter();
    list.goTo(1);
  };
  filterSelect.addEventListener('change', () => show(filterSelect.value));

  function userMenu(u) {
    const self = u.username === session.username;
    return [
      self
        ? { label: 'Change your password', iconName: 'lock', testid: 'menu-change-password', onClick: () => changePasswordDialog(session) }
        : { label: 'Reset password', iconName: 'key', testid: 'menu-reset-password', onClick: () => resetPasswordDialog(u, list) },
      u.disabled
        ? { label: 'Enable', iconName: 'check', testid: 'menu-enable', onClick: () => enableUser(u, list) }
        : { label: 'Disable', iconName: 'ban', testid: 'menu-disable', onClick: () => disableUser(u, list) },
      'separator',
      { label: 'Delete', iconName: 'trash', danger: true, testid: 'menu-delete', onClick: () => deleteUser(u, list) },
    ];
  }

  function openCreate() {
    accountsReady.then((all) => createConsoleUserDialog({
      accounts: all,
      // The account shown; from the administrators' list, the first account (an administrator
      // is chosen on purpose).
      preset: filter || (all.length ? String(all[0].id) : ''),
      onCreated: (created) => {
        const id = created.account == null ? '' : String(created.account);
        if (id === filter) list.reload();
        else show(id);
      },
    }));
  }

  append(content,
    pageHeader({
      iconName: 'user',
      testid: 'console-users-title',
      title: 'Console users',
      subtitle: 'Who logs in to this console: the console users of each account, and the system administrators.',
      actions: [
        button('Refresh', { iconName: 'refresh', testid: 'refresh', onClick: () => list.reload() }),
        button('Create console user', { kind: 'primary', iconName: 'plus', testid: 'create-console-user', onClick: () => openCreate() }),
      ],
    }),
    h('div', { class: 'toolbar' },
      h('div', { class: 'filter' }, h('label', { class: 'label', for: 'console-users-account' }, 'Show'), filterSelect)),
    h('div', { class: 'card card-flush' }, table.el, list.pager));
  list.start();
}

function createConsoleUserDialog({ accounts, preset, onCreated }) {
  const username = h('input', {
    class: 'input', id: 'console-user-username', 'data-testid': 'console-user-username', autocomplete: 'off', spellcheck: 'false',
    maxlength: '64', placeholder: 'e.g. jane@example.com', autofocus: true,
  });
  const ids = accounts.map((a) => String(a.id));
  const accountSelect = h('select', { class: 'select', id: 'console-user-account', 'data-testid': 'console-user-account-select', value: preset },
    h('optgroup', { label: 'Console user of an account' },
      preset && !ids.includes(preset) ? h('option', { value: preset }, `Account ${preset}`) : null,
      accounts.map((a) => h('option', { value: String(a.id) }, accountLabel(a)))),
    h('optgroup', { label: 'No account' }, h('option', { value: '' }, 'System administrator')));
  const roleHint = h('div', { class: 'hint', id: 'console-user-account-hint' });
  const updateHint = () => {
    roleHint.textContent = accountSelect.value === ''
      ? 'A system administrator manages every account and the console users: give this role sparingly.'
      : 'Manages the repositories and repository users of this account only.';
  };
  accountSelect.setAttribute('aria-describedby', 'console-user-account-hint');
  accountSelect.addEventListener('change', updateHint);
  updateHint();
  const password = newPasswordFields({ label: 'Password', testid: 'console-user-password' });
  openDialog({
    title: 'Create console user',
    subtitle: 'Someone who logs in to this console. Give them the password; they can change it from the menu under their name.',
    testid: 'create-console-user-dialog',
    submitLabel: 'Create',
    content: [
      field('Username', username, "1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit.", { id: 'console-user-username' }),
      h('div', { class: 'field' }, h('label', { class: 'label', for: 'console-user-account' }, 'Account'), accountSelect, roleHint),
      password.el,
    ],
    onSubmit: async () => {
      const name = username.value.trim();
      if (!USERNAME_RE.test(name)) {
        throw fieldFailure(username, name
          ? "A username is 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit."
          : 'Enter a username.');
      }
      const body = { username: name, password: password.value(), account: accountSelect.value === '' ? null : Number(accountSelect.value) };
      const created = await api('POST', '/console-users', body);
      toast(created.role === 'admin' ? `System administrator ${created.username} created` : `Console user ${created.username} created`);
      onCreated(created);
    },
  });
}

function resetPasswordDialog(u, list) {
  const fresh = newPasswordFields({ label: 'New password', testid: 'reset-password', autofocus: true });
  openDialog({
    title: `Reset the password of ${u.username}`,
    subtitle: 'Its sessions and API tokens end at once: it logs in again with the new password.',
    testid: 'reset-password-dialog',
    submitLabel: 'Reset password',
    content: fresh.el,
    onSubmit: async () => {
      const password = fresh.value();
      await api('PATCH', `/console-users/${seg(u.username)}`, { password });
      toast(`Password of ${u.username} reset; its sessions and API tokens were ended`);
      list.reload();
    },
  });
}

function disableUser(u, list) {
  confirmDialog({
    title: `Disable ${u.username}?`,
    message: [
      h('p', null, h('strong', null, u.username), ' cannot log in until enabled again. Its sessions and API tokens end at once.'),
      h('p', { class: 'muted' }, 'Enabling it later lets it log in with the same password; the ended sessions and API tokens do not come back.'),
    ],
    confirmLabel: 'Disable',
    action: async () => {
      await api('PATCH', `/console-users/${seg(u.username)}`, { disabled: true });
      toast(`${u.username} disabled`);
      list.reload();
    },
  });
}

async function enableUser(u, list) {
  try {
    await api('PATCH', `/console-users/${seg(u.username)}`, { disabled: false });
    toast(`${u.username} enabled: it can log in again`);
    list.reload();
  } catch (e) {
    if (e.status !== 401) toast(errorMessage(e), 'error');
  }
}

function deleteUser(u, list) {
  confirmDialog({
    title: `Delete console user ${u.username}?`,
    message: [
      h('p', null, 'The console user ', h('strong', { 'data-testid': 'confirm-name' }, u.username), ' is deleted, with its sessions and API tokens.'),
      h('p', { class: 'muted' }, 'Repositories and repository users are not touched. This cannot be undone.'),
    ],
    action: async () => {
      await api('DELETE', `/console-users/${seg(u.username)}`);
      toast(`Console user ${u.username} deleted`);
      list.reload();
    },
  });
}
