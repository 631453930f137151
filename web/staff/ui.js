// ui.js - the console's small DOM helpers: elements, labelled fields with
// their error next to them, tables, and the API's errors shown where they
// belong.
//
//   const f = field('note', { zh: '备注', en: 'Note' }, h('textarea'));
//   form.append(f.wrap);  ...  showError(form, r.error);   // into f's error, or the form's

import { t } from '/common/i18n.js';

/** An element: h('button', { type: 'button', onclick }, 'text', child, ...). */
export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
  return el;
}

/** Text in the current language. */
export const tx = (zh, en) => t({ zh, en });

let uid = 0;

/**
 * A labelled field: label, an optional hint, the control, and its error
 * line (aria-describedby).  `name` is the API's field name, so an error
 * with that field lands here.
 */
export function field(name, label, control, hint = null) {
  const id = control.id || `f-${name.replace(/[^a-z0-9]/gi, '-')}-${++uid}`;
  control.id = id;
  if (!control.name) control.name = name;
  const err = h('p', { class: 'error', id: `${id}-error`, 'data-field': name, role: 'alert' });
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, t(hint)) : null;
  control.setAttribute('aria-describedby', [hintEl ? hintEl.id : null, err.id].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, t(label)), hintEl, control, err);
  // an error goes once the field is edited: it described what was there
  control.addEventListener('input', () => {
    err.textContent = '';
    control.removeAttribute('aria-invalid');
  });
  return { wrap, control, err };
}

/** Clear every error line of a container. */
export function clearErrors(root) {
  for (const e of root.querySelectorAll('.error')) e.textContent = '';
  for (const c of root.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
}

/**
 * Show an API error: next to the field it names when the container has
 * it, else in the container's general error line (.error[data-field=""]).
 * Returns the element that shows it.
 */
export function showError(root, error, text = null) {
  const msg = text ?? (error ? `${error.message}${error.code ? ` (${error.code})` : ''}` : '');
  let el = null;
  if (error && error.field) el = root.querySelector(`.error[data-field="${CSS.escape(error.field)}"]`);
  if (!el) el = root.querySelector('.error[data-field=""]');
  if (!el) {
    el = h('p', { class: 'error', 'data-field': '', role: 'alert' });
    root.append(el);
  }
  el.textContent = msg;
  const ctl = el.id ? root.querySelector(`[aria-describedby~="${el.id}"]`) : null;
  if (ctl) {
    ctl.setAttribute('aria-invalid', 'true');
    ctl.focus();
  }
  return el;
}

/** A form's general error line. */
export const formError = () => h('p', { class: 'error', 'data-field': '', role: 'alert' });

/** A table: cols [{zh, en, key | cell(row), num}], rows. */
export function table(cols, rows, { caption = null, rowClass = null, empty = null } = {}) {
  if (!rows.length && empty) return h('p', { class: 'muted' }, t(empty));
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', { class: 'sr-only' }, t(caption)) : null,
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, t(c))))),
      h('tbody', {}, rows.map((r) =>
        h('tr', { class: rowClass ? rowClass(r) : null },
          cols.map((c) => h('td', { class: c.num ? 'num' : null }, c.cell ? c.cell(r) : r[c.key] ?? '')))))));
}

/** A busy button while fn runs. */
export async function busy(button, fn) {
  button.disabled = true;
  try {
    return await fn();
  } finally {
    button.disabled = false;
  }
}

/** "2027-05-01T08:00" (datetime-local, China time) -> "2027-05-01T08:00:00+08:00". */
export function cstIso(local) {
  if (!local) return '';
  const withSec = /T\d\d:\d\d$/.test(local) ? `${local}:00` : local;
  return `${withSec}+08:00`;
}

/** A time (ms or ISO) as datetime-local in China time, seconds included. */
export function cstLocal(v) {
  const ms = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(ms)) return '';
  return new Date(ms + 8 * 3600e3).toISOString().slice(0, 19);
}
