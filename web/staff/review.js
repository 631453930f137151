// review.js - the manual review queue (GET /api/review, ?code= ?school=),
// the evidence side by side (the family's claims next to the records'
// rows, GET /api/applications/{receipt}/evidence) and the decision with a
// note (POST .../review).  A school account sees its own school's queue,
// read-only: the evidence and the decision are the bureau's.

import { api } from '/common/api.js';
import { t } from '/common/i18n.js';
import { busy, clearErrors, field, formError, h, showError, table, tx } from './ui.js';

const CODES = ['hukou_not_found', 'property_not_found', 'owner_not_guardian', 'permit_expired', 'permit_not_found',
  'insurance_not_found', 'residence_mismatch', 'unchecked'];

const yes = (v) => (v === true ? tx('是', 'yes') : v === false ? tx('否', 'no') : v ?? '—');

function findingsOf(app) {
  return (app.application?.check?.findings || []).filter((f) => f.outcome !== 'ok');
}

function dl(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

/** One records row, or what its absence means. */
function rec(row, table) {
  if (!table?.imported) return tx('未导入', 'not imported');
  if (!row || !row.found) return h('span', { class: 'warn' }, tx('无记录', 'not found'));
  const bits = [];
  if (row.line) bits.push(tx(`第 ${row.line} 行`, `line ${row.line}`));
  for (const k of ['unit', 'since', 'household', 'valid_until', 'months'])
    if (row[k] !== undefined) bits.push(`${k}=${row[k]}`);
  if (row.valid === false) bits.push(tx('已过期', 'expired'));
  if (row.same_household !== undefined) bits.push(row.same_household ? tx('同户', 'same household') : tx('不同户', 'other household'));
  return bits.join(' · ');
}

function evidenceView(ev, app) {
  const c = ev.claims || {};
  const r = ev.records;
  const findings = h('ul', {}, (ev.check?.findings || []).map((f) =>
    h('li', { class: f.outcome === 'ok' ? 'ok' : 'warn' }, `${f.code}: ${t({ zh: f.text_zh, en: f.text_en })}`)));
  const claims = h('div', { class: 'card soft' }, h('h4', {}, tx('家长申报', 'What the family claims')),
    dl([
      [tx('居住地址单元', 'residence unit'), c.residence_unit],
      [tx('户籍在本区', 'hukou here'), yes(c.hukou)],
      [tx('不动产权证号', 'property certificate'), c.property_certificate],
      [tx('居住证（监护人）', 'permit (guardian)'), c.permit],
      [tx('社保（监护人）', 'insurance (guardian)'), c.insurance],
      [tx('兄弟姐妹', 'sibling'), c.sibling],
      [tx('特殊需要', 'special needs'), c.special_needs],
      [tx('政策照顾', 'priority group'), c.priority_group],
      [tx('监护人', 'guardians'), (app?.application?.guardians || []).join('、') || undefined],
    ]), h('h4', {}, tx('核验结果', 'Findings')), findings);
  const records = h('div', { class: 'card soft' }, h('h4', {}, tx('权威数据', 'What the records hold')),
    r ? dl([
      [tx('户籍：儿童', 'hukou: child'), rec(r.hukou?.child, r.hukou)],
      [tx('户籍：监护人1', 'hukou: guardian 1'), rec(r.hukou?.guardians?.[0], r.hukou)],
      [tx('户籍：监护人2', 'hukou: guardian 2'), rec(r.hukou?.guardians?.[1], r.hukou)],
      [tx('房产', 'property'), !r.property?.claimed ? tx('未申报', 'not claimed') : rec(r.property, r.property)],
      [tx('产权人', 'owners'), (r.property?.owners || []).map((o) => `${o.id_number} (${o.role}, ${tx('第', 'line ')}${o.line}${tx(' 行', '')})`).join('；') || undefined],
      [tx('居住证：监护人1', 'permit: guardian 1'), rec(r.permits?.guardians?.[0], r.permits)],
      [tx('居住证：监护人2', 'permit: guardian 2'), rec(r.permits?.guardians?.[1], r.permits)],
      [tx('社保：监护人1', 'insurance: guardian 1'), rec(r.insurance?.guardians?.[0], r.insurance)],
      [tx('社保：监护人2', 'insurance: guardian 2'), rec(r.insurance?.guardians?.[1], r.insurance)],
    ]) : h('p', { class: 'warn' }, ev.problem ?? tx('没有监护人身份证号，无法比对', 'no guardian number to compare with')));
  return h('div', { class: 'side' }, claims, records);
}

function decisionForm(receipt, done) {
  const radios = h('div', { class: 'radio', role: 'radiogroup', 'aria-labelledby': `dec-${receipt}` },
    h('label', {}, h('input', { type: 'radio', name: `decision-${receipt}`, value: 'verified' }), tx('核验属实', 'verified')),
    h('label', {}, h('input', { type: 'radio', name: `decision-${receipt}`, value: 'not_verified' }), tx('不予认定', 'not verified')));
  const decErr = h('p', { class: 'error', 'data-field': 'decision', role: 'alert' });
  const note = field('note', { zh: '备注（家长可见）', en: 'Note (the family sees it)' }, h('textarea', { required: true }));
  const err = formError();
  const form = h('form', { class: 'card decide', novalidate: true },
    h('fieldset', {}, h('legend', { id: `dec-${receipt}` }, tx('决定', 'Decision')), radios, decErr),
    note.wrap, err, h('button', { type: 'submit' }, tx('提交决定', 'Decide')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(form.querySelector('button[type=submit]'), async () => {
      clearErrors(form);
      const d = form.querySelector('input[type=radio]:checked');
      if (!d) return showError(form, { field: 'decision' }, tx('请选择决定', 'choose a decision'));
      if (!note.control.value.trim()) return showError(form, { field: 'note' }, tx('请填写备注', 'write a note'));
      const r = await api('POST', `/api/applications/${encodeURIComponent(receipt)}/review`,
        { json: { decision: d.value, note: note.control.value } });
      if (!r.ok) return showError(form, r.error);
      done(r.json);
    });
  });
  return form;
}

export async function render(box, ctx) {
  const school = ctx.account.role === 'school' ? ctx.account.school : null;
  const code = field('code', { zh: '核验问题', en: 'Finding' }, h('select', {},
    h('option', { value: '' }, tx('全部', 'all')), CODES.map((c) => h('option', { value: c }, c))));
  const schoolSel = field('school', { zh: '学校', en: 'School' }, school
    ? h('select', { disabled: true }, h('option', { value: school }, ctx.schoolName(school)))
    : h('select', {}, h('option', { value: '' }, tx('全部', 'all')),
      ctx.places.schools.map((s) => h('option', { value: s.id }, `${s.name}（${s.id}）`))));
  const err = formError();
  const filters = h('form', { class: 'card row', id: 'review-filters', role: 'search' },
    code.wrap, schoolSel.wrap, h('button', { type: 'submit' }, tx('筛选', 'Filter')), err);
  const list = h('div', { id: 'review-list' });
  const detail = h('div', { id: 'review-detail', 'aria-live': 'polite' });
  if (school)
    box.append(h('p', { class: 'hint' }, tx('学校账号只能查看本校的待审核申请；核验与决定由教育局进行。',
      'A school account sees its own school\'s queue only; the bureau checks and decides.')));
  box.append(filters, list, detail);

  async function load() {
    clearErrors(filters);
    const q = new URLSearchParams();
    if (code.control.value) q.set('code', code.control.value);
    if (!school && schoolSel.control.value) q.set('school', schoolSel.control.value);
    const r = await api('GET', `/api/review${q.toString() ? `?${q}` : ''}`);
    if (!r.ok) return showError(filters, r.error);
    const apps = r.json.applications;
    list.replaceChildren(
      h('p', { class: 'muted' }, tx(`${apps.length} 份待审核`, `${apps.length} waiting`)),
      table([
        { zh: '回执号', en: 'receipt', cell: (a) => h('span', { class: 'mono nowrap' }, a.receipt) },
        { zh: '身份证号', en: 'ID number', key: 'id_number' },
        { zh: '提交时间', en: 'submitted', key: 'submitted_at' },
        { zh: '问题', en: 'findings', cell: (a) => findingsOf(a).map((f) => f.code).join('、') },
        ...(ctx.bureau ? [{ zh: '操作', en: 'action', cell: (a) => h('button', { type: 'button', class: 'secondary open-evidence',
          'data-receipt': a.receipt, onclick: () => open(a) }, tx('查看证据', 'Evidence')) }] : []),
      ], apps, { empty: { zh: '没有待审核的申请', en: 'nothing waits for review' } }));
  }

  async function open(app) {
    detail.replaceChildren(h('p', { class: 'muted' }, tx('加载中…', 'Loading…')));
    const r = await api('GET', `/api/applications/${encodeURIComponent(app.receipt)}/evidence`);
    if (!r.ok) return detail.replaceChildren(h('p', { class: 'error' }, r.error?.message ?? ''));
    const title = h('h3', { tabindex: '-1' }, tx(`证据：${app.receipt}`, `Evidence: ${app.receipt}`));
    detail.replaceChildren(title, evidenceView(r.json, app), decisionForm(app.receipt, async (res) => {
      // the queue first, then the message: once it shows, the list is current
      await load();
      detail.replaceChildren(h('p', { class: 'ok', tabindex: '-1' },
        tx(`已决定：${app.receipt} ${res.application?.review?.decision ?? ''}`, `decided: ${app.receipt} ${res.application?.review?.decision ?? ''}`)));
      detail.firstChild.focus();
    }));
    title.focus();
  }

  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  await load();
}
