// berth console: the artifacts of an image, with their pull commands and deletion.

import { h, append, icon } from '../dom.js';
import { formatBytes, formatNumber, countOf, timeCell, shortDigest, mediaTypeLabel } from '../format.js';
import { api, query, seg, hostCode } from '../api.js';
import { toast, copyText, copyButton, pill, button } from '../ui.js';
import { confirmDialog } from '../dialogs.js';
import { actionMenu } from '../menus.js';
import { DEFAULT_SIZE, dataTable, pagedList } from '../table.js';
import { repoHref, artifactHref, parseHash, setHashParams, intParam, navigate } from '../routes.js';
import { setCrumbs, activateRepositoriesNav, pageHeader } from '../shell.js';
import { pushCommandsDialog, pullCommandsDialog } from '../commands.js';

export function renderArtifacts(content, repo, image, params) {
  setCrumbs([
    { label: 'Repositories', href: '#/repositories' },
    { label: repo, href: repoHref(repo, 'images') },
    { label: image },
  ]);
  activateRepositoriesNav();
  const total = h('span', { class: 'muted' });
  const table = dataTable({
    testid: 'artifacts-table', label: 'Artifacts', fixed: true,
    rowTestid: 'artifact-row',
    rowProps: (a) => ({ 'data-digest': a.digest }),
    columns: [
      {
        title: 'Digest',
        width: '190px',
        render: (a) => h('div', { class: 'digest' },
          h('a', { class: 'link digest-link', href: artifactHref(repo, image, a.digest), title: `Open ${a.digest}`, 'aria-label': `Artifact ${shortDigest(a.digest)}` },
            h('code', { class: 'digest-text', 'data-testid': 'artifact-digest' }, shortDigest(a.digest))),
          copyButton(() => a.digest, { testid: 'copy-digest', label: 'Copy full digest', toastText: 'Digest copied' })),
      },
      {
        title: 'Tags',
        render: (a) => (a.tags && a.tags.length
          ? h('div', { class: 'pills' }, a.tags.map((t) => pill([icon('tag', 11), t], 'blue', { 'data-testid': 'tag', 'data-tag': t })))
          : h('span', { class: 'muted' }, 'untagged')),
      },
      { title: 'Type', width: '150px', render: (a) => h('span', { class: 'muted small', title: a.artifact_type || a.media_type }, mediaTypeLabel(a)) },
      { title: 'Size', class: 'num', width: '100px', render: (a) => h('span', { 'data-testid': 'artifact-size', title: `${a.size} bytes` }, formatBytes(a.size)) },
      { title: 'Pushed', width: '130px', render: (a) => timeCell(a.push_time, '—', 'push-time', { dateOnly: true }) },
      { title: 'Last pulled', width: '130px', render: (a) => timeCell(a.pull_time, 'never', 'pull-time', { dateOnly: true }) },
      { title: 'Pulls', class: 'num', width: '80px', render: (a) => h('span', { 'data-testid': 'pull-count' }, formatNumber(a.pull_count)) },
      { title: '', class: 'actions', width: '52px', render: (a) => actionMenu(() => artifactMenu(repo, image, a, list), { testid: 'artifact-actions', label: `Actions for artifact ${shortDigest(a.digest)}` }) },
    ],
    empty: {
      iconName: 'layers', title: 'No artifacts',
      text: 'This image has no artifacts: they were deleted, or nothing was pushed yet.',
      action: h('a', { class: 'btn btn-secondary', href: repoHref(repo, 'images') }, icon('left', 15), 'Back to images'),
    },
  });
  const list = pagedList({
    noun: ['artifact', 'artifacts'],
    table,
    page: intParam(params, 'page', 1),
    size: intParam(params, 'size', DEFAULT_SIZE, 100),
    load: async (page, size) => {
      const data = await api('GET', `/repositories/${seg(repo)}/artifacts${query({ image, page, size })}`);
      total.textContent = countOf(data.total, 'artifact');
      return data;
    },
    onState: (s) => setHashParams(s),
  });
  append(content,
    pageHeader({
      iconName: 'layers',
      testid: 'image-title',
      title: image,
      subtitle: [hostCode(repo, (host) => `${host}/${repo}/${image}`), ' · ', total],
      actions: [
        button('Refresh', { iconName: 'refresh', testid: 'refresh', onClick: () => list.reload() }),
        button('Pull commands', { iconName: 'download', testid: 'pull-commands', onClick: () => pullCommandsDialog(repo, image) }),
        button('Push commands', { iconName: 'terminal', onClick: () => pushCommandsDialog(repo) }),
      ],
    }),
    h('div', { class: 'card card-flush' }, table.el, list.pager));
  list.start();
}

function artifactMenu(repo, image, a, list) {
  const cmds = a.pull_commands || [];
  const items = [
    { label: 'Open', iconName: 'layers', testid: 'menu-open', onClick: () => navigate(artifactHref(repo, image, a.digest)) },
    'separator',
    { header: 'Pull command' },
  ];
  for (const c of cmds) {
    items.push(c.kind === 'digest'
      ? { label: 'Copy pull command (by digest)', iconName: 'download', testid: 'menu-copy-digest', onClick: () => copyText(c.command) }
      : { label: `Copy pull command (${c.reference})`, iconName: 'tag', testid: 'menu-copy-tag', data: { tag: c.reference }, onClick: () => copyText(c.command) });
  }
  if (!cmds.length) items.push({ label: 'Copy digest', iconName: 'copy', onClick: () => copyText(a.digest) });
  items.push('separator', { label: 'Delete', iconName: 'trash', danger: true, testid: 'menu-delete', onClick: () => deleteArtifact(repo, image, a, list) });
  return items;
}

function deleteArtifact(repo, image, a, list) {
  const tags = a.tags || [];
  confirmDialog({
    title: 'Delete artifact?',
    message: [
      h('p', null, 'The artifact ', h('code', { class: 'inline-code', title: a.digest }, `${a.digest.split(':')[0]}:${shortDigest(a.digest)}`), ' of ', h('strong', null, `${repo}/${image}`),
        tags.length ? [tags.length > 1 ? ' and its tags ' : ' and its tag ', tags.map((t, i) => [i ? ', ' : '', h('strong', null, t)])] : null,
        ' will be deleted.'),
      h('p', { class: 'muted' }, 'Pulls of it will fail. The repository\'s usage drops at once; storage is reclaimed by garbage collection.'),
    ],
    action: async () => {
      await api('DELETE', `/repositories/${seg(repo)}/artifacts/${seg(a.digest)}${query({ image })}`);
    },
  }).then(async (done) => {
    if (!done) return;
    // An image goes with its last artifact (its referrers may have gone with this one): then
    // back to the repository's images rather than a page of an image that no longer exists.
    let left = null;
    try {
      left = (await api('GET', `/repositories/${seg(repo)}/artifacts${query({ image, page: 1, size: 1 })}`)).total;
    } catch (_) {
      left = null;
    }
    if (left === 0) {
      toast(`Artifact deleted; image ${image} has no artifacts left and is gone`);
      // Unless the person moved on meanwhile.
      const { segs } = parseHash();
      if (segs[0] === 'repositories' && segs[1] === repo && segs[2] === 'images' && segs.slice(3).join('/') === image) navigate(repoHref(repo, 'images'));
      return;
    }
    toast('Artifact deleted');
    list.reload();
  });
}
