// berth console: the push and pull dialogs, for docker and podman (tabs with tab panels), from
// the API's push commands (GET /repositories/<repo>/push-commands): a login that reads the
// secret from standard input (`--password-stdin`, never the secret on the command line),
// podman's `--tls-verify=false` and docker's insecure-registry note when the registry is served
// over plain HTTP. The secret dialog of a new repository user shows the same logins.

import { h, replace, icon } from './dom.js';
import { api, query, seg, errorMessage } from './api.js';
import { spinner, debounce, field, commandBlock, tabs } from './ui.js';
import { openDialog } from './dialogs.js';
import { repoHref } from './routes.js';

const CLIENTS = { docker: 'Docker', podman: 'Podman' };

// The commands of one client from the API's answer.
function clientCommands(c, client) {
  return client === 'docker'
    ? { login: c.login, tag: c.tag, push: c.push, pull: c.pull }
    : c.podman;
}

// What each client needs for plain HTTP, when the registry is served over it.
function plainHttpNote(c, client) {
  if (!c.plain_http) return null;
  const text = client === 'docker'
    ? c.docker_note
    : 'This registry is served over plain HTTP: podman\'s commands carry --tls-verify=false.';
  return h('div', { class: 'alert alert-warn', 'data-testid': `plain-http-${client}` }, icon('alert', 16), h('span', null, text));
}

const step = (n, title, text, ...blocks) => h('li', { class: 'step' },
  h('div', { class: 'step-num', 'aria-hidden': 'true' }, String(n)),
  h('div', { class: 'step-body' }, h('div', { class: 'step-title' }, title), text ? h('div', { class: 'hint' }, text) : null, blocks));

// The secret goes into a shell variable that `read -s` fills without echoing it or keeping it in
// the shell's history; the login pipes it to --password-stdin.
function loginStep(n, c, client, who) {
  const name = CLIENTS[client];
  return step(n, `Log in with ${who}`,
    ['Type or paste the secret when ', h('code', { class: 'inline-code' }, 'read'), ' waits for it: it is not shown, and no command line or shell history holds it.'],
    commandBlock('read -rs REGISTRY_SECRET', 'push-command-text', `${client}-secret`, 'Copy the read command'),
    commandBlock(clientCommands(c, client).login, 'push-command-text', client === 'docker' ? 'login' : `${client}-login`, `Copy the ${name} login command`));
}

function clientPanel(c, client, mode) {
  const cmds = clientCommands(c, client);
  const name = CLIENTS[client];
  const kind = (k) => (client === 'docker' ? k : `${client}-${k}`);
  const steps = mode === 'push'
    ? [
      loginStep(1, c, client, 'a repository user that may push (push_pull)'),
      step(2, 'Tag a local image for this repository', null, commandBlock(cmds.tag, 'push-command-text', kind('tag'), `Copy the ${name} tag command`)),
      step(3, 'Push it', null, commandBlock(cmds.push, 'push-command-text', kind('push'), `Copy the ${name} push command`)),
    ]
    : [
      loginStep(1, c, client, 'a repository user that may pull (a public repository needs no login)'),
      step(2, 'Pull', null, commandBlock(cmds.pull, 'push-command-text', kind('pull'), `Copy the ${name} pull command`)),
    ];
  return [plainHttpNote(c, client), h('ol', { class: 'steps' }, steps)];
}

let chosenClient = 'docker';

// The dialog with the commands to push into `repo` (mode 'push') or pull `image` from it
// ('pull'), for docker and podman.
export function registryCommandsDialog(repo, { mode = 'push', image = '' } = {}) {
  const imageInput = h('input', { class: 'input', 'data-testid': 'push-image-name', placeholder: 'my-app', autocomplete: 'off', spellcheck: 'false', value: image });
  const body = h('div', { class: 'commands', 'data-testid': 'push-commands', 'aria-live': 'polite' }, h('div', { class: 'summary-loading' }, spinner(18), 'Loading commands…'));
  let seq = 0;
  const load = async () => {
    const mine = ++seq;
    try {
      const c = await api('GET', `/repositories/${seg(repo)}/push-commands${query({ image: imageInput.value.trim() })}`);
      if (mine !== seq) return;
      replace(body, tabs(Object.keys(CLIENTS).map((client) => ({ id: client, label: CLIENTS[client], panel: clientPanel(c, client, mode) })), {
        label: 'Client', selected: chosenClient, onSelect: (id) => { chosenClient = id; },
      }));
    } catch (e) {
      if (mine !== seq) return;
      replace(body, h('div', { class: 'alert alert-error', role: 'alert' }, icon('alert', 16), h('span', null, errorMessage(e))));
    }
  };
  imageInput.addEventListener('input', debounce(load, 250));
  const dialog = openDialog({
    title: mode === 'push' ? 'Push an image' : `Pull ${image}`,
    subtitle: mode === 'push'
      ? ['Commands for repository ', h('strong', null, repo), ', with docker or podman.']
      : ['From repository ', h('strong', null, repo), ', with docker or podman. Replace TAG with a tag, or pull a digest from an artifact\'s page.'],
    testid: mode === 'push' ? 'push-commands-dialog' : 'pull-commands-dialog',
    size: 'lg',
    content: [mode === 'push' ? field('Image name (optional)', imageInput, 'Fills the image name into the commands below.') : null, body],
    footer: [
      h('a', { class: 'btn btn-ghost', href: repoHref(repo, 'users') }, icon('key', 15), 'Manage repository users'),
      h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'dialog-close', onclick: () => dialog.close() }, 'Done'),
    ],
  });
  load();
  return dialog;
}

export const pushCommandsDialog = (repo) => registryCommandsDialog(repo, { mode: 'push' });
export const pullCommandsDialog = (repo, image) => registryCommandsDialog(repo, { mode: 'pull', image });

// The logins of repository user `user` for docker and podman (tabs), for its secret dialog.
export function loginCommands(repo, user) {
  const el = h('div', { class: 'commands', 'data-testid': 'login-commands' }, h('div', { class: 'summary-loading' }, spinner(16), 'Loading commands…'));
  api('GET', `/repositories/${seg(repo)}/push-commands${query({ user })}`).then((c) => {
    replace(el, tabs(Object.keys(CLIENTS).map((client) => ({
      id: client,
      label: CLIENTS[client],
      panel: [plainHttpNote(c, client), h('ol', { class: 'steps' }, loginStep(1, c, client, user))],
    })), { label: 'Client', selected: chosenClient, onSelect: (id) => { chosenClient = id; } }));
  }).catch((e) => {
    replace(el, h('div', { class: 'alert alert-error', role: 'alert' }, icon('alert', 16), h('span', null, errorMessage(e))));
  });
  return el;
}
