// berth console: one artifact whole (GET /repositories/<repo>/artifacts/<digest>?image=): what
// it is, its pull commands (docker and podman), the platforms of an index, its config, its layers
// with their sizes, what it refers to (its subject), its referrers (signatures, SBOMs,
// attestations), each with its pull command, and the manifest itself, pretty-printed. Reading
// it is not a pull.

import { h, append, replace, icon } from '../dom.js';
import { formatBytes, formatNumber, countOf, timeCell, shortDigest, mediaTypeLabel } from '../format.js';
import { api, query, seg, hostCode } from '../api.js';
import { copyButton, pill, spinner, emptyState, errorState, button, commandBlock, tabs } from '../ui.js';
import { dataTable } from '../table.js';
import { repoHref, imageHref, artifactHref } from '../routes.js';
import { setCrumbs, activateRepositoriesNav, pageHeader } from '../shell.js';

export function renderArtifact(content, repo, image, digest) {
  setCrumbs([
    { label: 'Repositories', href: '#/repositories' },
    { label: repo, href: repoHref(repo, 'images') },
    { label: image, href: imageHref(repo, image) },
    { label: shortDigest(digest) },
  ]);
  activateRepositoriesNav();
  const body = h('div', { class: 'artifact-page' }, h('div', { class: 'card summary-loading' }, spinner(20), 'Loading the artifact…'));
  const load = async () => {
    try {
      const a = await api('GET', `/repositories/${seg(repo)}/artifacts/${seg(digest)}${query({ image })}`);
      replace(body, artifactView(repo, image, a, load));
    } catch (e) {
      if (e.status === 401) return;
      replace(body, h('div', { class: 'card' }, e.status === 404
        ? emptyState({
          iconName: 'layers', title: 'This artifact does not exist', text: e.message, testid: 'not-found', heading: true,
          action: h('a', { class: 'btn btn-primary', href: imageHref(repo, image) }, `Back to ${image}`),
        })
        : errorState(e, load)));
    }
  };
  append(content, body);
  load();
}

function artifactView(repo, image, whole, reload) {
  const a = whole.artifact;
  const kind = whole.platforms.length ? 'index' : whole.subject ? 'referrer' : 'image';
  return [
    pageHeader({
      iconName: 'layers',
      testid: 'artifact-title',
      title: `${image}@${a.digest.split(':')[0]}:${shortDigest(a.digest)}`,
      subtitle: [hostCode(repo, (host) => `${host}/${repo}/${image}@${a.digest}`, { 'data-testid': 'artifact-reference' }),
        copyButton(a.digest, { testid: 'copy-artifact-digest', label: 'Copy full digest', toastText: 'Digest copied' })],
      actions: [
        h('a', { class: 'btn btn-secondary', href: imageHref(repo, image) }, icon('left', 15), 'All artifacts'),
        button('Refresh', { iconName: 'refresh', testid: 'refresh', onClick: reload }),
      ],
    }),
    h('div', { class: 'card stats artifact-stats' },
      stat('Type', h('span', { title: a.artifact_type || a.media_type, 'data-testid': 'artifact-type' }, mediaTypeLabel(a))),
      stat('Size', h('span', { title: `${a.size} bytes`, 'data-testid': 'artifact-size' }, formatBytes(a.size))),
      stat('Tags', a.tags.length
        ? h('div', { class: 'pills' }, a.tags.map((t) => pill([icon('tag', 11), t], 'blue', { 'data-testid': 'tag' })))
        : h('span', { class: 'muted' }, 'untagged')),
      stat('Pushed', timeCell(a.push_time, '—')),
      stat('Pulls', h('span', { 'data-testid': 'pull-count' }, formatNumber(a.pull_count))),
      stat('Last pulled', timeCell(a.pull_time, 'never'))),
    section('Pull', null, pullCommands(a.pull_commands)),
    whole.subject ? section('Refers to', 'This artifact is about another one (its subject): a signature, an SBOM or an attestation of it.',
      h('p', null, h('a', { class: 'link mono-name', href: artifactHref(repo, image, whole.subject), 'data-testid': 'subject-link' }, icon('layers', 15), whole.subject))) : null,
    kind === 'index' ? section('Platforms', `An index: one manifest per platform, ${countOf(whole.platforms.length, 'entry', 'entries')}. docker and podman pull the one of the machine they run on.`,
      platformsTable(repo, image, whole.platforms)) : null,
    whole.config ? section('Config', null, configView(whole.config)) : null,
    kind !== 'index' ? section('Layers', layersSummary(whole.layers), layersTable(whole.layers)) : null,
    section('Referrers', 'Artifacts whose subject is this one: signatures, SBOMs, attestations.', referrersTable(repo, image, whole.referrers)),
    section('Manifest', `${a.media_type}, ${formatBytes(new TextEncoder().encode(whole.manifest).length)} as stored (the digest covers those bytes); shown indented.`,
      jsonBlock(parsedOr(whole.manifest), 'Manifest JSON', 'manifest-json')),
  ];
}

// The manifest's text parsed (keys in their order), or the text itself.
function parsedOr(textValue) {
  try {
    return JSON.parse(textValue);
  } catch (_) {
    return textValue;
  }
}

const stat = (label, value) => h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value stat-small' }, value));

function section(title, text, ...children) {
  const id = `section-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  return h('section', { class: 'card artifact-section', 'aria-labelledby': id },
    h('h2', { class: 'section-title', id }, title),
    text ? h('p', { class: 'hint section-text' }, text) : null,
    children);
}

// The pull commands of an artifact (by digest, by each tag) for docker and podman.
function pullCommands(commands) {
  const block = (client) => h('div', { class: 'command-list' }, commands.map((c) => h('div', { class: 'command-item' },
    h('div', { class: 'command-label' }, c.kind === 'digest' ? 'By digest' : `Tag ${c.reference}`),
    commandBlock(client === 'docker' ? c.command : c.podman, 'pull-command', `${client}-${c.kind}`,
      `Copy the ${client} pull command ${c.kind === 'digest' ? 'by digest' : `for tag ${c.reference}`}`))));
  return tabs([
    { id: 'docker', label: 'Docker', panel: block('docker') },
    { id: 'podman', label: 'Podman', panel: block('podman') },
  ], { label: 'Client' });
}

function digestCell(d, href) {
  const code = h('code', { class: 'digest-text', title: d }, shortDigest(d));
  return h('div', { class: 'digest' },
    href ? h('a', { class: 'link', href, 'aria-label': `Artifact ${shortDigest(d)}` }, code) : code,
    copyButton(d, { label: `Copy digest ${shortDigest(d)}`, toastText: 'Digest copied' }));
}

function staticTable(options, items) {
  const table = dataTable(options);
  table.setItems(items);
  return table.el;
}

function platformsTable(repo, image, platforms) {
  return staticTable({
    label: 'Platforms', testid: 'platforms-table', rowTestid: 'platform-row', fixed: true,
    rowProps: (p) => ({ 'data-digest': p.digest }),
    columns: [
      { title: 'Platform', width: '22%', render: (p) => h('span', { class: 'strong', 'data-testid': 'platform' }, p.platform || 'unspecified') },
      { title: 'Digest', width: '210px', render: (p) => digestCell(p.digest, artifactHref(repo, image, p.digest)) },
      { title: 'Type', render: (p) => h('span', { class: 'muted small wrap' }, p.media_type) },
      { title: 'Size', class: 'num', width: '100px', render: (p) => h('span', { title: `${p.size} bytes` }, formatBytes(p.size)) },
      { title: 'Pull', class: 'actions', width: '120px', render: (p) => pullButtons(p.pull_command, p.platform || p.digest) },
    ],
    empty: { title: 'No platforms' },
  }, platforms);
}

// Copy buttons for an artifact's pull command by digest, docker and podman.
function pullButtons(c, what) {
  return h('div', { class: 'row-buttons' },
    copyButton(c.command, { label: `Copy the docker pull command of ${what}`, toastText: 'Pull command copied', testid: 'copy-docker-pull' }),
    copyButton(c.podman, { label: `Copy the podman pull command of ${what}`, toastText: 'Pull command copied', testid: 'copy-podman-pull' }));
}

function layersSummary(layers) {
  const total = layers.reduce((n, l) => n + (Number(l.size) || 0), 0);
  return layers.length ? `${countOf(layers.length, 'layer')}, ${formatBytes(total)} in all (as stored, compressed).` : 'No layers.';
}

function layersTable(layers) {
  if (!layers.length) return null;
  return staticTable({
    label: 'Layers', testid: 'layers-table', rowTestid: 'layer-row', fixed: true,
    rowProps: (l) => ({ 'data-digest': l.digest }),
    columns: [
      { title: '#', class: 'num', width: '50px', render: (l) => String(layers.indexOf(l) + 1) },
      { title: 'Digest', width: '210px', render: (l) => digestCell(l.digest) },
      { title: 'Type', render: (l) => h('span', { class: 'muted small wrap' }, l.title ? [h('span', { class: 'strong' }, l.title), ' · '] : null, l.media_type) },
      { title: 'Size', class: 'num', width: '110px', render: (l) => h('span', { 'data-testid': 'layer-size', title: `${l.size} bytes` }, formatBytes(l.size)) },
    ],
    empty: { title: 'No layers' },
  }, layers);
}

// The config: its descriptor, the facts of an image config, and the JSON.
function configView(config) {
  const c = config.content;
  const facts = [];
  const fact = (label, value) => {
    if (value == null || value === '' || (Array.isArray(value) && !value.length)) return;
    facts.push(h('dt', null, label), h('dd', null, value));
  };
  fact('Media type', h('code', { class: 'mono small' }, config.media_type));
  fact('Digest', digestCell(config.digest));
  fact('Size', formatBytes(config.size));
  if (c) {
    const run = c.config || {};
    fact('Platform', c.os && c.architecture ? [c.os, c.architecture, c.variant].filter(Boolean).join('/') : null);
    fact('Created', c.created ? timeCell(c.created, '—') : null);
    fact('Entrypoint', run.Entrypoint ? h('code', { class: 'mono small' }, JSON.stringify(run.Entrypoint)) : null);
    fact('Command', run.Cmd ? h('code', { class: 'mono small' }, JSON.stringify(run.Cmd)) : null);
    fact('Working directory', run.WorkingDir ? h('code', { class: 'mono small' }, run.WorkingDir) : null);
    fact('User', run.User ? h('code', { class: 'mono small' }, run.User) : null);
    fact('Environment', run.Env && run.Env.length ? h('ul', { class: 'plain-list' }, run.Env.map((e) => h('li', null, h('code', { class: 'mono small' }, e)))) : null);
    const labels = Object.entries(run.Labels || {});
    fact('Labels', labels.length ? h('ul', { class: 'plain-list' }, labels.map(([k, v]) => h('li', null, h('code', { class: 'mono small' }, `${k}=${v}`)))) : null);
  }
  return [
    h('dl', { class: 'facts', 'data-testid': 'config-facts' }, facts),
    c ? h('details', { class: 'json-details' }, h('summary', null, 'Config JSON'), jsonBlock(c, 'Config JSON', 'config-json')) : null,
  ];
}

function referrersTable(repo, image, referrers) {
  return staticTable({
    label: 'Referrers', testid: 'referrers-table', rowTestid: 'referrer-row', fixed: true,
    rowProps: (r) => ({ 'data-digest': r.digest }),
    columns: [
      { title: 'Type', render: (r) => h('span', { class: 'wrap', 'data-testid': 'referrer-type', title: r.artifact_type || r.media_type }, mediaTypeLabel(r)) },
      { title: 'Digest', width: '210px', render: (r) => digestCell(r.digest, artifactHref(repo, image, r.digest)) },
      { title: 'Size', class: 'num', width: '100px', render: (r) => formatBytes(r.size) },
      { title: 'Pushed', width: '130px', render: (r) => timeCell(r.push_time, '—', undefined, { dateOnly: true }) },
      { title: 'Pull', class: 'actions', width: '120px', render: (r) => pullButtons(r.pull_commands[0], shortDigest(r.digest)) },
    ],
    empty: { iconName: 'shield', title: 'No referrers', text: 'Nothing signs or describes this artifact in this image.' },
  }, referrers);
}

// Pretty JSON in a scrollable block (focusable, so the keyboard can scroll it), with a copy
// button.
function jsonBlock(value, label, testid) {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return h('div', { class: 'json-block' },
    h('pre', { class: 'json', tabindex: '0', 'aria-label': label, 'data-testid': testid }, h('code', null, text)),
    copyButton(text, { label: `Copy the ${label}`, toastText: 'Copied' }));
}
