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
//   #/repositories/<repo>/images/<image path>/<digest>   an artifact whole (manifest, config,
//                                                   layers, platforms, referrers)
//   #/repositories/<repo>/users                     a repository: repository users tab
//   #/repositories/<repo>/history                   a repository: history tab
//   #/registries                                    the account's remote registries
//   #/accounts                                      accounts (system administrator only)
//   #/console-users?account=<id>                    console users (system administrator only;
//                                                   without account: the administrators)
//   #/api-tokens                                    the logged-in user's API tokens
// After each route change the focus goes to the page's heading (once the page has drawn it), so
// keyboard and screen-reader users start at the top of the new page.
// List state (page, size, name filter, account) lives in the hash query (?page=2&size=50&name=api)
// and is updated with history.replaceState, so a reload or a shared link shows the same page.

import { h, append, clear, replace } from './dom.js';
import { api, errorMessage, onUnauthorized } from './api.js';
import { toast, toastHost, spinner, emptyState } from './ui.js';
import { closeDialogs, focusHeading, dialogOpen } from './dialogs.js';
import { closeMenu } from './menus.js';
import { parseHash, repoHref, setRouter } from './routes.js';
import { shellContent, dropShell, setCrumbs } from './shell.js';
import { renderLogin } from './pages/login.js';
import { renderRepositories } from './pages/repositories.js';
import { renderRepository } from './pages/repository.js';
import { renderArtifacts } from './pages/artifacts.js';
import { renderConsoleUsers } from './pages/console-users.js';
import { renderAccounts } from './pages/accounts.js';
import { renderApiTokens } from './pages/api-tokens.js';
import { renderRegistries } from './pages/registries.js';
import { renderArtifact } from './pages/artifact.js';

// A digest as the last segment of an artifact's route (image names hold no ':').
const DIGEST_SEG = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

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

// Moves the focus to the new page's heading once it is drawn (some pages draw it after an API
// answer), unless a dialog opened or the person moved into the page meanwhile.
let headingWatch = null;
function focusHeadingSoon(content) {
  if (headingWatch) headingWatch.disconnect();
  const done = () => {
    if (headingWatch) headingWatch.disconnect();
    headingWatch = null;
  };
  const tryFocus = () => {
    if (dialogOpen() || (content.contains(document.activeElement) && document.activeElement !== content)) {
      done();
      return;
    }
    if (focusHeading()) done();
  };
  headingWatch = new MutationObserver(tryFocus);
  headingWatch.observe(content, { childList: true, subtree: true });
  setTimeout(done, 10000);
  tryFocus();
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
  renderRoute(content, segs, params);
  focusHeadingSoon(content);
}

function renderRoute(content, segs, params) {
  if (segs.length === 0 || (segs[0] === 'login' && segs.length === 1)) {
    history.replaceState(null, '', '#/repositories');
    renderRepositories(content, params);
    return;
  }
  if (segs[0] === 'console-users' && segs.length === 1) {
    renderConsoleUsers(content, session, params);
    return;
  }
  if (segs[0] === 'accounts' && segs.length === 1) {
    renderAccounts(content, session, params);
    return;
  }
  if (segs[0] === 'registries' && segs.length === 1) {
    renderRegistries(content, session, params);
    return;
  }
  if (segs[0] === 'api-tokens' && segs.length === 1) {
    renderApiTokens(content, session, params);
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
  if (tab === 'images' && segs.length > 4 && DIGEST_SEG.test(segs[segs.length - 1])) {
    renderArtifact(content, repo, segs.slice(3, -1).join('/'), segs[segs.length - 1]);
    return;
  }
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
    iconName: 'alert', title: 'This page does not exist', text: 'The address may be mistyped, or the page was moved.', heading: true,
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
  document.body.append(toastHost);
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
