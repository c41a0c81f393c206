// berth console: DOM building and icons. Text only, never HTML parsing: h() inserts every value
// as a text node or an attribute value, so nothing the server sends can become markup.

const SVGNS = 'http://www.w3.org/2000/svg';

const DEFERRED_PROPS = new Set(['value', 'checked', 'selected']);

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  const deferred = [];
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value == null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'style') Object.assign(el.style, value);
      else if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2).toLowerCase(), value);
      } else if (DEFERRED_PROPS.has(key)) deferred.push([key, value]);
      else if (key === 'disabled' || key === 'required' || key === 'readOnly') el[key] = !!value;
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  // A <select>'s value can only be set once its options exist.
  for (const [key, value] of deferred) el[key] = value;
  return el;
}

export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, ...children);
}

// Icons: 24x24 stroke outlines drawn for this console.
const P = (d) => ['path', { d }];
const C = (cx, cy, r) => ['circle', { cx, cy, r }];
const R = (x, y, width, height, rx) => ['rect', { x, y, width, height, rx }];
const ICONS = {
  anchor: [C(12, 5, 3), P('M12 22V8'), P('M5 12H2a10 10 0 0 0 20 0h-3')],
  box: [
    P('M21 16V8a2 2 0 0 0-1-1.73l-7-4a2 2 0 0 0-2 0l-7 4A2 2 0 0 0 3 8v8a2 2 0 0 0 1 1.73l7 4a2 2 0 0 0 2 0l7-4A2 2 0 0 0 21 16z'),
    P('M3.3 7 12 12l8.7-5'),
    P('M12 22V12'),
  ],
  layers: [P('M12 2 2 7l10 5 10-5-10-5z'), P('M2 17l10 5 10-5'), P('M2 12l10 5 10-5')],
  users: [
    P('M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2'),
    C(9, 7, 4),
    P('M23 21v-2a4 4 0 0 0-3-3.87'),
    P('M16 3.13a4 4 0 0 1 0 7.75'),
  ],
  clock: [C(12, 12, 10), P('M12 6v6l4 2')],
  copy: [R(9, 9, 13, 13, 2), P('M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1')],
  check: [P('M20 6 9 17l-5-5')],
  more: [C(12, 5, 1), C(12, 12, 1), C(12, 19, 1)],
  plus: [P('M12 5v14'), P('M5 12h14')],
  search: [C(11, 11, 8), P('m21 21-4.35-4.35')],
  trash: [P('M3 6h18'), P('M19 6v14a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V6'), P('M8 6V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2')],
  edit: [
    P('M11 4H4a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2v-7'),
    P('M18.5 2.5a2.12 2.12 0 0 1 3 3L12 15l-4 1 1-4 9.5-9.5z'),
  ],
  refresh: [
    P('M23 4v6h-6'),
    P('M1 20v-6h6'),
    P('M3.51 9a9 9 0 0 1 14.85-3.36L23 10M1 14l4.64 4.36A9 9 0 0 0 20.49 15'),
  ],
  logout: [P('M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4'), P('M16 17l5-5-5-5'), P('M21 12H9')],
  terminal: [P('M4 17l6-6-6-6'), P('M12 19h8')],
  left: [P('M15 18l-6-6 6-6')],
  right: [P('M9 18l6-6-6-6')],
  alert: [
    P('M10.29 3.86 1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86a2 2 0 0 0-3.42 0z'),
    P('M12 9v4'),
    P('M12 17h.01'),
  ],
  x: [P('M18 6 6 18'), P('M6 6l12 12')],
  download: [P('M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4'), P('M7 10l5 5 5-5'), P('M12 15V3')],
  tag: [P('M20.59 13.41l-7.17 7.17a2 2 0 0 1-2.83 0L2 12V2h10l8.59 8.59a2 2 0 0 1 0 2.82z'), P('M7 7h.01')],
  book: [P('M4 19.5A2.5 2.5 0 0 1 6.5 17H20'), P('M6.5 2H20v20H6.5A2.5 2.5 0 0 1 4 19.5v-15A2.5 2.5 0 0 1 6.5 2z')],
  key: [C(7.5, 15.5, 5.5), P('M11.4 11.6 21 2'), P('M15.5 7.5l3 3L22 7l-3-3')],
  lock: [R(3, 11, 18, 11, 2), P('M7 11V7a5 5 0 0 1 10 0v4')],
  globe: [C(12, 12, 10), P('M2 12h20'), P('M12 2a15.3 15.3 0 0 1 4 10 15.3 15.3 0 0 1-4 10 15.3 15.3 0 0 1-4-10 15.3 15.3 0 0 1 4-10z')],
  inbox: [P('M22 12h-6l-2 3h-4l-2-3H2'), P('M5.45 5.11 2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.45-6.89A2 2 0 0 0 16.76 4H7.24a2 2 0 0 0-1.79 1.11z')],
  info: [C(12, 12, 10), P('M12 16v-4'), P('M12 8h.01')],
  user: [P('M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2'), C(12, 7, 4)],
  shield: [P('M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z')],
  down: [P('M6 9l6 6 6-6')],
  ban: [C(12, 12, 10), P('M4.93 4.93l14.14 14.14')],
};

export function icon(name, size = 16) {
  const svg = document.createElementNS(SVGNS, 'svg');
  const attrs = {
    viewBox: '0 0 24 24', width: size, height: size, fill: 'none', stroke: 'currentColor',
    'stroke-width': 2, 'stroke-linecap': 'round', 'stroke-linejoin': 'round',
    'aria-hidden': 'true', focusable: 'false', class: 'icon',
  };
  for (const [k, v] of Object.entries(attrs)) svg.setAttribute(k, String(v));
  for (const [tag, a] of ICONS[name] || []) {
    const part = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(a)) part.setAttribute(k, String(v));
    svg.append(part);
  }
  return svg;
}
