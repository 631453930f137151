// whatif.js - the intake section's what-if (POST /api/intake/dry-run with
// a body, docs/api.md): each school's seats (prefilled with the current
// ones; only the changed ones are sent) and optionally a whole other
// policy.ini; the server runs the allocation twice with one seed, as
// things are and as they would be, and the answer is both summaries side
// by side and every child who would move (receipt, from, to).  An error
// is shown next to what it concerns: the seats of the school it names,
// or the policy text with its line.  Nothing is stored either way.
//
//   box.append(await whatIf(ctx));

import { api } from '/common/api.js';
import { t } from '/common/i18n.js';
import { busy, clearErrors, field, formError, h, showError, table, tx } from './ui.js';

const MAX_SEATS = 100000;

// What was typed and the last answer, kept while the page is open so a
// language switch (which draws the section again) loses neither.
const draft = { seats: {}, policy: '', answer: null };

/** The schools to offer: the district's places, else the last dry run's. */
function schoolsOf(ctx, lastDry) {
  const places = ctx.places?.schools ?? [];
  if (places.length) return places.map((s) => ({ id: s.id, name: s.name, sector: s.sector, seats: s.seats }));
  return (lastDry?.schools ?? []).map((s) => ({ id: s.school, name: '', sector: '', seats: s.seats }));
}

const schoolLabel = (ctx, id) => (id === null || id === undefined ? tx('无学位', 'no seat') : ctx.schoolName(id));

/** A run's summary: placed per round, unplaced, ineligible. */
function summary(id, title, j) {
  const p = j.placed || {};
  return h('div', { class: 'card soft', id },
    h('h4', {}, title),
    h('dl', { class: 'kv' },
      h('dt', {}, tx('学生', 'students')), h('dd', {}, String(j.students ?? '')),
      h('dt', {}, tx('民办录取', 'placed, private')), h('dd', { 'data-k': 'private' }, String(p.private ?? 0)),
      h('dt', {}, tx('学区录取', 'placed, catchment')), h('dd', { 'data-k': 'catchment' }, String(p.catchment ?? 0)),
      h('dt', {}, tx('统筹安排', 'placed, overflow')), h('dd', { 'data-k': 'overflow' }, String(p.overflow ?? 0)),
      h('dt', {}, tx('未安置', 'unplaced')), h('dd', { 'data-k': 'unplaced' }, String(j.unplaced ?? 0)),
      h('dt', {}, tx('不符合条件', 'ineligible')), h('dd', {}, String(j.ineligible ?? 0)),
      h('dt', {}, tx('结果摘要', 'digest')), h('dd', { class: 'mono' }, (j.digest ?? '').slice(0, 16) + '…')));
}

/** The answer: both runs side by side, each school before and after, and who moves. */
function answerView(ctx, j, sent) {
  const w = j.what_if || {};
  const after = new Map((w.schools || []).map((s) => [s.school, s]));
  const rows = (j.schools || []).map((s) => ({ now: s, then: after.get(s.school) || {} }));
  const moves = w.moves || [];
  const moved = w.moved ?? moves.length;
  const changed = (a, b) => (a !== b ? 'warn' : null);
  return h('div', { class: 'what-if-answer' },
    h('p', {},
      tx('同一随机种子：', 'same seed for both: '), h('span', { class: 'mono' }, (j.seed ?? '').slice(0, 16) + '…'),
      sent.policy ? h('span', { class: 'tag warn' }, tx('另一政策', 'another policy')) : null),
    h('div', { class: 'side' },
      summary('what-if-now', tx('现在', 'As things are'), j),
      summary('what-if-then', tx('假设', 'What if'), w)),
    table([
      { zh: '学校', en: 'school', cell: (r) => ctx.schoolName(r.now.school) },
      { zh: '学位（现在）', en: 'seats now', num: true, cell: (r) => String(r.now.seats ?? '') },
      { zh: '学位（假设）', en: 'seats, what if', num: true,
        cell: (r) => h('span', { class: changed(r.now.seats, r.then.seats), 'data-school': r.now.school }, String(r.then.seats ?? '')) },
      { zh: '报名', en: 'applicants', num: true, cell: (r) => String(r.now.applicants ?? '') },
      { zh: '录取（现在）', en: 'admitted now', num: true, cell: (r) => String(r.now.admitted ?? '') },
      { zh: '录取（假设）', en: 'admitted, what if', num: true,
        cell: (r) => h('span', { class: changed(r.now.admitted, r.then.admitted) }, String(r.then.admitted ?? '')) },
    ], rows, { caption: { zh: '各校学位与录取：现在与假设', en: 'Each school\'s seats and admissions, now and what if' } }),
    h('h4', { id: 'what-if-moves-h' },
      tx('会变动的儿童：', 'Children who would move: '), h('strong', { id: 'what-if-moved' }, String(moved)),
      moved > moves.length ? h('span', { class: 'muted' }, tx(`（列出前 ${moves.length} 名）`, ` (the first ${moves.length} listed)`)) : null),
    h('div', { id: 'what-if-moves' },
      table([
        { zh: '回执号', en: 'receipt', cell: (m) => h('span', { class: 'mono' }, m.receipt ?? m.pseudonym) },
        { zh: '原学校', en: 'from', cell: (m) => schoolLabel(ctx, m.from) },
        { zh: '新学校', en: 'to', cell: (m) => schoolLabel(ctx, m.to) },
      ], moves, {
        caption: { zh: '会变动的儿童', en: 'Children who would move' },
        empty: { zh: '没有儿童会变动。', en: 'No child would move.' },
      })));
}

/** The line of a policy.ini error: the API's `line`, else "policy.ini:N:" in its message. */
function lineOf(e) {
  if (e.line) return Number(e.line);
  const m = /:(\d+):/.exec(e.message ?? '');
  return m ? Number(m[1]) : 0;
}

/** Put the caret at the start of line n of a textarea (and scroll there). */
function caretToLine(ta, n) {
  const lines = ta.value.split('\n');
  if (n < 1 || n > lines.length) return;
  const at = lines.slice(0, n - 1).reduce((s, l) => s + l.length + 1, 0);
  ta.setSelectionRange(at, at + lines[n - 1].length);
  const lh = parseFloat(getComputedStyle(ta).lineHeight) || 24;
  ta.scrollTop = Math.max(0, (n - 3) * lh);
}

export async function whatIf(ctx, lastDry = null) {
  const schools = schoolsOf(ctx, lastDry);
  const inputs = new Map(); // school id -> its seats input

  const seatRows = schools.map((s) => {
    const id = `what-if-seats-${s.id}`;
    const err = h('p', { class: 'error', id: `${id}-error`, 'data-field': `seats.${s.id}`, role: 'alert' });
    const input = h('input', {
      type: 'number', id, name: `seats.${s.id}`, min: '0', max: String(MAX_SEATS), step: '1', inputmode: 'numeric',
      value: String(draft.seats[s.id] ?? s.seats), 'data-school': s.id, 'data-current': String(s.seats),
      'aria-describedby': err.id, class: 'seats-input',
    });
    input.addEventListener('input', () => {
      err.textContent = '';
      input.removeAttribute('aria-invalid');
      if (input.value === String(s.seats)) delete draft.seats[s.id];
      else draft.seats[s.id] = input.value;
      row.classList.toggle('changed', input.value !== String(s.seats));
    });
    inputs.set(s.id, input);
    const row = h('tr', { class: input.value !== String(s.seats) ? 'changed' : null },
      h('th', { scope: 'row' },
        h('label', { for: id, class: 'inline' }, s.name || s.id, h('span', { class: 'sr-only' }, tx('，学位', ' seats'))),
        s.name ? h('span', { class: 'muted mono' }, ` ${s.id}`) : null),
      h('td', {}, s.sector === 'private' ? tx('民办', 'private') : s.sector === 'public' ? tx('公办', 'public') : ''),
      h('td', { class: 'num' }, String(s.seats)),
      h('td', {}, input, err));
    return row;
  });

  const seatTable = schools.length
    ? h('div', { class: 'table-wrap' },
      h('table', { id: 'what-if-seats' },
        h('caption', { class: 'sr-only' }, tx('各校假设学位', 'Each school\'s seats, what if')),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, tx('学校', 'school')),
          h('th', { scope: 'col' }, tx('类型', 'sector')),
          h('th', { scope: 'col', class: 'num' }, tx('当前学位', 'seats now')),
          h('th', { scope: 'col' }, tx('假设学位', 'seats, what if')))),
        h('tbody', {}, seatRows)))
    : h('p', { class: 'muted' }, tx('尚无学校：请先设置区域。', 'No schools yet: set the district up first.'));

  const ta = h('textarea', { rows: '8', spellcheck: 'false', autocomplete: 'off', class: 'mono', id: 'what-if-policy' });
  ta.value = draft.policy;
  ta.addEventListener('input', () => {
    draft.policy = ta.value;
  });
  const pol = field('policy', { zh: '另一份招生政策（policy.ini 全文，可不填）', en: 'Another policy (the whole policy.ini, optional)' }, ta,
    { zh: '留空 = 政策不变。要试另一政策，贴入完整的 policy.ini（或从文件载入）；批次编号须与本区相同。这里读不到当前政策的原文，请从区域文件取。',
      en: 'Empty = the policy unchanged. To try another, paste the whole policy.ini (or load it from a file); its intake must be the district\'s. The current policy\'s text cannot be read here: take it from the district\'s files.' });
  const file = h('input', { type: 'file', accept: '.ini,text/plain', id: 'what-if-policy-file' });
  file.addEventListener('change', async () => {
    const f = file.files[0];
    if (!f) return;
    ta.value = await f.text();
    draft.policy = ta.value;
    ta.dispatchEvent(new Event('input'));
    ta.focus();
  });
  const fileField = h('div', { class: 'field' },
    h('label', { for: file.id }, tx('从文件载入政策', 'Load the policy from a file')), file);

  const out = h('div', { id: 'what-if-result', 'aria-live': 'polite' });
  const err = formError();
  const seatsErr = h('p', { class: 'error', 'data-field': 'seats', role: 'alert' });
  const go = h('button', { type: 'submit', id: 'what-if-run' }, tx('看看谁会变动', 'See who moves'));
  const reset = h('button', { type: 'button', class: 'secondary', id: 'what-if-reset' }, tx('恢复当前学位与政策', 'Back to the current seats and policy'));
  const form = h('form', { id: 'what-if-form', novalidate: true },
    h('fieldset', {}, h('legend', {}, tx('各校学位', 'Seats per school')),
      h('p', { class: 'hint' }, tx('已填当前学位；只发送改动的学校。', 'Filled with the current seats; only the schools changed are sent.')),
      seatTable, seatsErr),
    pol.wrap, fileField, err, h('div', { class: 'row' }, go, reset));

  reset.addEventListener('click', () => {
    for (const [id, input] of inputs) {
      input.value = input.dataset.current;
      input.closest('tr')?.classList.remove('changed');
      delete draft.seats[id];
    }
    ta.value = '';
    draft.policy = '';
    file.value = '';
    clearErrors(form);
    inputs.values().next().value?.focus();
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(go, async () => {
      clearErrors(form);
      // what changed, checked here first: whole numbers 0 to 100000
      const seats = {};
      for (const [id, input] of inputs) {
        const v = input.value.trim();
        if (v === input.dataset.current) continue;
        if (!/^\d+$/.test(v) || Number(v) > MAX_SEATS)
          return showError(form, { field: `seats.${id}` }, tx(`请填 0 到 ${MAX_SEATS} 的整数`, `enter a whole number 0 to ${MAX_SEATS}`));
        seats[id] = Number(v);
      }
      const sent = {};
      if (Object.keys(seats).length) sent.seats = seats;
      if (ta.value.trim()) sent.policy = ta.value;
      if (!sent.seats && !sent.policy)
        return showError(form, null, tx('没有改动：请改某校的学位，或贴入另一政策。', 'Nothing changed: change a school\'s seats or paste another policy.'));
      const r = await api('POST', '/api/intake/dry-run', { json: sent });
      if (!r.ok) {
        out.replaceChildren();
        draft.answer = null;
        return showWhatIfError(r);
      }
      draft.answer = { json: r.json, sent };
      out.replaceChildren(answerView(ctx, r.json, sent));
      out.querySelector('#what-if-moves-h')?.setAttribute('tabindex', '-1');
      out.querySelector('#what-if-moves-h')?.focus();
    });
  });

  /** An API error next to what it concerns. */
  function showWhatIfError(r) {
    const e = r.error || { message: `HTTP ${r.status}` };
    const msg = `${e.message ?? ''}${e.code ? ` (${e.code})` : ''}`;
    if (e.field === 'seats') {
      // the message names the school: "'S0009' is not a school …", "'S0002': expected …"
      const id = /'([^']+)'/.exec(e.message ?? '')?.[1];
      if (id && inputs.has(id)) return showError(form, { field: `seats.${id}` }, msg);
      return showError(form, { field: 'seats' }, msg);
    }
    if (e.field === 'policy') {
      const line = lineOf(e);
      const el = showError(form, { field: 'policy' }, `${line ? t({ zh: `第 ${line} 行：`, en: `line ${line}: ` }) : ''}${msg}`);
      el.classList.add('file-error');
      if (line) {
        el.dataset.line = String(line);
        caretToLine(ta, line);
      }
      return el;
    }
    return showError(form, null, msg);
  }

  if (draft.answer) out.replaceChildren(answerView(ctx, draft.answer.json, draft.answer.sent));

  return h('div', { class: 'card', id: 'what-if' },
    h('h3', {}, tx('假设分析：改学位或政策，看谁会变动', 'What if: change seats or the policy, see who moves')),
    h('p', { class: 'hint' }, tx('用同一个随机种子运行两次（现在的样子与改动后的样子），列出每个学校会变的儿童；不正式，不保存。',
      'Runs the allocation twice with one seed, as things are and as they would be, and lists every child whose school would change; not official, nothing stored.')),
    form, out);
}
