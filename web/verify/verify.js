// verify.js - check an admission notice with POST /api/notice/verify (no
// sign-in).  The page may be opened as /verify/#TEXT (the notice page's
// link): the fragment never reaches the server's logs.

import { api } from '/common/api.js';
import { applyI18n, t } from '/common/i18n.js';

const $ = (id) => document.getElementById(id);
let last = null; // the last answer, to render again in the other language

const VERDICTS = {
  valid: { zh: '✔ 有效：教育局签发，内容未被改动', en: '✔ Valid: issued by the bureau, unchanged', cls: 'ok' },
  superseded: { zh: '⚠ 签名有效，但已被后来的通知书取代', en: '⚠ Validly signed, but superseded by a later notice', cls: 'warn' },
  altered: { zh: '✘ 已被篡改：内容与教育局签发的不一致', en: '✘ Altered: it is not what the bureau signed', cls: 'bad' },
  forged: { zh: '✘ 伪造：教育局没有签发过这份通知书', en: '✘ Forged: the bureau issued no such notice', cls: 'bad' },
  wrong_key: { zh: '✘ 伪造：不是本教育局的签名', en: '✘ Forged: not signed with this bureau\'s key', cls: 'bad' },
  malformed: { zh: '✘ 不是完整的录取通知书', en: '✘ Not a complete admission notice', cls: 'bad' },
};
const LABELS = {
  intake: { zh: '招生批次', en: 'intake' }, receipt: { zh: '申请编号', en: 'receipt' },
  pseudonym: { zh: '化名编号', en: 'pseudonym' }, school: { zh: '学校编号', en: 'school id' },
  school_name: { zh: '学校名称', en: 'school name' }, round: { zh: '录取阶段', en: 'round' },
  status: { zh: '状态', en: 'status' }, issued: { zh: '签发日期', en: 'issued' },
  result: { zh: '结果摘要', en: 'result digest' }, key: { zh: '密钥', en: 'key' },
};
const FIELDS = [
  ['receipt', { zh: '申请编号', en: 'Receipt' }],
  ['pseudonym', { zh: '化名编号', en: 'Pseudonym' }],
  ['school_name', { zh: '学校', en: 'School' }],
  ['school', { zh: '学校编号', en: 'School id' }],
  ['intake', { zh: '招生批次', en: 'Intake' }],
  ['round', { zh: '录取阶段', en: 'Round' }],
  ['issued', { zh: '签发日期', en: 'Issued' }],
  ['result', { zh: '结果摘要', en: 'Result digest' }],
];

function render() {
  if (!last) return;
  const j = last;
  const key = j.verdict === 'valid' && j.current === false ? 'superseded' : j.verdict;
  const v = VERDICTS[key] || VERDICTS.malformed;
  const box = $('result');
  box.hidden = false;
  box.className = `card ${v.cls}`;
  box.dataset.verdict = key;
  $('verdict').textContent = t(v);
  // the server's sentence is English; the Chinese one is said here from the verdict
  const names = (j.altered_fields || []).map((f) => t(LABELS[f] || { zh: f, en: f }));
  const zh = {
    valid: '签名与内容一致。',
    superseded: '签名有效，但孩子的学位在签发后已变更，以最新的通知书为准。',
    altered: names.length ? `被改动的项目：${names.join('、')}。` : '签名与内容不一致：内容在签发后被改动，或签名是伪造的。',
    forged: '教育局没有为这名学生签发过这份通知书。',
    wrong_key: '签名所用的密钥不是本教育局的公钥。',
    malformed: `第 ${j.line ?? '?'} 行${j.field ? `（${j.field}）` : ''}有误：${j.message || ''}`,
  }[key];
  let msg = t({ zh, en: j.message || '' });
  if (key === 'malformed' && j.line) msg = t({ zh, en: `line ${j.line}${j.field ? ', ' + j.field : ''}: ${j.message}` });
  $('message').textContent = msg;
  const dl = $('claims');
  dl.replaceChildren();
  if (j.notice) {
    if (key !== 'valid') {
      const dt = document.createElement('dt');
      dt.textContent = t({ zh: '通知书上写的（不可信）', en: 'What it claims (not to be trusted)' });
      dt.style.gridColumn = '1 / -1';
      dl.append(dt);
    }
    for (const [f, label] of FIELDS) {
      const dt = document.createElement('dt');
      dt.textContent = t(label);
      const dd = document.createElement('dd');
      dd.textContent = j.notice[f];
      if (j.altered_fields?.includes(f)) dd.className = 'error';
      dl.append(dt, dd);
    }
  }
}

async function check(text) {
  $('text-error').textContent = '';
  if (!text.trim()) {
    $('text-error').textContent = t({ zh: '请粘贴或输入通知书文字。', en: 'Paste or type the notice\'s text.' });
    $('text').focus();
    return;
  }
  $('go').disabled = true;
  const r = await api('POST', '/api/notice/verify', { json: { text } });
  $('go').disabled = false;
  if (!r.ok) {
    last = null;
    $('result').hidden = true;
    $('text-error').textContent = r.error?.code === 'not_published'
      ? t({ zh: '结果尚未公布，还没有可核验的通知书。', en: 'Nothing is published yet: there is no notice to check.' })
      : t({ zh: `无法核验：${r.error?.message || r.status}`, en: `Cannot check: ${r.error?.message || r.status}` });
    return;
  }
  last = r.json;
  render();
  $('result').focus();
}

$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  check($('text').value);
});

applyI18n(document, render);
if (location.hash.length > 1) {
  try {
    $('text').value = decodeURIComponent(location.hash.slice(1));
    check($('text').value);
  } catch {
    /* a mangled link: the family pastes the text instead */
  }
}
