// berth console: action menus (a row's ⋮ button). One is open at a time; a click elsewhere, a
// resize, Escape (handled with the dialogs' keys in dialogs.js) or a route change closes it, and
// the arrow keys move between its items.

import { h, icon } from './dom.js';

let activeMenu = null;

export function closeMenu() {
  if (!activeMenu) return false;
  activeMenu.menu.remove();
  activeMenu.button.setAttribute('aria-expanded', 'false');
  activeMenu = null;
  return true;
}

// Whether a menu is open (the dialogs' focus trap then leaves Tab to it).
export function menuOpen() {
  return activeMenu !== null;
}

// items: {label, iconName, onClick, danger, testid, data} | {header} | 'separator'
// The button is a ⋮ named `label`; with `content`, a button showing that content (its name is
// then its text) with the class `className`.
export function actionMenu(items, { testid = 'row-actions', label = 'Actions', content, className = 'menu-btn' } = {}) {
  const btn = content
    ? h('button', {
      type: 'button', class: className, 'aria-haspopup': 'menu', 'aria-expanded': 'false', title: label, 'data-testid': testid,
    }, content)
    : h('button', {
      type: 'button', class: 'icon-btn menu-btn', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-label': label, title: label, 'data-testid': testid,
    }, icon('more', 18));
  btn.addEventListener('click', (ev) => {
    ev.stopPropagation();
    if (activeMenu && activeMenu.button === btn) {
      closeMenu();
      return;
    }
    closeMenu();
    const list = typeof items === 'function' ? items() : items;
    const menu = h('div', { class: 'menu', role: 'menu', 'data-testid': 'menu' },
      list.map((item) => {
        if (item === 'separator') return h('div', { class: 'menu-sep', role: 'separator' });
        if (item.header) return h('div', { class: 'menu-header' }, item.header);
        const props = {
          type: 'button', role: 'menuitem', class: `menu-item${item.danger ? ' menu-danger' : ''}`, 'data-testid': item.testid,
          onclick: (e) => {
            e.stopPropagation();
            closeMenu();
            item.onClick();
          },
        };
        for (const [k, v] of Object.entries(item.data || {})) props[`data-${k}`] = v;
        return h('button', props, item.iconName ? icon(item.iconName, 15) : h('span', { class: 'menu-icon-gap' }), h('span', null, item.label));
      }));
    document.body.append(menu);
    const r = btn.getBoundingClientRect();
    const mr = menu.getBoundingClientRect();
    let top = r.bottom + 4;
    if (top + mr.height > window.innerHeight - 8 && r.top - mr.height - 4 > 8) top = r.top - mr.height - 4;
    const left = Math.max(8, Math.min(r.right - mr.width, window.innerWidth - mr.width - 8));
    menu.style.top = `${top + window.scrollY}px`;
    menu.style.left = `${left + window.scrollX}px`;
    btn.setAttribute('aria-expanded', 'true');
    activeMenu = { menu, button: btn };
    const firstItem = menu.querySelector('.menu-item');
    if (firstItem) firstItem.focus();
  });
  return btn;
}

document.addEventListener('mousedown', (ev) => {
  if (activeMenu && !activeMenu.menu.contains(ev.target) && ev.target !== activeMenu.button && !activeMenu.button.contains(ev.target)) closeMenu();
});
window.addEventListener('resize', () => closeMenu());
document.addEventListener('keydown', (ev) => {
  if (!activeMenu || (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp')) return;
  const items = [...activeMenu.menu.querySelectorAll('.menu-item')];
  const i = items.indexOf(document.activeElement);
  const next = ev.key === 'ArrowDown' ? (i + 1) % items.length : (i - 1 + items.length) % items.length;
  items[next].focus();
  ev.preventDefault();
});
