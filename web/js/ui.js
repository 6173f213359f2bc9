// SPDX-License-Identifier: Apache-2.0
// ui.js - tiny DOM helpers. Text always goes in through textContent (never innerHTML), so
// names typed by users can never become markup.

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// Show an ApiError (problem+json) in box, with each field error listed.
export function showError(box, err) {
  box.replaceChildren();
  const p = (err && err.problem) || {};
  const d = el('div', { class: 'error', role: 'alert' }, err.message || String(err));
  if (Array.isArray(p.errors) && p.errors.length) {
    d.append(el('ul', {}, p.errors.map((e) => el('li', {}, `${e.field}: ${e.message}`))));
  }
  box.append(d);
}

export function notice(box, text) {
  box.replaceChildren(el('div', { class: 'notice' }, text));
}

export function table(columns, rows) {
  return el('table', {},
    el('thead', {}, el('tr', {}, columns.map((c) => el('th', {}, c.title)))),
    el('tbody', {}, rows.map((r) => el('tr', {}, columns.map((c) => el('td', {}, c.cell(r)))))));
}

export function formValues(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) {
    if (v !== '') out[k] = v;
  }
  return out;
}

export const when = (t) => (t ? new Date(t).toLocaleString() : '—');
