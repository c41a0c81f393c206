// berth console: the shell around the pages once logged in: sidebar (the accounts and console
// users pages only for the system administrator), top bar (breadcrumbs, the user menu: change password, log out)
// and the content area; and the header of a page.

import { h, replace, icon } from './dom.js';
import { actionMenu } from './menus.js';
import { changePasswordDialog } from './passwords.js';

let shell = null;

function roleLabel(session) {
  if (session.role === 'admin') return 'System administrator';
  return session.account != null ? `Account ${session.account}` : 'Console user';
}

// The content area, building the shell first when it is not on the page (after a login). No
// section of the sidebar is marked current until the page says which (activateNav).
export function shellContent(root, session, onLogout) {
  if (!shell || !document.contains(shell.content)) buildShell(root, session, onLogout);
  for (const item of Object.values(shell.nav)) {
    item.classList.remove('active');
    item.removeAttribute('aria-current');
  }
  return shell.content;
}

// Forgets the shell: the login page replaced it.
export function dropShell() {
  shell = null;
}

function buildShell(root, session, onLogout) {
  const content = h('main', { class: 'content', id: 'content', tabindex: '-1' });
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb', 'data-testid': 'breadcrumbs' });
  const nav = {
    repositories: h('a', { class: 'nav-item', href: '#/repositories', 'data-testid': 'nav-repositories' }, icon('box', 18), h('span', null, 'Repositories')),
    registries: h('a', { class: 'nav-item', href: '#/registries', 'data-testid': 'nav-registries' }, icon('globe', 18), h('span', null, 'Registries')),
  };
  if (session.role === 'admin') {
    nav.accounts = h('a', { class: 'nav-item', href: '#/accounts', 'data-testid': 'nav-accounts' }, icon('globe', 18), h('span', null, 'Accounts'));
    nav['console-users'] = h('a', { class: 'nav-item', href: '#/console-users', 'data-testid': 'nav-console-users' }, icon('user', 18), h('span', null, 'Console users'));
  }
  nav['api-tokens'] = h('a', { class: 'nav-item', href: '#/api-tokens', 'data-testid': 'nav-api-tokens' }, icon('key', 18), h('span', null, 'API tokens'));
  const initials = (session.username || '?').slice(0, 2).toUpperCase();
  const sidebar = h('aside', { class: 'sidebar' }, h('div', { class: 'sidebar-inner' },
    h('a', { class: 'brand', href: '#/repositories' }, h('span', { class: 'brand-mark' }, icon('anchor', 20)), h('span', { class: 'brand-name' }, 'berth'), h('span', { class: 'brand-tag' }, 'Registry')),
    h('div', { class: 'nav-section' }, 'Container registry'),
    h('nav', { class: 'nav', 'aria-label': 'Container registry' }, nav.repositories, nav.registries),
    nav['console-users'] ? [
      h('div', { class: 'nav-section' }, 'Administration'),
      h('nav', { class: 'nav', 'aria-label': 'Administration' }, nav.accounts, nav['console-users']),
    ] : null,
    h('div', { class: 'nav-section' }, 'Developers'),
    h('nav', { class: 'nav', 'aria-label': 'Developers' },
      nav['api-tokens'],
      h('a', { class: 'nav-item', href: '/api/v1/openapi.json', target: '_blank', rel: 'noopener' }, icon('book', 18), h('span', null, 'API reference'))),
    h('div', { class: 'sidebar-foot' }, 'OCI Distribution v1.1')));
  const userMenu = actionMenu(() => [
    { label: 'Change password', iconName: 'lock', testid: 'menu-change-password', onClick: () => changePasswordDialog(session) },
    'separator',
    { label: 'Log out', iconName: 'logout', testid: 'logout', onClick: onLogout },
  ], {
    testid: 'user-menu',
    label: 'Your account: change password, log out',
    className: 'user user-menu-btn',
    content: [
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials),
      h('span', { class: 'user-text' },
        h('span', { class: 'user-name', 'data-testid': 'session-user' }, session.username),
        h('span', { class: 'user-role' }, roleLabel(session))),
      icon('down', 16),
    ],
  });
  const topbar = h('header', { class: 'topbar' }, crumbs, userMenu);
  const layout = h('div', { class: 'layout' }, sidebar, h('div', { class: 'main' }, topbar, content));
  replace(root, layout);
  shell = { content, crumbs, nav };
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

// Marks a section of the sidebar ('repositories', 'registries', 'accounts', 'console-users',
// 'api-tokens') as the current one.
export function activateNav(name) {
  const item = shell.nav[name];
  if (!item) return;
  item.classList.add('active');
  item.setAttribute('aria-current', 'page');
}

// Marks Repositories in the sidebar as the current section.
export function activateRepositoriesNav() {
  activateNav('repositories');
}

export function pageHeader({ title, subtitle, actions, iconName, testid }) {
  return h('div', { class: 'page-header' },
    h('div', { class: 'page-heading' },
      iconName ? h('div', { class: 'page-icon' }, icon(iconName, 22)) : null,
      h('div', null, h('h1', { class: 'page-title', 'data-testid': testid, tabindex: '-1' }, title), subtitle ? h('div', { class: 'page-subtitle' }, subtitle) : null)),
    actions ? h('div', { class: 'page-actions' }, actions) : null);
}
