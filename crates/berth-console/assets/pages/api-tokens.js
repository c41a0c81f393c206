// berth console: the logged-in user's API tokens (for scripts calling the management API with
// `Authorization: Bearer berth_...`): list, create (the token is shown once), revoke.

import { h, append, icon } from '../dom.js';
import { timeCell, formatExpiry } from '../format.js';
import { api, query, seg } from '../api.js';
import { toast, copyButton, pill, button, field, fieldFailure, commandBlock } from '../ui.js';
import { openDialog, confirmDialog } from '../dialogs.js';
import { actionMenu } from '../menus.js';
import { DEFAULT_SIZE, dataTable, pagedList } from '../table.js';
import { setHashParams, intParam } from '../routes.js';
import { setCrumbs, activateNav, pageHeader } from '../shell.js';

const expired = (t) => t.expires_at != null && new Date(t.expires_at).getTime() <= Date.now();

export function renderApiTokens(content, session, params) {
  setCrumbs([{ label: 'API tokens' }]);
  activateNav('api-tokens');
  const table = dataTable({
    testid: 'api-tokens-table',
    label: 'API tokens',
    fixed: true,
    rowTestid: 'api-token-row',
    rowProps: (t) => ({ 'data-id': t.id }),
    columns: [
      { title: 'Description', render: (t) => (t.description ? h('span', { class: 'desc desc-clamp', title: t.description, 'data-testid': 'api-token-description' }, t.description) : h('span', { class: 'muted' }, 'No description')) },
      { title: 'ID', width: '190px', render: (t) => h('code', { class: 'mono small', 'data-testid': 'api-token-id' }, t.id) },
      { title: 'Created', width: '200px', render: (t) => timeCell(t.created_at) },
      {
        title: 'Expires',
        width: '180px',
        render: (t) => (t.expires_at == null
          ? h('span', { class: 'muted', 'data-testid': 'api-token-expiry' }, 'never')
          : expired(t)
            ? pill([icon('lock', 11), `Expired ${formatExpiry(t.expires_at)}`], 'red', { 'data-testid': 'api-token-expiry' })
            : h('span', { 'data-testid': 'api-token-expiry', title: t.expires_at }, formatExpiry(t.expires_at))),
      },
      {
        title: '', class: 'actions', width: '52px',
        render: (t) => actionMenu(() => [
          { label: 'Revoke', iconName: 'trash', danger: true, testid: 'menu-revoke', onClick: () => revokeToken(t, list) },
        ], { testid: 'api-token-actions', label: `Actions for token ${t.description || t.id}` }),
      },
    ],
    empty: {
      iconName: 'key', title: 'No API tokens',
      text: 'An API token lets a script call the management API as you, without your password.',
      action: button('Create API token', { kind: 'primary', iconName: 'plus', onClick: () => createTokenDialog(list) }),
    },
  });
  const list = pagedList({
    table,
    noun: ['token', 'tokens'],
    page: intParam(params, 'page', 1),
    size: intParam(params, 'size', DEFAULT_SIZE, 100),
    load: (page, size) => api('GET', `/api-tokens${query({ page, size })}`),
    onState: (s) => setHashParams(s),
  });
  append(content,
    pageHeader({
      iconName: 'key',
      testid: 'api-tokens-title',
      title: 'API tokens',
      subtitle: ['Your tokens for the management API (', h('code', { class: 'inline-code' }, 'Authorization: Bearer berth_…'), '), acting as ', h('strong', null, session.username), '. Changing your password revokes them all.'],
      actions: [
        button('Refresh', { iconName: 'refresh', testid: 'refresh', onClick: () => list.reload() }),
        button('Create API token', { kind: 'primary', iconName: 'plus', testid: 'create-api-token', onClick: () => createTokenDialog(list) }),
      ],
    }),
    h('div', { class: 'card card-flush' }, table.el, list.pager));
  list.start();
}

function createTokenDialog(list) {
  const description = h('input', { class: 'input', 'data-testid': 'api-token-description-input', maxlength: '1000', placeholder: 'What uses this token?', autocomplete: 'off', autofocus: true });
  const never = h('input', { type: 'checkbox', 'data-testid': 'api-token-never', checked: true });
  const date = h('input', { class: 'input input-date', type: 'date', 'data-testid': 'api-token-expiry-date', 'aria-label': 'Expiration date', disabled: true, min: new Date(Date.now() + 86400000).toISOString().slice(0, 10) });
  never.addEventListener('change', () => {
    date.disabled = never.checked;
    if (!never.checked) {
      if (!date.value) date.value = new Date(Date.now() + 90 * 86400000).toISOString().slice(0, 10);
      date.focus();
    }
  });
  openDialog({
    title: 'Create API token',
    subtitle: 'The token acts as you on the management API. It is shown once.',
    testid: 'create-api-token-dialog',
    submitLabel: 'Create',
    content: [
      field('Description', description, 'Say what uses it, to know what breaks when you revoke it.'),
      field('Expiration', h('div', { class: 'inline-fields' }, date, h('label', { class: 'check' }, never, h('span', null, 'Never expires'))),
        'From this date (00:00 UTC) the token is refused.'),
    ],
    onSubmit: async () => {
      if (!never.checked && !date.value) throw fieldFailure(date, 'Choose an expiration date, or "Never expires".');
      const body = { description: description.value.trim() };
      if (!never.checked) body.expires_at = `${date.value}T00:00:00Z`;
      const created = await api('POST', '/api-tokens', body);
      list.reload();
      tokenDialog(created);
    },
  });
}

// The new token, shown once.
function tokenDialog(t) {
  const value = h('code', { class: 'secret-value', 'data-testid': 'api-token-secret' }, t.token);
  let dialog = null;
  dialog = openDialog({
    title: 'API token created',
    testid: 'api-token-dialog',
    dismissable: false,
    content: [
      h('div', { class: 'alert alert-warn' }, icon('alert', 16),
        h('span', null, h('strong', null, 'Copy the token now: it will not be shown again. '), 'If it is lost, revoke it and create another.')),
      field('Token', h('div', { class: 'secret-box' }, value, copyButton(() => t.token, { testid: 'copy-api-token', label: 'Copy token', toastText: 'Token copied' }))),
      field('Use it', commandBlock(`curl -H "Authorization: Bearer $API_TOKEN" ${location.origin}/api/v1/repositories`, 'api-token-example', 'api-token-curl', 'Copy the example command'),
        'With the token in the shell variable API_TOKEN (read -rs API_TOKEN), not on the command line.'),
    ],
    footer: [h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'api-token-done', onclick: () => dialog.close() }, 'I have saved the token')],
  });
}

function revokeToken(t, list) {
  confirmDialog({
    title: 'Revoke this API token?',
    message: [
      h('p', null, 'The token ', t.description ? h('strong', { 'data-testid': 'confirm-name' }, t.description) : h('code', { class: 'inline-code' }, t.id), ' stops working at once.'),
      h('p', { class: 'muted' }, 'Scripts using it get 401 until they are given another token. This cannot be undone.'),
    ],
    confirmLabel: 'Revoke',
    action: async () => {
      await api('DELETE', `/api-tokens/${seg(t.id)}`);
      toast('API token revoked');
      list.reload();
    },
  });
}
