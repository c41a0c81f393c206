// berth console: a repository's users tab: repository users (robot credentials for docker
// login), their create and edit dialogs, secrets, and deletion.

import { h, append, clear, replace, icon } from '../dom.js';
import { timeCell, formatExpiry, utcDateInput, PERMISSIONS } from '../format.js';
import { api, query, seg } from '../api.js';
import { toast, copyButton, pill, button, field, fieldFailure } from '../ui.js';
import { loginCommands } from '../commands.js';
import { openDialog, confirmDialog } from '../dialogs.js';
import { actionMenu } from '../menus.js';
import { DEFAULT_SIZE, dataTable, pagedList } from '../table.js';
import { setHashParams, intParam } from '../routes.js';

export function renderUsersTab(body, repo, params) {
  const table = dataTable({
    testid: 'users-table', label: 'Repository users', fixed: true,
    rowTestid: 'user-row',
    rowProps: (u) => ({ 'data-name': u.name }),
    columns: [
      { title: 'Name', width: '20%', render: (u) => h('div', { class: 'user-cell' }, h('span', { class: 'key-icon' }, icon('key', 14)), h('code', { class: 'mono strong', 'data-testid': 'user-name' }, u.name)) },
      {
        title: 'Repositories',
        render: (u) => h('div', { class: 'pills' }, (u.repositories || []).map((p) => h('span', {
          class: `perm-pill${p.repository === repo ? ' perm-current' : ''}`, 'data-testid': 'user-permission', 'data-repository': p.repository, 'data-permission': p.permission,
        }, h('span', { class: 'perm-repo' }, p.repository), h('span', { class: `perm-level perm-${p.permission}` }, PERMISSIONS[p.permission] || p.permission)))),
      },
      { title: 'Expires', width: '150px', render: (u) => expiryCell(u) },
      // Long descriptions wrap and are cut after two lines (the whole text on hover), so the
      // dates and the action menu stay on screen.
      { title: 'Description', width: '24%', render: (u) => (u.description ? h('span', { class: 'desc desc-clamp', title: u.description, 'data-testid': 'user-description' }, u.description) : h('span', { class: 'muted' }, '—')) },
      { title: 'Created', width: '130px', render: (u) => timeCell(u.created_at, 'never', undefined, { dateOnly: true }) },
      {
        title: '', class: 'actions', width: '52px',
        render: (u) => actionMenu(() => [
          { label: 'Edit', iconName: 'edit', testid: 'menu-edit', onClick: () => userDialog({ repo, user: u, onDone: () => list.reload() }) },
          { label: 'Refresh secret', iconName: 'refresh', testid: 'menu-refresh-secret', onClick: () => refreshSecret(u, list, repo) },
          'separator',
          { label: 'Delete', iconName: 'trash', danger: true, testid: 'menu-delete', onClick: () => deleteUser(u, list) },
        ], { testid: 'user-actions', label: `Actions for ${u.name}` }),
      },
    ],
    empty: {
      iconName: 'users', title: 'No repository users',
      text: `Create a repository user with a permission on ${repo} to log in with docker and push or pull images.`,
      action: button('Create user', { kind: 'primary', iconName: 'plus', onClick: () => userDialog({ repo, onDone: () => list.reload() }) }),
    },
  });
  const list = pagedList({
    noun: ['repository user', 'repository users'],
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
    field('Expiration', h('div', { class: 'inline-fields' }, date, h('label', { class: 'check' }, never, h('span', null, 'Never expires'))),
      'On this date (00:00 UTC) the user is locked, not deleted: extend the date to unlock it.'),
    field('Description', description, null, { id: 'user-description' }),
    field('Repository permissions', h('div', null,
      h('div', { class: 'hint hint-top' }, 'push_pull: push and pull images; pull: pull only.'),
      rowsEl,
      h('datalist', { id: datalistId }),
      addBtn)),
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
      const emptyRow = rows.find((r) => !r.repoEl.value.trim());
      if (emptyRow) throw fieldFailure(emptyRow.repoEl, 'Choose a repository in every permission row.');
      const seen = new Set();
      for (const [i, p] of repositories.entries()) {
        if (seen.has(p.repository)) throw fieldFailure(rows[i].repoEl, `Repository ${p.repository} is listed twice.`);
        seen.add(p.repository);
      }
      if (!never.checked && !date.value) throw fieldFailure(date, 'Choose an expiration date, or "Never expires".');
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
  dialog = openDialog({
    title,
    testid: 'secret-dialog',
    dismissable: false,
    content: [
      h('div', { class: 'alert alert-warn', 'data-testid': 'secret-warning' }, icon('alert', 16),
        h('span', null, h('strong', null, 'Copy the secret now: it will not be shown again. '), 'If it is lost, refresh the secret to get a new one.')),
      field('Name', h('div', { class: 'secret-box' }, nameText, copyButton(() => u.name, { testid: 'copy-secret-name', label: 'Copy name', toastText: 'Name copied' }))),
      field('Secret', h('div', { class: 'secret-box' }, secretText, copyButton(() => u.secret, { testid: 'copy-secret', label: 'Copy secret', toastText: 'Secret copied' }))),
      field('Log in', repo ? loginCommands(repo, u.name) : h('code', { class: 'inline-code' }, `docker login ${location.host} --username ${u.name} --password-stdin`)),
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
