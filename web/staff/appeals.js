// appeals.js - the open appeals, each answered with a text the family
// reads (POST /api/appeals/{id}/answer); the moves of results day (GET
// /api/intake/moves); a seat given by hand (POST /api/intake/place).

import { api } from '/common/api.js';
import { busy, clearErrors, field, formError, h, showError, table, tx } from './ui.js';

function answerForm(a, done) {
  const ans = field('answer', { zh: '答复（家长可见）', en: 'Answer (the family reads it)' }, h('textarea', { required: true }));
  const form = h('form', { novalidate: true, class: 'answer', 'data-appeal': a.id }, ans.wrap, formError(),
    h('button', { type: 'submit' }, tx('答复', 'Answer')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form.querySelector('button'), async () => {
      clearErrors(form);
      if (!ans.control.value.trim()) return showError(form, { field: 'answer' }, tx('请填写答复', 'write the answer'));
      const r = await api('POST', `/api/appeals/${encodeURIComponent(a.id)}/answer`, { json: { answer: ans.control.value } });
      if (!r.ok) return showError(form, r.error);
      done();
    });
  });
  return form;
}

function placeForm(ctx, done) {
  const receipt = field('receipt', { zh: '回执号', en: 'Receipt' }, h('input', { autocomplete: 'off', required: true }));
  const school = field('school', { zh: '学校', en: 'School' }, h('select', { required: true },
    h('option', { value: '' }, tx('请选择', 'choose')), ctx.places.schools.map((s) => h('option', { value: s.id }, `${s.name}（${s.id}）`))));
  const note = field('note', { zh: '理由（审计留痕）', en: 'Why (kept in the audit log)' }, h('textarea', { required: true }));
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card', novalidate: true, id: 'place-form' }, h('h3', {}, tx('人工安排学位', 'Place by hand')),
    receipt.wrap, school.wrap, note.wrap, formError(), h('button', { type: 'submit' }, tx('安排', 'Place')), out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form.querySelector('button'), async () => {
      clearErrors(form);
      out.replaceChildren();
      for (const [f, v, zh, en] of [['receipt', receipt, '请填写回执号', 'enter the receipt'], ['school', school, '请选择学校', 'choose a school'],
        ['note', note, '请填写理由', 'write why']])
        if (!v.control.value.trim()) return showError(form, { field: f }, tx(zh, en));
      const r = await api('POST', '/api/intake/place', { json: { receipt: receipt.control.value.trim(), school: school.control.value, note: note.control.value } });
      if (!r.ok) return showError(form, r.error);
      out.replaceChildren(h('p', { class: 'ok' }, tx(`已安排：${ctx.schoolName(r.json.school?.id)}，${r.json.status}`, `placed: ${ctx.schoolName(r.json.school?.id)}, ${r.json.status}`)));
      done();
    });
  });
  return form;
}

export async function render(box, ctx) {
  const appeals = h('div', { id: 'appeals-list' });
  const moves = h('div', { id: 'moves-list' });
  box.append(h('h3', {}, tx('待答复的申诉', 'Open appeals')), appeals, placeForm(ctx, () => loadMoves()),
    h('h3', {}, tx('学位调整记录', 'Moves')), moves);

  async function loadAppeals() {
    const r = await api('GET', '/api/appeals?status=open');
    if (!r.ok) return appeals.replaceChildren(h('p', { class: 'error' }, r.error?.message ?? ''));
    const list = r.json.appeals;
    appeals.replaceChildren(...(list.length ? list.map((a) => h('div', { class: 'card', 'data-appeal': a.id },
      h('p', {}, h('strong', { class: 'mono' }, a.id), ` · ${a.at}`),
      h('blockquote', {}, a.text),
      answerForm(a, async () => {
        await loadAppeals();
        appeals.prepend(h('p', { class: 'ok', role: 'status' }, tx(`已答复 ${a.id}`, `answered ${a.id}`)));
      }))) : [h('p', { class: 'muted' }, tx('没有待答复的申诉', 'no open appeals'))]));
  }

  async function loadMoves() {
    const r = await api('GET', '/api/intake/moves');
    if (!r.ok) {
      moves.replaceChildren(h('p', { class: 'muted' }, r.error?.code === 'not_published' ? tx('结果尚未发布', 'nothing is published yet') : r.error?.message ?? ''));
      return;
    }
    const why = { waitlist: tx('候补递补', 'waitlist'), by_hand: tx('人工安排', 'by hand') };
    moves.replaceChildren(table([
      { zh: '时间', en: 'at', key: 'at' },
      { zh: '回执号', en: 'receipt', cell: (m) => h('span', { class: 'mono nowrap' }, m.receipt) },
      { zh: '从', en: 'from', cell: (m) => (m.from ? ctx.schoolName(m.from) : '—') },
      { zh: '到', en: 'to', cell: (m) => ctx.schoolName(m.to) },
      { zh: '原因', en: 'why', cell: (m) => why[m.why] ?? m.why },
    ], r.json.moves, { empty: { zh: '没有调整', en: 'no moves' } }));
  }

  await Promise.all([loadAppeals(), loadMoves()]);
}
