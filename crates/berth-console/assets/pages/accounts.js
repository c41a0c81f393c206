// berth console: the accounts page (system administrator only): every account (a tenant: its
// repositories, repository users and console users), and creating one. Accounts are not renamed
// or deleted through the API.

import { h, append } from '../dom.js';
import { timeCell, formatNumber } from '../format.js';
import { api, query } from '../api.js';
import { toast, button, field, fieldFailure, emptyState } from '../ui.js';
import { openDialog } from '../dialogs.js';
import { actionMenu } from '../menus.js';
import { DEFAULT_SIZE, dataTable, pagedList } from '../table.js';
import { setHashParams, intParam, navigate } from '../routes.js';
import { setCrumbs, activateNav, pageHeader } from '../shell.js';

export function renderAccounts(content, session, params) {
  setCrumbs([{ label: 'Accounts' }]);
  activateNav('accounts');
  if (session.role !== 'admin') {
    append(content, h('div', { class: 'card' }, emptyState({
      iconName: 'lock',
      title: 'Only the system administrator manages accounts',
      text: 'Your console user belongs to one account, whose repositories you manage.',
      testid: 'admin-only',
      heading: true,
      action: h('a', { class: 'btn btn-primary', href: '#/repositories' }, 'Go to repositories'),
    })));
    return;
  }
  // The largest id seen, for the next one the create dialog suggests.
  let largest = 0;
  const table = dataTable({
    testid: 'accounts-table',
    label: 'Accounts',
    rowTestid: 'account-row',
    rowProps: (a) => ({ 'data-id': String(a.id) }),
    columns: [
      { title: 'ID', class: 'num', width: '110px', render: (a) => h('span', { class: 'mono', 'data-testid': 'account-id' }, String(a.id)) },
      { title: 'Name', render: (a) => h('span', { class: 'strong', 'data-testid': 'account-name' }, a.name) },
      { title: 'Created', width: '220px', render: (a) => timeCell(a.created_at) },
      {
        title: '', class: 'actions', width: '52px',
        render: (a) => actionMenu(() => [
          { label: 'Show its console users', iconName: 'user', testid: 'menu-console-users', onClick: () => navigate(`#/console-users${query({ account: a.id })}`) },
        ], { testid: 'account-actions', label: `Actions for account ${a.name}` }),
      },
    ],
    empty: { iconName: 'globe', title: 'No accounts', text: 'An account holds repositories, repository users and console users.' },
  });
  const list = pagedList({
    table,
    noun: ['account', 'accounts'],
    page: intParam(params, 'page', 1),
    size: intParam(params, 'size', DEFAULT_SIZE, 100),
    load: async (page, size) => {
      const data = await api('GET', `/accounts${query({ page, size })}`);
      for (const a of data.items || []) largest = Math.max(largest, Number(a.id) || 0);
      return data;
    },
    onState: (s) => setHashParams(s),
  });
  append(content,
    pageHeader({
      iconName: 'globe',
      testid: 'accounts-title',
      title: 'Accounts',
      subtitle: 'Tenants of this registry: each has its own repositories, repository users and console users, and sees no other.',
      actions: [
        button('Refresh', { iconName: 'refresh', testid: 'refresh', onClick: () => list.reload() }),
        button('Create account', { kind: 'primary', iconName: 'plus', testid: 'create-account', onClick: () => createAccountDialog(largest + 1, list) }),
      ],
    }),
    h('div', { class: 'card card-flush' }, table.el, list.pager));
  list.start();
}

function createAccountDialog(suggested, list) {
  const id = h('input', { class: 'input', type: 'number', min: '1', step: '1', value: String(Math.max(suggested, 1)), 'data-testid': 'account-id-input', autocomplete: 'off' });
  const name = h('input', { class: 'input', 'data-testid': 'account-name-input', autocomplete: 'off', maxlength: '200', placeholder: 'e.g. team-b', autofocus: true });
  openDialog({
    title: 'Create account',
    subtitle: 'A new tenant. Then create a console user for it, who creates its repositories.',
    testid: 'create-account-dialog',
    submitLabel: 'Create',
    content: [
      field('Name', name, 'How the console names the account.'),
      field('Account ID', id, 'A whole number, unique, never reused: repository users of the account are named with it (ID-name).'),
    ],
    onSubmit: async () => {
      const n = name.value.trim();
      if (!n) throw fieldFailure(name, 'Enter a name.');
      const v = Number(id.value);
      if (!Number.isInteger(v) || v < 1) throw fieldFailure(id, 'The account ID is a whole number of 1 or more.');
      const created = await api('POST', '/accounts', { id: v, name: n });
      toast(`Account ${created.name} (${formatNumber(created.id)}) created`);
      list.reload();
    },
  });
}
