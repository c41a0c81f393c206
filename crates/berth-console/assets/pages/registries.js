// berth console: the account's remote registries, the upstreams of proxy repositories: list,
// create, edit, test the connection (the server asks the registry), delete. A password is sent, never shown: the API answers only has_password.

import { h, append, icon } from '../dom.js';
import { timeCell } from '../format.js';
import { api, query, seg, errorMessage } from '../api.js';
import { toast, pill, button, field, fieldFailure } from '../ui.js';
import { openDialog, confirmDialog } from '../dialogs.js';
import { actionMenu } from '../menus.js';
import { DEFAULT_SIZE, dataTable, pagedList } from '../table.js';
import { setHashParams, intParam } from '../routes.js';
import { setCrumbs, activateNav, pageHeader } from '../shell.js';

// The server's rule for a registry name (berth_model::RegistryName).
const NAME_RE = /^[a-z0-9]+([._-][a-z0-9]+)*$/;
const URL_RE = /^https?:\/\/[^/?#@\s]+(\/[^?#\s]*)?$/i;

// Every remote registry of the account (the API's pages of 100), for selects.
export async function loadRegistries() {
  const all = [];
  for (let page = 1; page <= 100; page += 1) {
    const data = await api('GET', `/registries${query({ page, size: 100 })}`);
    const items = data.items || [];
    all.push(...items);
    if (!items.length || all.length >= (Number(data.total) || 0)) break;
  }
  return all;
}

export function renderRegistries(content, session, params) {
  setCrumbs([{ label: 'Registries' }]);
  activateNav('registries');
  const table = dataTable({
    testid: 'registries-table',
    label: 'Remote registries',
    fixed: true,
    rowTestid: 'registry-row',
    rowProps: (r) => ({ 'data-name': r.name }),
    columns: [
      { title: 'Name', width: '180px', render: (r) => h('code', { class: 'mono strong', 'data-testid': 'registry-name' }, r.name) },
      { title: 'URL', render: (r) => h('span', { class: 'mono small registry-url', 'data-testid': 'registry-url' }, r.url) },
      {
        title: 'Username',
        width: '200px',
        render: (r) => (r.username == null
          ? h('span', { class: 'muted', 'data-testid': 'registry-username' }, 'anonymous')
          : h('span', { 'data-testid': 'registry-username' }, h('code', { class: 'mono small' }, r.username),
            r.has_password ? h('span', { class: 'muted' }, ' · password set') : null)),
      },
      {
        title: 'TLS',
        width: '150px',
        render: (r) => (r.insecure
          ? pill([icon('alert', 11), 'Not verified'], 'amber', { 'data-testid': 'registry-insecure', title: 'Certificates that do not verify are accepted' })
          : pill([icon('lock', 11), 'Verified'], 'green', { 'data-testid': 'registry-insecure' })),
      },
      { title: 'Created', width: '200px', render: (r) => timeCell(r.created_at) },
      {
        title: '', class: 'actions', width: '52px',
        render: (r) => actionMenu(() => [
          { label: 'Test connection', iconName: 'refresh', testid: 'menu-ping', onClick: () => pingRegistry(r) },
          { label: 'Edit', iconName: 'edit', testid: 'menu-edit', onClick: () => registryDialog({ existing: r, onSaved: () => list.reload() }) },
          'separator',
          { label: 'Delete', iconName: 'trash', danger: true, testid: 'menu-delete', onClick: () => deleteRegistry(r, list) },
        ], { testid: 'registry-actions', label: `Actions for registry ${r.name}` }),
      },
    ],
    empty: {
      iconName: 'globe',
      title: 'No remote registries',
      text: 'A remote registry (Docker Hub, ghcr.io, another berth) is what a proxy repository pulls through and caches.',
      action: button('Add registry', { kind: 'primary', iconName: 'plus', onClick: () => registryDialog({ onSaved: () => list.reload() }) }),
    },
  });
  const list = pagedList({
    table,
    noun: ['registry', 'registries'],
    page: intParam(params, 'page', 1),
    size: intParam(params, 'size', DEFAULT_SIZE, 100),
    load: (page, size) => api('GET', `/registries${query({ page, size })}`),
    onState: (s) => setHashParams(s),
  });
  append(content,
    pageHeader({
      iconName: 'globe',
      testid: 'registries-title',
      title: 'Registries',
      subtitle: 'Remote registries of your account: the upstreams that proxy repositories pull through. Passwords are stored sealed and never shown again.',
      actions: [
        button('Refresh', { iconName: 'refresh', testid: 'refresh', onClick: () => list.reload() }),
        button('Add registry', { kind: 'primary', iconName: 'plus', testid: 'create-registry', onClick: () => registryDialog({ onSaved: () => list.reload() }) }),
      ],
    }),
    h('div', { class: 'card card-flush' }, table.el, list.pager));
  list.start();
}

// Creates a registry, or edits `existing` (its name is fixed; an empty password keeps the one
// stored, "Remove the password" drops it).
function registryDialog({ existing, onSaved }) {
  const editing = Boolean(existing);
  const name = h('input', { class: 'input', 'data-testid': 'registry-name-input', autocomplete: 'off', spellcheck: 'false', maxlength: '63', placeholder: 'e.g. dockerhub', autofocus: !editing });
  const url = h('input', { class: 'input', type: 'url', 'data-testid': 'registry-url-input', autocomplete: 'off', spellcheck: 'false', maxlength: '2048', placeholder: 'https://registry-1.docker.io', value: existing ? existing.url : '', autofocus: editing });
  const username = h('input', { class: 'input', 'data-testid': 'registry-username-input', autocomplete: 'off', spellcheck: 'false', maxlength: '256', value: existing && existing.username ? existing.username : '' });
  const password = h('input', { class: 'input', type: 'password', 'data-testid': 'registry-password-input', autocomplete: 'new-password', maxlength: '4096' });
  const removePassword = h('input', { type: 'checkbox', 'data-testid': 'registry-remove-password' });
  removePassword.addEventListener('change', () => {
    password.disabled = removePassword.checked;
  });
  const insecure = h('input', { type: 'checkbox', 'data-testid': 'registry-insecure-input', checked: Boolean(existing && existing.insecure) });
  const passwordHint = editing
    ? (existing.has_password ? 'A password is stored. Leave this empty to keep it, or type a new one.' : 'No password is stored.')
    : 'Or an access token. Stored sealed; it is never shown again.';
  openDialog({
    title: editing ? `Edit registry ${existing.name}` : 'Add registry',
    subtitle: editing ? 'Changes apply to the next pull through it.' : 'A remote registry that proxy repositories of your account can pull through.',
    testid: editing ? 'edit-registry-dialog' : 'create-registry-dialog',
    submitLabel: editing ? 'Save changes' : 'Add',
    content: [
      editing ? null : field('Name', name, "Lowercase letters and digits, with single '.', '_' or '-' between them (at most 63)."),
      field('URL', url, 'Its base address, https:// (or http://), without a path to an image.'),
      field('Username', username, 'Leave empty to pull anonymously.'),
      field('Password', password, passwordHint),
      editing && existing.has_password
        ? h('label', { class: 'check' }, removePassword, h('span', null, 'Remove the password'))
        : null,
      h('label', { class: 'check' }, insecure, h('span', null, 'Accept TLS certificates that do not verify (self-signed)')),
    ],
    onSubmit: async () => {
      const body = {};
      if (!editing) {
        const n = name.value.trim();
        if (!NAME_RE.test(n) || n.length > 63) {
          throw fieldFailure(name, n ? "A name is lowercase letters and digits, with single '.', '_' or '-' between them." : 'Enter a name.');
        }
        body.name = n;
      }
      const u = url.value.trim();
      if (!URL_RE.test(u)) throw fieldFailure(url, u ? 'Enter an address such as https://registry.example.com, without a user, password or query.' : 'Enter the URL.');
      body.url = u;
      const user = username.value.trim();
      const secret = password.value;
      if (secret && !user && !removePassword.checked) throw fieldFailure(username, 'A password needs a username.');
      if (editing) {
        if (user !== (existing.username || '')) body.username = user || null;
        if (removePassword.checked) body.password = null;
        else if (secret) body.password = secret;
        body.insecure = insecure.checked;
        const updated = await api('PATCH', `/registries/${seg(existing.name)}`, body);
        toast(`Registry ${updated.name} updated`);
      } else {
        if (user) body.username = user;
        if (secret) body.password = secret;
        body.insecure = insecure.checked;
        const created = await api('POST', '/registries', body);
        toast(`Registry ${created.name} added`);
      }
      onSaved();
    },
  });
}

// Asks the server to ping the registry, and shows what it found.
async function pingRegistry(r) {
  toast(`Testing the connection to ${r.name}…`, 'info');
  try {
    const ping = await api('POST', `/registries/${seg(r.name)}/ping`);
    const ok = ping.reachable && (r.username == null || ping.authenticated);
    toast(`${r.name}: ${ping.message}`, ok ? 'success' : 'error');
  } catch (e) {
    if (e.status !== 401) toast(errorMessage(e), 'error');
  }
}

function deleteRegistry(r, list) {
  confirmDialog({
    title: `Delete registry ${r.name}?`,
    message: [
      h('p', null, 'The registry ', h('strong', { 'data-testid': 'confirm-name' }, r.name), ' and its stored credentials are deleted.'),
      h('p', { class: 'muted' }, 'A registry that a proxy repository uses cannot be deleted: delete that repository first.'),
    ],
    action: async () => {
      await api('DELETE', `/registries/${seg(r.name)}`);
      toast(`Registry ${r.name} deleted`);
      list.reload();
    },
  });
}
