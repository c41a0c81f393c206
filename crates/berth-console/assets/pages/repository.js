// berth console: a repository: its summary and sections (the images tab here, repository users
// in users.js, history in history.js); the push dialog is in commands.js.

import { h, append, clear, replace, icon } from '../dom.js';
import { formatBytes, formatNumber, countOf, timeCell } from '../format.js';
import { api, query, seg, errorMessage, hostCode } from '../api.js';
import { toast, accessPill, usageBar, spinner, emptyState, errorState, button, debounce } from '../ui.js';
import { confirmDialog } from '../dialogs.js';
import { pushCommandsDialog } from '../commands.js';
import { actionMenu } from '../menus.js';
import { DEFAULT_SIZE, dataTable, pagedList } from '../table.js';
import { repoHref, imageHref, setHashParams, intParam, navigate } from '../routes.js';
import { setCrumbs, activateRepositoriesNav } from '../shell.js';
import { editRepositoryDialog, proxyText } from './repositories.js';
import { renderUsersTab } from './users.js';
import { renderHistoryTab } from './history.js';

export function renderRepository(content, repoName, tab, params) {
  setCrumbs([{ label: 'Repositories', href: '#/repositories' }, { label: repoName }]);
  activateRepositoriesNav();
  const summary = h('div', { class: 'card repo-summary' }, h('div', { class: 'summary-loading' }, spinner(20), 'Loading repository…'));
  // The sections of a repository are pages of their own (each has its address), so they are
  // links, the current one marked with aria-current, rather than tabs with panels.
  const tabs = h('nav', { class: 'tabs', 'aria-label': `Repository ${repoName}` },
    [['images', 'Images', 'layers'], ['users', 'Repository users', 'users'], ['history', 'History', 'clock']].map(([id, label, ic]) => h('a', {
      class: `tab${tab === id ? ' active' : ''}`, href: repoHref(repoName, id), 'aria-current': tab === id ? 'page' : null, 'data-testid': `tab-${id}`,
    }, icon(ic, 15), label)));
  const body = h('div', { class: 'tab-body' });
  append(content, summary, tabs, body);

  let repo = null;
  const showSummary = (r) => {
    repo = r;
    replace(summary, repositorySummary(r, {
      onEdit: () => editRepositoryDialog(repo, (u) => showSummary(u)),
      onDelete: () => deleteRepository(repo),
    }));
  };
  const loadSummary = () => api('GET', `/repositories/${seg(repoName)}`).then(showSummary).catch((e) => {
    if (e.status === 401) return;
    if (e.status === 404) {
      clear(content);
      append(content, h('div', { class: 'card' }, emptyState({
        iconName: 'box', title: `Repository ${repoName} does not exist`, text: errorMessage(e), testid: 'not-found', heading: true,
        action: h('a', { class: 'btn btn-primary', href: '#/repositories' }, 'Back to repositories'),
      })));
      return;
    }
    replace(summary, errorState(e, loadSummary));
  });
  loadSummary();

  // The images tab changes the summary (usage, image count) when it deletes an image.
  if (tab === 'images') renderImagesTab(body, repoName, params, { onChanged: loadSummary });
  else if (tab === 'users') renderUsersTab(body, repoName, params);
  else renderHistoryTab(body, repoName, params);
}

function repositorySummary(r, { onEdit, onDelete }) {
  return [
    h('div', { class: 'summary-top' },
      h('div', { class: 'page-heading' },
        h('div', { class: 'page-icon' }, icon('box', 22)),
        h('div', null,
          h('div', { class: 'summary-title-row' }, h('h1', { class: 'page-title', 'data-testid': 'repo-title', tabindex: '-1' }, r.name), accessPill(r.access_level)),
          r.proxy
            ? h('div', { class: 'page-subtitle', 'data-testid': 'repo-proxy' }, icon('globe', 14), ' ', proxyText(r.proxy), ': pulls of ', hostCode(r.name, (host) => `${host}/${r.name}/<image>:<tag>`), ' are fetched from there and cached')
            : h('div', { class: 'page-subtitle' }, 'Push to ', hostCode(r.name, (host) => `${host}/${r.name}/<image>:<tag>`)))),
      h('div', { class: 'page-actions' },
        button('Edit', { iconName: 'edit', testid: 'edit-repository', onClick: onEdit }),
        button('Delete', { kind: 'danger-ghost', iconName: 'trash', testid: 'delete-repository', onClick: onDelete }))),
    h('div', { class: 'stats' },
      h('div', { class: 'stat stat-wide' }, h('div', { class: 'stat-label' }, 'Storage'), usageBar(r.used_bytes, r.quota_bytes, { large: true })),
      h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, 'Quota'), h('div', { class: 'stat-value', 'data-testid': 'repo-quota' }, r.quota_bytes == null ? 'No limit' : formatBytes(r.quota_bytes))),
      h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, 'Images'), h('div', { class: 'stat-value', 'data-testid': 'repo-image-count' }, formatNumber(r.image_count))),
      h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, 'Created'), h('div', { class: 'stat-value stat-small' }, timeCell(r.created_at)))),
  ];
}

function deleteRepository(repo) {
  confirmDialog({
    title: `Delete repository ${repo.name}?`,
    message: [h('p', null, 'Only an empty repository can be deleted: delete its images first.'), h('p', null, 'Repository users keep their other permissions.')],
    action: async () => {
      await api('DELETE', `/repositories/${seg(repo.name)}`);
      toast(`Repository ${repo.name} deleted`);
    },
  }).then((done) => {
    if (done) navigate('#/repositories');
  });
}

// -------------------------------------------------------------------------------------------
// Images tab
// -------------------------------------------------------------------------------------------

function renderImagesTab(body, repo, params, { onChanged }) {
  const search = h('input', {
    class: 'input search-input', type: 'search', placeholder: 'Filter images by name', 'aria-label': 'Filter images by name', 'data-testid': 'image-search',
    value: params.get('name') || '', autocomplete: 'off', spellcheck: 'false',
  });
  let filter = params.get('name') || '';
  const table = dataTable({
    testid: 'images-table', label: 'Images',
    rowTestid: 'image-row',
    rowProps: (img) => ({ 'data-name': img.name }),
    columns: [
      { title: 'Image', render: (img) => h('a', { class: 'link strong mono-name', href: imageHref(repo, img.name), 'data-testid': 'image-link' }, icon('layers', 15), img.name) },
      { title: 'Artifacts', class: 'num', width: '110px', render: (img) => h('span', { 'data-testid': 'artifact-count' }, formatNumber(img.artifact_count)) },
      { title: 'Pulls', class: 'num', width: '100px', render: (img) => h('span', { 'data-testid': 'pull-count' }, formatNumber(img.pull_count)) },
      { title: 'Last pulled', width: '200px', render: (img) => timeCell(img.last_pull_at, 'never', 'pull-time') },
      { title: 'Last modified', width: '200px', render: (img) => timeCell(img.last_modified_at, '—', 'last-modified') },
      {
        title: '', class: 'actions', width: '52px',
        render: (img) => actionMenu(() => [
          { label: 'Show artifacts', iconName: 'layers', testid: 'menu-show-artifacts', onClick: () => navigate(imageHref(repo, img.name)) },
          'separator',
          { label: 'Delete image', iconName: 'trash', danger: true, testid: 'menu-delete-image', onClick: () => deleteImage(repo, img, () => {
            list.reload();
            onChanged();
          }) },
        ], { testid: 'image-actions', label: `Actions for ${img.name}` }),
      },
    ],
    empty: (f) => (f
      ? { iconName: 'search', title: 'No matching images', text: `No image name contains "${f}".` }
      : {
        iconName: 'layers', title: 'No images yet', text: 'Log in with a repository user, tag an image and push it here.',
        action: button('Show push commands', { kind: 'primary', iconName: 'terminal', onClick: () => pushCommandsDialog(repo) }),
      }),
  });
  const list = pagedList({
    noun: ['image', 'images'],
    table,
    page: intParam(params, 'page', 1),
    size: intParam(params, 'size', DEFAULT_SIZE, 100),
    load: (page, size) => api('GET', `/repositories/${seg(repo)}/images${query({ name: filter, page, size })}`),
    onState: (s) => setHashParams({ name: filter, ...s }),
    emptyArgs: () => filter,
  });
  const applyFilter = debounce(() => {
    const v = search.value.trim();
    if (v === filter) return;
    filter = v;
    list.goTo(1);
  }, 300);
  search.addEventListener('input', applyFilter);
  append(body,
    h('div', { class: 'toolbar' },
      h('div', { class: 'search' }, icon('search', 16), search),
      h('div', { class: 'toolbar-actions' },
        button('Refresh', {
          iconName: 'refresh', testid: 'refresh', onClick: () => {
            list.reload();
            onChanged();
          },
        }),
        button('Push commands', { kind: 'primary', iconName: 'terminal', testid: 'push-command', onClick: () => pushCommandsDialog(repo) }))),
    h('div', { class: 'card card-flush' }, table.el, list.pager));
  list.start();
}

// Deletes an image with every artifact and tag of it, after a confirmation; `onDeleted` refreshes
// what shows it. The API's refusal stays in the dialog.
function deleteImage(repo, img, onDeleted) {
  const n = img.artifact_count;
  confirmDialog({
    title: `Delete image ${img.name}?`,
    message: [
      h('p', null, 'The image ', h('strong', { 'data-testid': 'confirm-name' }, `${repo}/${img.name}`), ' is deleted with ',
        'its ', h('strong', { 'data-testid': 'confirm-artifact-count' }, countOf(n, 'artifact')), ' and all its tags.'),
      h('p', { class: 'muted' }, 'Pulls of it will fail. The repository\'s usage drops at once; storage is reclaimed by garbage collection.'),
    ],
    confirmLabel: 'Delete image',
    action: async () => {
      await api('DELETE', `/repositories/${seg(repo)}/images${query({ name: img.name })}`);
      toast(`Image ${img.name} deleted`);
    },
  }).then((done) => {
    if (done) onDeleted();
  });
}
