// berth console: action menus (a row's ⋮ button). One is open at a time; a click elsewhere, a
// resize, Escape (handled with the dialogs' keys in dialogs.js) or a route change closes it, and
// the arrow keys move between its items.

import { h, icon } from './dom.js';

let activeMenu = null;

// Closes the open menu; with `returnFocus`, the focus goes back to its button (Escape, Tab, a
// chosen item), so the keyboard is where it was before the menu opened.
export function closeMenu({ returnFocus = false } = {}) {
  if (!activeMenu) return false;
  const { menu, button } = activeMenu;
  const hadFocus = menu.contains(document.activeElement);
  menu.remove();
  button.setAttribute('aria-expanded', 'false');
  activeMenu = null;
  if ((returnFocus || hadFocus) && document.contains(button)) button.focus();
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
    const menu = h('div', { class: 'menu', role: 'menu', 'aria-label': btn.getAttribute('aria-label') || label, 'data-testid': 'menu' },
      list.map((item) => {
        if (item === 'separator') return h('div', { class: 'menu-sep', role: 'separator' });
        if (item.header) return h('div', { class: 'menu-header', role: 'presentation' }, item.header);
        const props = {
          type: 'button', role: 'menuitem', class: `menu-item${item.danger ? ' menu-danger' : ''}`, 'data-testid': item.testid,
          onclick: (e) => {
            e.stopPropagation();
            // The focus is back on the button first, so a dialog the item opens returns it there.
            closeMenu({ returnFocus: true });
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
  if (!activeMenu) return;
  if (ev.key === 'Tab') {
    closeMenu({ returnFocus: true });
    ev.preventDefault();
    return;
  }
  if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(ev.key)) return;
  const items = [...activeMenu.menu.querySelectorAll('.menu-item')];
  const i = items.indexOf(document.activeElement);
  const next = { ArrowDown: (i + 1) % items.length, ArrowUp: (i - 1 + items.length) % items.length, Home: 0, End: items.length - 1 }[ev.key];
  items[next].focus();
  ev.preventDefault();
});
