// berth console: tables and server-side pagination.

import { h, clear, replace, icon } from './dom.js';
import { formatNumber, countOf } from './format.js';
import { emptyState, errorState } from './ui.js';

const PAGE_SIZES = [10, 20, 50, 100];
export const DEFAULT_SIZE = 20;

// columns: [{title, render(item), class, width}]. `label` names the table (for screen readers,
// and the tests find it by that name); `fixed`: the columns keep their widths and long cells
// wrap instead of widening the table (a table that must fit 1280 px whatever its text).
export function dataTable({ columns, rowTestid, rowProps, empty, testid, label, fixed = false }) {
  const thead = h('thead', null, h('tr', null, columns.map((c) => {
    // A column without a title (the action menus) is still named for screen readers.
    const th = h('th', { class: c.class, scope: 'col' }, c.title || h('span', { class: 'sr-only' }, 'Actions'));
    if (c.width) th.style.width = c.width;
    return th;
  })));
  const tbody = h('tbody');
  const table = h('table', { class: `table${fixed ? ' table-fixed' : ''}`, 'data-testid': testid, 'aria-label': label }, thead, tbody);
  const below = h('div', { class: 'table-state' });
  const wrap = h('div', { class: 'table-wrap' }, h('div', { class: 'table-scroll' }, table), below);
  let hasRows = false;

  function setLoading() {
    replace(below);
    if (hasRows) {
      wrap.classList.add('reloading');
      return;
    }
    wrap.classList.add('loading');
    replace(tbody, Array.from({ length: 5 }, () => h('tr', { class: 'skeleton-row' },
      columns.map(() => h('td', null, h('span', { class: 'skeleton' }))))));
  }

  function setItems(items, emptyArgs) {
    wrap.classList.remove('loading', 'reloading');
    replace(tbody, items.map((item) => {
      const props = { 'data-testid': rowTestid, ...(rowProps ? rowProps(item) : {}) };
      return h('tr', props, columns.map((c) => h('td', { class: c.class }, c.render(item))));
    }));
    hasRows = items.length > 0;
    replace(below, items.length ? [] : [emptyState(typeof empty === 'function' ? empty(emptyArgs) : empty)]);
    table.classList.toggle('is-empty', !items.length);
  }

  function setError(err, retry) {
    wrap.classList.remove('loading', 'reloading');
    clear(tbody);
    hasRows = false;
    table.classList.add('is-empty');
    replace(below, errorState(err, retry));
  }

  return { el: wrap, setLoading, setItems, setError };
}

function pager(onChange, noun) {
  const info = h('span', { class: 'pager-info', 'data-testid': 'page-info' });
  const sizeSelect = h('select', { class: 'select select-sm', 'data-testid': 'page-size', 'aria-label': 'Items per page' },
    PAGE_SIZES.map((s) => h('option', { value: String(s) }, `${s} / page`)));
  const prev = h('button', { type: 'button', class: 'icon-btn pager-btn', 'aria-label': 'Previous page', 'data-testid': 'page-prev' }, icon('left', 16));
  const next = h('button', { type: 'button', class: 'icon-btn pager-btn', 'aria-label': 'Next page', 'data-testid': 'page-next' }, icon('right', 16));
  const pageInput = h('input', { class: 'input input-sm pager-input', type: 'number', min: '1', 'aria-label': 'Page', 'data-testid': 'page-input' });
  const pages = h('span', { class: 'pager-pages' });
  const el = h('div', { class: 'pager', 'data-testid': 'pager' }, info,
    h('div', { class: 'pager-controls' }, sizeSelect, prev, h('span', { class: 'pager-page' }, 'Page', pageInput, pages), next));
  let cur = { page: 1, size: DEFAULT_SIZE, total: 0 };
  const lastPage = () => Math.max(1, Math.ceil(cur.total / cur.size));

  prev.addEventListener('click', () => cur.page > 1 && onChange(cur.page - 1, cur.size));
  next.addEventListener('click', () => cur.page < lastPage() && onChange(cur.page + 1, cur.size));
  sizeSelect.addEventListener('change', () => onChange(1, Number(sizeSelect.value)));
  pageInput.addEventListener('change', () => {
    const p = Math.min(lastPage(), Math.max(1, Math.floor(Number(pageInput.value) || 1)));
    onChange(p, cur.size);
  });

  function update(page, size, total) {
    cur = { page, size, total };
    const first = total === 0 ? 0 : (page - 1) * size + 1;
    const last = Math.min(total, page * size);
    info.textContent = total === 0 ? 'No items' : `${formatNumber(first)}–${formatNumber(last)} of ${countOf(total, ...noun)}`;
    if (!PAGE_SIZES.includes(size)) sizeSelect.append(h('option', { value: String(size) }, `${size} / page`));
    sizeSelect.value = String(size);
    pageInput.value = String(page);
    pageInput.max = String(lastPage());
    pages.textContent = `of ${formatNumber(lastPage())}`;
    prev.disabled = page <= 1;
    next.disabled = page >= lastPage();
    el.hidden = total === 0;
  }
  update(1, DEFAULT_SIZE, 0);
  return { el, update };
}

// Loads pages of a list endpoint into a table and a pager. `load(page, size)` returns the
// API's {items, page, size, total}. Only the newest request's answer is shown. `noun`: what the
// pager counts, [singular, plural] ("1 image", "2 images").
export function pagedList({ table, load, page = 1, size = DEFAULT_SIZE, onState, emptyArgs, noun = ['item', 'items'] }) {
  let seq = 0;
  let current = { page, size };
  const pg = pager((p, s) => go(p, s), noun);

  async function go(p, s) {
    current = { page: p, size: s };
    if (onState) onState(current);
    const mine = ++seq;
    table.setLoading();
    try {
      const data = await load(p, s);
      if (mine !== seq) return;
      const items = data.items || [];
      const total = Number(data.total) || 0;
      // A page past the end (after deletes): show the last page instead.
      if (!items.length && total > 0 && p > 1) {
        go(Math.max(1, Math.ceil(total / s)), s);
        return;
      }
      table.setItems(items, emptyArgs ? emptyArgs() : undefined);
      pg.update(data.page || p, data.size || s, total);
    } catch (e) {
      if (mine !== seq) return;
      if (e.status === 401) return;
      table.setError(e, () => go(current.page, current.size));
      pg.update(p, s, 0);
    }
  }

  return {
    pager: pg.el,
    reload: () => go(current.page, current.size),
    goTo: (p) => go(p, current.size),
    start: () => go(current.page, current.size),
  };
}
