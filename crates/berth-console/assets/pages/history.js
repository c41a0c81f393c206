// berth console: a repository's history tab: who did what to the repository and its images.

import { h, append } from '../dom.js';
import { timeCell, shortDigest } from '../format.js';
import { api, query, seg } from '../api.js';
import { pill, button } from '../ui.js';
import { DEFAULT_SIZE, dataTable, pagedList } from '../table.js';
import { imageHref, setHashParams, intParam } from '../routes.js';

function actionVariant(action) {
  const a = String(action).toLowerCase();
  if (a.includes('delete') || a.includes('remove')) return 'red';
  if (a.includes('push') || a.includes('create')) return 'green';
  if (a.includes('pull')) return 'blue';
  if (a.includes('update') || a.includes('change') || a.includes('edit') || a.includes('refresh') || a.includes('secret')) return 'amber';
  return 'gray';
}

export function renderHistoryTab(body, repo, params) {
  const table = dataTable({
    testid: 'history-table', label: 'History', fixed: true,
    rowTestid: 'history-row',
    rowProps: (e) => ({ 'data-action': e.action }),
    columns: [
      { title: 'Time', width: '190px', render: (e) => timeCell(e.at, '—', 'history-time') },
      { title: 'Actor', width: '16%', render: (e) => h('span', { class: 'mono', 'data-testid': 'history-actor' }, e.actor) },
      { title: 'Action', width: '150px', render: (e) => pill(String(e.action).replace(/[_.]/g, ' '), actionVariant(e.action), { 'data-testid': 'history-action', title: e.action }) },
      { title: 'Image', render: (e) => (e.image ? h('a', { class: 'link', href: imageHref(repo, e.image), 'data-testid': 'history-image' }, e.image) : h('span', { class: 'muted' }, '—')) },
      {
        title: 'Target',
        render: (e) => {
          if (!e.target) return h('span', { class: 'muted' }, '—');
          const isDigest = /^sha256:[0-9a-f]{64}$/.test(e.target);
          return h('code', { class: 'mono small', title: e.target, 'data-testid': 'history-target' }, isDigest ? `sha256:${shortDigest(e.target)}` : e.target);
        },
      },
      { title: 'Detail', width: '26%', render: (e) => (e.detail ? h('span', { class: 'desc desc-clamp', title: e.detail }, e.detail) : h('span', { class: 'muted' }, '—')) },
    ],
    empty: { iconName: 'clock', title: 'No history yet', text: 'Pushes, deletes and changes to this repository appear here.' },
  });
  const list = pagedList({
    noun: ['event', 'events'],
    table,
    page: intParam(params, 'page', 1),
    size: intParam(params, 'size', DEFAULT_SIZE, 100),
    load: (page, size) => api('GET', `/repositories/${seg(repo)}/history${query({ page, size })}`),
    onState: (s) => setHashParams(s),
  });
  append(body,
    h('div', { class: 'toolbar' },
      h('div', { class: 'toolbar-text' }, 'Who did what to this repository and its images, newest first.'),
      h('div', { class: 'toolbar-actions' }, button('Refresh', { iconName: 'refresh', testid: 'refresh', onClick: () => list.reload() }))),
    h('div', { class: 'card card-flush' }, table.el, list.pager));
  list.start();
}
