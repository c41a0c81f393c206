// berth web console: the entry module, which index.html loads with <script type="module">.
//
// Plain ES2020 modules, no framework, no build step, nothing loaded from another origin: the
// server embeds these files and serves them under /assets/. Every datum comes from the management
// API (/api/v1, see /api/v1/openapi.json) through fetch() with the session cookie; every write
// sends a JSON body or at least the JSON content type (the server's CSRF defence). Values from the
// server are only ever inserted as text nodes (h() in dom.js never parses HTML).
//
// Modules: dom.js (h(), icons), format.js (sizes, times, digests), api.js (fetch, errors, the
// registry host), ui.js (toasts, clipboard, pills, buttons, fields), dialogs.js, menus.js,
// table.js (tables, pagination), routes.js (links, list state in the hash), passwords.js (new
// password fields, the change-password dialog), shell.js (sidebar, top bar with the user menu,
// breadcrumbs), pages/*.js (one per page or group of tabs). This one holds the session and maps
// routes to pages.
//
// Routes (hash):
//   #/repositories                                  the account's repositories
//   #/repositories/<repo>/images                    a repository: images tab
//   #/repositories/<repo>/images/<image path>       an image's artifacts
//   #/repositories/<repo>/users                     a repository: repository users tab
//   #/repositories/<repo>/history                   a repository: history tab
//   #/console-users?account=<id>                    console users (system administrator only;
//                                                   without account: the administrators)
// List state (page, size, name filter, account) lives in the hash query (?page=2&size=50&name=api)
// and is updated with history.replaceState, so a reload or a shared link shows the same page.

import { h, append, clear, replace } from './dom.js';
import { api, errorMessage, onUnauthorized } from './api.js';
import { toast, toastHost, lastCopiedEl, spinner, emptyState } from './ui.js';
import { closeDialogs } from './dialogs.js';
import { closeMenu } from './menus.js';
import { parseHash, repoHref, setRouter } from './routes.js';
import { shellContent, dropShell, setCrumbs } from './shell.js';
import { renderLogin } from './pages/login.js';
import { renderRepositories } from './pages/repositories.js';
import { renderRepository } from './pages/repository.js';
import { renderArtifacts } from './pages/artifacts.js';
import { renderConsoleUsers } from './pages/console-users.js';

const root = document.getElementById('app');

// The logged-in user ({username, role, account}); null when logged out.
let session = null;

function showLogin(notice) {
  dropShell();
  renderLogin(root, notice, (s) => {
    session = s;
    route();
  });
}

function route() {
  closeMenu();
  closeDialogs();
  if (!session) {
    showLogin();
    return;
  }
  const content = shellContent(root, session, logout);
  const { segs, params } = parseHash();
  clear(content);
  window.scrollTo(0, 0);
  if (segs.length === 0 || (segs[0] === 'login' && segs.length === 1)) {
    history.replaceState(null, '', '#/repositories');
    renderRepositories(content, params);
    return;
  }
  if (segs[0] === 'console-users' && segs.length === 1) {
    renderConsoleUsers(content, session, params);
    return;
  }
  if (segs[0] !== 'repositories') {
    renderNotFound(content);
    return;
  }
  if (segs.length === 1) {
    renderRepositories(content, params);
    return;
  }
  const repo = segs[1];
  if (segs.length === 2) {
    history.replaceState(null, '', repoHref(repo, 'images'));
    renderRepository(content, repo, 'images', params);
    return;
  }
  const tab = segs[2];
  if (tab === 'images' && segs.length > 3) {
    renderArtifacts(content, repo, segs.slice(3).join('/'), params);
    return;
  }
  if (['images', 'users', 'history'].includes(tab) && segs.length === 3) {
    renderRepository(content, repo, tab, params);
    return;
  }
  renderNotFound(content);
}

function renderNotFound(content) {
  setCrumbs([{ label: 'Not found' }]);
  append(content, h('div', { class: 'card' }, emptyState({
    iconName: 'alert', title: 'This page does not exist', text: 'The address may be mistyped, or the page was moved.',
    action: h('a', { class: 'btn btn-primary', href: '#/repositories' }, 'Go to repositories'),
  })));
}

async function logout() {
  try {
    await api('DELETE', '/session', undefined, { noAuthRedirect: true });
  } catch (e) {
    if (e.status !== 401) {
      toast(errorMessage(e), 'error');
      return;
    }
  }
  session = null;
  showLogin('You are logged out.');
}

function sessionLost() {
  if (!session) return;
  session = null;
  closeDialogs();
  closeMenu();
  showLogin('Your session has ended. Log in again to continue.');
}

// -------------------------------------------------------------------------------------------
// Start
// -------------------------------------------------------------------------------------------

async function start() {
  document.body.append(toastHost, lastCopiedEl);
  replace(root, h('div', { class: 'boot' }, spinner(28)));
  try {
    session = await api('GET', '/session', undefined, { noAuthRedirect: true });
  } catch (e) {
    session = null;
    if (e.status !== 401) {
      showLogin(errorMessage(e));
      return;
    }
  }
  route();
}

onUnauthorized(sessionLost);
setRouter(route);

window.addEventListener('hashchange', () => route());
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
