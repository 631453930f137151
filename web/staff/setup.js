// setup.js - district setup: the district's four files and the records,
// each checked first (PUT ...?check=1: nothing stored) with the line and
// column of an error shown next to the file, and applied only after a
// preview that passed; the application window.

import { api } from '/common/api.js';
import { busy, clearErrors, cstIso, cstLocal, field, formError, h, showError, table, tx } from './ui.js';

const DISTRICT_FILES = [
  { name: 'policy.ini', zh: '招生政策', en: 'policy' },
  { name: 'schools.csv', zh: '学校与学位', en: 'schools and seats' },
  { name: 'catchments.csv', zh: '学区划片', en: 'catchments' },
  { name: 'address_units.csv', zh: '地址单元', en: 'address units' },
];
const RECORD_FILES = [
  { name: 'hukou.csv', zh: '户籍（公安）', en: 'hukou (public security)' },
  { name: 'property.csv', zh: '房产（住建）', en: 'property (housing)' },
  { name: 'permits.csv', zh: '居住证', en: 'residence permits' },
  { name: 'insurance.csv', zh: '社保（人社）', en: 'social insurance' },
];

/** One upload: pick the file, preview (check=1), then apply what passed. */
function uploader(base, f, onApplied) {
  const input = h('input', { type: 'file', accept: f.name.endsWith('.ini') ? '.ini,text/plain' : '.csv,text/csv' });
  const fl = field(f.name, { zh: `${f.name}（${f.zh}）`, en: `${f.name} (${f.en})` }, input,
    { zh: '先检查，无误后再应用', en: 'check first, then apply' });
  const result = h('div', { class: 'result', 'aria-live': 'polite' });
  const check = h('button', { type: 'button', class: 'secondary' }, tx('检查（预览）', 'Check (preview)'));
  const apply = h('button', { type: 'button', disabled: true }, tx('应用', 'Apply'));
  const box = h('div', { class: 'card upload', 'data-file': f.name }, fl.wrap, h('div', { class: 'row' }, check, apply), result);
  let checked = null; // the bytes that passed the preview

  input.addEventListener('change', () => {
    checked = null;
    apply.disabled = true;
    result.replaceChildren();
    clearErrors(box);
  });

  check.addEventListener('click', () => busy(check, async () => {
    clearErrors(box);
    result.replaceChildren();
    checked = null;
    apply.disabled = true;
    const file = input.files[0];
    if (!file) return showError(box, { field: f.name }, tx('请先选择文件', 'choose a file first'));
    const bytes = await file.arrayBuffer();
    const r = await api('PUT', `${base}/${f.name}?check=1`, { body: bytes });
    if (!r.ok) return showFileError(box, f.name, r);
    checked = bytes;
    apply.disabled = false;
    result.replaceChildren(h('p', { class: 'ok' },
      tx(`检查通过：${summary(r.json)}。尚未应用。`, `check passed: ${summary(r.json)}. Not applied yet.`)));
  }));

  apply.addEventListener('click', () => busy(apply, async () => {
    if (!checked) return;
    clearErrors(box);
    const r = await api('PUT', `${base}/${f.name}`, { body: checked });
    if (!r.ok) return showFileError(box, f.name, r);
    checked = null;
    apply.disabled = true;
    result.replaceChildren(h('p', { class: 'ok' }, tx(`已应用：${summary(r.json)}`, `applied: ${summary(r.json)}`)));
    onApplied?.();
  }));
  return box;
}

function summary(j) {
  if (!j) return '';
  if (j.district) {
    const d = j.district;
    return tx(`${d.schools} 所学校，${d.catchments} 个学区，${d.units} 个地址单元`,
      `${d.schools} schools, ${d.catchments} catchments, ${d.units} units`);
  }
  if (typeof j.rows === 'number') return tx(`${j.rows} 行`, `${j.rows} rows`);
  return j.file ?? '';
}

/** A refused file: its line and column next to the file, as the API gives them. */
function showFileError(box, name, r) {
  const e = r.error || { message: `HTTP ${r.status}` };
  const where = e.line ? tx(`第 ${e.line} 行${e.column ? `，列 ${e.column}` : ''}：`, `line ${e.line}${e.column ? `, column ${e.column}` : ''}: `) : '';
  const el = showError(box, { ...e, field: name }, `${where}${e.message} (${e.code})`);
  el.classList.add('file-error');
  if (e.line) el.dataset.line = String(e.line);
  return el;
}

async function districtState(list) {
  const r = await api('GET', '/api/district');
  if (!r.ok) {
    list.replaceChildren(h('p', { class: 'error' }, r.error?.message ?? ''));
    return;
  }
  const files = r.json.files || {};
  list.replaceChildren(
    r.json.district ? h('p', {}, summary(r.json)) : h('p', { class: 'muted' }, tx('尚未设置区域', 'no district yet')),
    table([
      { zh: '文件', en: 'file', key: 'name' },
      { zh: '上传者', en: 'by', cell: (x) => x.updated_by ?? '' },
      { zh: '时间', en: 'at', cell: (x) => x.updated_at ?? '' },
      { zh: 'SHA-256', en: 'SHA-256', cell: (x) => h('span', { class: 'mono' }, (x.sha256 ?? '').slice(0, 16) + '…') },
    ], Object.entries(files).map(([name, v]) => ({ name, ...v })), { empty: { zh: '没有文件', en: 'no files' } }));
}

function windowForm() {
  const opens = field('opens', { zh: '开始（北京时间）', en: 'opens (China time)' }, h('input', { type: 'datetime-local', step: '1', required: true }));
  const closes = field('closes', { zh: '截止（北京时间）', en: 'closes (China time)' }, h('input', { type: 'datetime-local', step: '1', required: true }));
  const state = h('p', { class: 'muted', id: 'window-state' });
  const err = formError();
  const form = h('form', { class: 'card', id: 'window-form', novalidate: true },
    h('h3', {}, tx('报名时间', 'Application window')), state, opens.wrap, closes.wrap, err,
    h('button', { type: 'submit' }, tx('保存报名时间', 'Save the window')));
  const show = (j) => {
    state.textContent = j && j.opens
      ? tx(`当前：${j.opens} 至 ${j.closes}，${j.open ? '开放中' : '未开放'}`, `now: ${j.opens} to ${j.closes}, ${j.open ? 'open' : 'closed'}`)
      : tx('尚未设置', 'not set');
    if (j && j.opens) {
      opens.control.value = cstLocal(j.opens);
      closes.control.value = cstLocal(j.closes);
    }
  };
  api('GET', '/api/window').then((r) => show(r.json));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!opens.control.value) return showError(form, { field: 'opens' }, tx('请填写开始时间', 'enter when it opens'));
    if (!closes.control.value) return showError(form, { field: 'closes' }, tx('请填写截止时间', 'enter when it closes'));
    const r = await api('PUT', '/api/window', { json: { opens: cstIso(opens.control.value), closes: cstIso(closes.control.value) } });
    if (!r.ok) return showError(form, r.error);
    show(r.json);
  });
  return form;
}

export async function render(box, ctx) {
  const state = h('div', { id: 'district-state' });
  const refresh = () => {
    ctx.places = null;
    districtState(state);
  };
  box.append(
    h('p', { class: 'hint' }, tx('每个文件先“检查”：检查只预览，不会保存；有错误时显示行号，什么也不会应用。',
      'Check each file first: a check previews and stores nothing; an error shows its line and nothing is applied.')),
    state,
    h('h3', {}, tx('区域文件', 'District files')),
    ...DISTRICT_FILES.map((f) => uploader('/api/district', f, refresh)),
    h('h3', {}, tx('权威数据（各部门导入）', 'Records (from other bureaus)')),
    ...RECORD_FILES.map((f) => uploader('/api/records', f, null)),
    windowForm());
  await districtState(state);
}
