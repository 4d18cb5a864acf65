// Element builders. Every element is made with createElement and every string becomes a text node, so no server
// text is ever parsed as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

const isAbsent = (value) => value === undefined || value === null || value === false;

/** Builds an element: h('a', { href: '#/' }, 'text', child). Attributes starting with "on" become listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (isAbsent(value)) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (isAbsent(child)) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Builds an SVG element; attributes are set as given, children are not flattened or filtered. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/** A header row of column titles, each a `th scope="col"`. */
export function tableHead(titles) {
  return h(
    'thead',
    {},
    h(
      'tr',
      {},
      titles.map((title) => h('th', { scope: 'col' }, title)),
    ),
  );
}

/** A responsive table in its scrolling wrapper: the titles as the header row, then `rows` as the body. */
export function dataTable(id, titles, rows) {
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'responsive', id }, tableHead(titles), h('tbody', {}, rows)),
  );
}
