// notice.js - the admission notice page: /notice/?receipt=R.
//
// Reads GET /api/applications/R/notice (the signed notice, its text and its
// QR code as SVG, made by the server) and GET /api/applications/R (the
// child's name, when the family gave one: it is shown, never signed into
// the notice).  Printing gives one A4 page (notice.css).

import { api, me } from '/common/api.js';
import { applyI18n, t } from '/common/i18n.js';

const $ = (id) => document.getElementById(id);
const ROUNDS = {
  private: { zh: '民办学校招生', en: 'private school round' },
  catchment: { zh: '划片入学', en: 'catchment' },
  overflow: { zh: '统筹安排', en: 'placement by the bureau (overflow)' },
  rolling: { zh: '随到随办', en: 'rolling admission' },
  manual: { zh: '教育局安排', en: 'placed by the bureau' },
};

let state = null; // {notice, text, svg, child}
let status = { zh: '正在读取…', en: 'Loading…' };

function setStatus(pair, cls = '') {
  status = pair;
  const el = $('status');
  el.className = cls;
  el.hidden = !pair;
  if (pair) el.textContent = t(pair);
}

function render() {
  if (status) setStatus(status, $('status').className);
  if (!state) return;
  const n = state.notice;
  $('issuer').textContent = t({ zh: `${n.intake} 义务教育入学`, en: `Compulsory education intake ${n.intake}` });
  const who = state.child ? t({ zh: `${state.child} 同学：`, en: `Dear ${state.child},` }) : t({ zh: '同学：', en: 'Dear student,' });
  $('greeting').textContent = who;
  $('body').textContent = t({
    zh: `经审核，你已被 ${n.school_name} 录取，请按学校通知按时报到。`,
    en: `You have been admitted to ${n.school_name}. Please register at the school when it tells you to.`,
  });
  $('f-school').textContent = `${n.school_name}（${n.school}）`;
  $('f-intake').textContent = n.intake;
  $('f-round').textContent = t(ROUNDS[n.round] || { zh: n.round, en: n.round });
  $('f-receipt').textContent = n.receipt;
  $('f-pseudonym').textContent = n.pseudonym;
  $('f-issued').textContent = n.issued;
  $('result-line').textContent = t({
    zh: `公布结果摘要 ${n.result} · 签名公钥 ${n.key}…`,
    en: `Published result digest ${n.result} · signing key ${n.key}…`,
  });
}

async function load() {
  const receipt = new URLSearchParams(location.search).get('receipt');
  if (!receipt) {
    setStatus({ zh: '缺少申请编号：请从“我的申请”打开通知书。', en: 'No receipt number: open the notice from your applications.' }, 'error');
    return;
  }
  const who = await me();
  if (!who) {
    setStatus({ zh: '请先登录后查看录取通知书。', en: 'Sign in to see the admission notice.' }, 'error');
    $('actions').hidden = false;
    for (const id of ['print', 'copy', 'check']) $(id).hidden = true;
    return;
  }
  const path = `/api/applications/${encodeURIComponent(receipt)}`;
  const [r, app] = await Promise.all([api('GET', `${path}/notice`), api('GET', path)]);
  if (!r.ok) {
    const code = r.error?.code;
    const msgs = {
      not_accepted: { zh: '学位确认后才会签发录取通知书。请先在“我的申请”中确认学位。', en: 'The notice is issued once the seat is accepted: accept it in your applications first.' },
      not_published: { zh: '录取结果尚未公布。', en: 'The result is not published yet.' },
      no_offer: { zh: '这份申请没有学位。', en: 'This application has no seat.' },
      not_found: { zh: '找不到这份申请。', en: 'No such application.' },
    };
    setStatus(msgs[code] || { zh: `无法读取通知书：${r.error?.message || r.status}`, en: `Cannot read the notice: ${r.error?.message || r.status}` }, 'error');
    $('actions').hidden = false;
    for (const id of ['print', 'copy', 'check']) $(id).hidden = true;
    return;
  }
  state = {
    notice: r.json.notice,
    text: r.json.text,
    svg: r.json.qr_svg,
    child: app.ok ? app.json.application?.child_name || '' : '',
  };
  // the SVG is the server's own drawing of the QR matrix (no text from families in it)
  $('qr').innerHTML = state.svg;
  $('text').textContent = state.text;
  $('check').href = '/verify/#' + encodeURIComponent(state.text);
  $('notice').hidden = false;
  $('actions').hidden = false;
  status = null;
  $('status').hidden = true;
  render();
}

$('print').addEventListener('click', () => window.print());
$('copy').addEventListener('click', async () => {
  let ok = false;
  try {
    await navigator.clipboard.writeText(state.text);
    ok = true;
  } catch {
    // no clipboard (an older browser): select the text for the family to copy
    const range = document.createRange();
    range.selectNodeContents($('text'));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
  }
  $('copied').textContent = t(ok ? { zh: '已复制。', en: 'Copied.' } : { zh: '已选中文字，请手动复制。', en: 'The text is selected: copy it.' });
});

applyI18n(document, render);
load();
