// berth console: the shell around the pages once logged in: sidebar, top bar (breadcrumbs, the
// session's user, log out) and the content area; and the header of a page.

import { h, replace, icon } from './dom.js';

let shell = null;

function roleLabel(session) {
  if (session.role === 'admin') return 'System administrator';
  return session.account != null ? `Account ${session.account}` : 'Console user';
}

// The content area, building the shell first when it is not on the page (after a login).
export function shellContent(root, session, onLogout) {
  if (!shell || !document.contains(shell.content)) buildShell(root, session, onLogout);
  return shell.content;
}

// Forgets the shell: the login page replaced it.
export function dropShell() {
  shell = null;
}

function buildShell(root, session, onLogout) {
  const content = h('main', { class: 'content', id: 'content', tabindex: '-1' });
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb', 'data-testid': 'breadcrumbs' });
  const navRepos = h('a', { class: 'nav-item', href: '#/repositories', 'data-testid': 'nav-repositories' }, icon('box', 18), h('span', null, 'Repositories'));
  const initials = (session.username || '?').slice(0, 2).toUpperCase();
  const sidebar = h('aside', { class: 'sidebar' }, h('div', { class: 'sidebar-inner' },
    h('a', { class: 'brand', href: '#/repositories' }, h('span', { class: 'brand-mark' }, icon('anchor', 20)), h('span', { class: 'brand-name' }, 'berth'), h('span', { class: 'brand-tag' }, 'Registry')),
    h('div', { class: 'nav-section' }, 'Container registry'),
    h('nav', { class: 'nav' }, navRepos),
    h('div', { class: 'nav-section' }, 'Developers'),
    h('nav', { class: 'nav' },
      h('a', { class: 'nav-item', href: '/api/v1/openapi.json', target: '_blank', rel: 'noopener' }, icon('book', 18), h('span', null, 'API reference'))),
    h('div', { class: 'sidebar-foot' }, 'OCI Distribution v1.1')));
  const topbar = h('header', { class: 'topbar' }, crumbs,
    h('div', { class: 'user' },
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials),
      h('div', { class: 'user-text' },
        h('div', { class: 'user-name', 'data-testid': 'session-user' }, session.username),
        h('div', { class: 'user-role' }, roleLabel(session))),
      h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'logout', onclick: onLogout, title: 'Log out' }, icon('logout', 15), 'Log out')));
  const layout = h('div', { class: 'layout' }, sidebar, h('div', { class: 'main' }, topbar, content));
  replace(root, layout);
  shell = { content, crumbs, navRepos };
}

export function setCrumbs(items) {
  replace(shell.crumbs, items.map((item, i) => [
    i > 0 ? h('span', { class: 'crumb-sep', 'aria-hidden': 'true' }, '/') : null,
    item.href && i < items.length - 1
      ? h('a', { class: 'crumb', href: item.href }, item.label)
      : h('span', { class: 'crumb crumb-current', 'aria-current': 'page' }, item.label),
  ]));
  document.title = `${items[items.length - 1].label} · berth`;
}

// Marks Repositories in the sidebar as the current section.
export function activateRepositoriesNav() {
  shell.navRepos.classList.add('active');
}

export function pageHeader({ title, subtitle, actions, iconName, testid }) {
  return h('div', { class: 'page-header' },
    h('div', { class: 'page-heading' },
      iconName ? h('div', { class: 'page-icon' }, icon(iconName, 22)) : null,
      h('div', null, h('h1', { class: 'page-title', 'data-testid': testid }, title), subtitle ? h('div', { class: 'page-subtitle' }, subtitle) : null)),
    actions ? h('div', { class: 'page-actions' }, actions) : null);
}
