// berth console: the repositories page, and the dialogs that create and edit a repository.

import { h, append, icon } from '../dom.js';
import { formatBytes, formatNumber, timeCell } from '../format.js';
import { api, query, seg } from '../api.js';
import { toast, accessPill, usageBar, button, field, fieldError, fieldFailure, pill } from '../ui.js';
import { openDialog } from '../dialogs.js';
import { DEFAULT_SIZE, dataTable, pagedList } from '../table.js';
import { repoHref, setHashParams, intParam } from '../routes.js';
import { setCrumbs, activateRepositoriesNav, pageHeader } from '../shell.js';
import { loadRegistries } from './registries.js';

// "Proxy of <registry>/<namespace>" for a proxy repository's `proxy`.
export const proxyText = (p) => `Proxy of ${p.registry}${p.namespace ? `/${p.namespace}` : ''}`;

export function renderRepositories(content, params) {
  setCrumbs([{ label: 'Repositories' }]);
  activateRepositoriesNav();
  const table = dataTable({
    testid: 'repositories-table', label: 'Repositories',
    rowTestid: 'repository-row',
    rowProps: (r) => ({ 'data-name': r.name }),
    columns: [
      {
        title: 'Name',
        render: (r) => h('div', { class: 'user-cell' },
          h('a', { class: 'link strong', href: repoHref(r.name), 'data-testid': 'repository-link' }, icon('box', 15), r.name),
          r.proxy ? pill([icon('globe', 11), proxyText(r.proxy)], 'blue', { 'data-testid': 'repository-proxy' }) : null),
      },
      { title: 'Access level', width: '130px', render: (r) => accessPill(r.access_level) },
      { title: 'Storage used', width: '260px', render: (r) => usageBar(r.used_bytes, r.quota_bytes) },
      { title: 'Images', class: 'num', width: '100px', render: (r) => h('span', { 'data-testid': 'image-count' }, formatNumber(r.image_count)) },
      { title: 'Created', width: '200px', render: (r) => timeCell(r.created_at) },
    ],
    empty: {
      iconName: 'box',
      title: 'No repositories yet',
      text: 'A repository is a namespace for your images: create one, then push with docker or podman.',
      action: button('Create repository', { kind: 'primary', iconName: 'plus', onClick: () => createRepositoryDialog(list) }),
    },
  });
  const list = pagedList({
    noun: ['repository', 'repositories'],
    table,
    page: intParam(params, 'page', 1),
    size: intParam(params, 'size', DEFAULT_SIZE, 100),
    load: (page, size) => api('GET', `/repositories${query({ page, size })}`),
    onState: (s) => setHashParams(s),
  });
  append(content,
    pageHeader({
      title: 'Repositories',
      subtitle: 'Namespaces of your account: each holds images, has an access level and a storage quota.',
      actions: button('Create repository', { kind: 'primary', iconName: 'plus', testid: 'create-repository', onClick: () => createRepositoryDialog(list) }),
    }),
    h('div', { class: 'card card-flush' }, table.el, list.pager));
  list.start();
}

const NAME_RE = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$/;
const QUOTA_UNITS = [['MiB', 1024 ** 2], ['GiB', 1024 ** 3], ['TiB', 1024 ** 4]];

// Access level radio cards.
function accessField(initial) {
  const name = `access-${Math.random().toString(36).slice(2)}`;
  const option = (value, title, text, iconName) => {
    const input = h('input', { type: 'radio', name, value, checked: initial === value, 'data-testid': `access-${value}` });
    return h('label', { class: 'radio-card' }, input,
      h('span', { class: 'radio-card-body' },
        h('span', { class: 'radio-card-title' }, icon(iconName, 15), title),
        h('span', { class: 'radio-card-text' }, text)));
  };
  const el = h('div', { class: 'radio-cards', role: 'radiogroup', 'data-testid': 'repo-access' },
    option('private', 'Private', 'Only repository users with a permission can pull.', 'lock'),
    option('public', 'Public', 'Anyone can pull, without logging in. Pushing still needs a user.', 'globe'));
  return { el, value: () => (el.querySelector('input:checked') || {}).value || 'private' };
}

function quotaField(initialBytes) {
  let value = 10;
  let unit = 'GiB';
  const unlimitedInitially = initialBytes === null;
  if (initialBytes != null) {
    const fit = [...QUOTA_UNITS].reverse().find(([, m]) => initialBytes >= m && initialBytes % m === 0)
      || (initialBytes >= 1024 ** 3 ? ['GiB', 1024 ** 3] : ['MiB', 1024 ** 2]);
    unit = fit[0];
    value = Number((initialBytes / fit[1]).toFixed(3));
  }
  const number = h('input', { class: 'input', type: 'number', min: '0', step: 'any', value: String(value), 'data-testid': 'quota-value', 'aria-label': 'Quota', disabled: unlimitedInitially });
  const unitSelect = h('select', { class: 'select', 'data-testid': 'quota-unit', 'aria-label': 'Quota unit', value: unit, disabled: unlimitedInitially },
    QUOTA_UNITS.map(([u]) => h('option', { value: u }, u)));
  const unlimited = h('input', { type: 'checkbox', 'data-testid': 'quota-unlimited', checked: unlimitedInitially });
  const quotaError = () => {
    const e = new Error('Enter a quota of 0 or more, or choose "No limit".');
    e.field = number;
    return e;
  };
  unlimited.addEventListener('change', () => {
    number.disabled = unlimited.checked;
    unitSelect.disabled = unlimited.checked;
    if (!unlimited.checked) number.focus();
  });
  const el = h('div', { class: 'quota-field' },
    h('div', { class: 'input-group' }, number, unitSelect),
    h('label', { class: 'check' }, unlimited, h('span', null, 'No limit')));
  return {
    el,
    // The quota in bytes (null: no limit); throws a message when the number is not usable.
    bytes() {
      if (unlimited.checked) return null;
      const n = Number(number.value);
      if (number.value.trim() === '' || !Number.isFinite(n) || n < 0) throw quotaError();
      const mult = QUOTA_UNITS.find(([u]) => u === unitSelect.value)[1];
      return Math.round(n * mult);
    },
  };
}

// The referrers setting: deleting an artifact deletes its referrers (signatures, SBOMs,
// attestations whose subject it is) too.
function referrersField(initial) {
  const hintId = `referrers-${Math.random().toString(36).slice(2)}`;
  const input = h('input', { type: 'checkbox', 'data-testid': 'repo-delete-referrers', 'aria-describedby': hintId, checked: initial !== false });
  const el = h('div', { class: 'field', role: 'group', 'aria-labelledby': `${hintId}-label` },
    h('div', { class: 'label', id: `${hintId}-label` }, 'Referrers'),
    h('label', { class: 'check' }, input, h('span', null, 'Delete referrers (signatures, SBOMs) with their artifact')),
    h('div', { class: 'hint', id: hintId }, 'When an artifact is deleted, the artifacts whose subject it is (signatures, SBOMs, attestations) go with it. Off, they stay in the image, untagged, until deleted themselves.'));
  return { el, value: () => input.checked };
}

function createRepositoryDialog(list) {
  const nameInput = h('input', { class: 'input', id: 'repo-name', 'data-testid': 'repo-name', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. team-a', maxlength: '200' });
  const nameError = fieldError(nameInput, 'repo-name-error');
  const preview = h('code', { class: 'inline-code' });
  const updatePreview = () => {
    preview.textContent = `${location.host}/${nameInput.value.trim() || '<repository>'}/<image>:<tag>`;
  };
  nameInput.addEventListener('input', () => {
    nameError.clear();
    updatePreview();
  });
  updatePreview();
  const access = accessField('private');
  const quota = quotaField(10 * 1024 ** 3);
  const referrers = referrersField(true);
  const proxy = proxyField();
  openDialog({
    title: 'Create repository',
    subtitle: 'A namespace for images in your account.',
    testid: 'create-repository-dialog',
    submitLabel: 'Create',
    content: [
      field('Name', nameInput, ['Lowercase letters and digits, separated by ".", "_" or "-". Images are named ', preview], { id: 'repo-name', error: nameError.el }),
      field('Access level', access.el),
      field('Storage quota', quota.el, 'The most storage the repository\'s artifacts may use. Pushes over the limit are refused.'),
      referrers.el,
      proxy.el,
    ],
    onSubmit: async () => {
      const name = nameInput.value.trim();
      if (!NAME_RE.test(name)) {
        nameError.show(name ? 'Use lowercase letters and digits, separated by ".", "_", "__" or "-".' : 'Enter a name.');
        nameInput.focus();
        return false;
      }
      const body = { name, access_level: access.value(), quota_bytes: quota.bytes(), delete_orphan_referrers: referrers.value() };
      const upstream = proxy.value();
      if (upstream) body.proxy = upstream;
      const created = await api('POST', '/repositories', body);
      toast(`Repository ${created.name} created`);
      list.reload();
      return true;
    },
  });
}

// The optional proxy setting of a new repository: a remote registry of the account to pull
// through, and an upstream namespace. Fixed once the repository exists.
function proxyField() {
  const select = h('select', { class: 'select', 'data-testid': 'repo-proxy-registry' },
    h('option', { value: '' }, 'None: an ordinary repository'));
  const namespace = h('input', { class: 'input', 'data-testid': 'repo-proxy-namespace', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. library', maxlength: '255', disabled: true });
  select.addEventListener('change', () => {
    namespace.disabled = select.value === '';
  });
  loadRegistries().then((all) => {
    for (const r of all) select.append(h('option', { value: r.name }, `${r.name} (${r.url})`));
    if (!all.length) select.append(h('option', { value: '', disabled: true }, 'No registries yet: add one on the Registries page'));
  }).catch(() => {});
  const el = h('div', null,
    field('Proxy cache of', select, 'Makes it a read-only pull-through cache of a remote registry: pulls are fetched from there and kept. Cannot be changed later.'),
    field('Upstream namespace', namespace, ['Optional prefix on the remote registry: with ', h('code', { class: 'inline-code' }, 'library'), ', <repository>/nginx is fetched as library/nginx.']));
  return {
    el,
    value() {
      if (!select.value) return null;
      const ns = namespace.value.trim().replace(/^\/+|\/+$/g, '');
      if (ns && !/^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/.test(ns)) {
        throw fieldFailure(namespace, 'Use lowercase path components separated by "/", such as library or team/sub.');
      }
      return { registry: select.value, namespace: ns || null };
    },
  };
}

export function editRepositoryDialog(repo, onSaved) {
  const access = accessField(repo.access_level);
  const quota = quotaField(repo.quota_bytes);
  const referrers = referrersField(repo.delete_orphan_referrers);
  openDialog({
    title: `Edit ${repo.name}`,
    subtitle: `Currently using ${formatBytes(repo.used_bytes)}.`,
    testid: 'edit-repository-dialog',
    submitLabel: 'Save changes',
    content: [
      field('Access level', access.el),
      field('Storage quota', quota.el, 'Lowering the quota under the current usage refuses further pushes; nothing is deleted.'),
      referrers.el,
    ],
    onSubmit: async () => {
      const updated = await api('PATCH', `/repositories/${seg(repo.name)}`, {
        access_level: access.value(), quota_bytes: quota.bytes(), delete_orphan_referrers: referrers.value(),
      });
      toast(`Repository ${repo.name} updated`);
      onSaved(updated);
    },
  });
}
