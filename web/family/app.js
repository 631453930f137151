// app.js - the family portal (issue #6, item 1): sign in with a phone and a
// one-time code, the family's children, a new application built from the
// district's form, the check of its claims, the status, the result with its
// explanation, the lottery number checked in the page, accept/decline and
// appeals.  One page, views by the hash:
//
//   #/                 my children (or the sign-in when nobody is signed in)
//   #/new              a new application
//   #/app/RECEIPT      one application: the check of its claims and its status
//   #/result/RECEIPT   the result
//
// Texts are Chinese and English pairs: <span data-zh data-en> filled by
// /common/i18n.js, so the switch re-labels the page without losing input.

import { api, me, setCsrf } from '/common/api.js';
import { applyI18n, t } from '/common/i18n.js';
import { birthDate, idProblem, normalise } from '/family/idnumber.js';
import { lotteryNumber } from '/family/lottery.js';

const main = document.getElementById('main');
const signout = document.getElementById('signout');

// ------------------------------------------------------------ helpers

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
/** A text in both languages, shown in the current one. */
const L = (zh, en = zh) => `<span data-zh="${esc(zh)}" data-en="${esc(en)}">${esc(t({ zh, en }))}</span>`;
const P = (pair) => L(pair.zh, pair.en);

/** ISO time -> "2027-05-01 08:00" in Beijing time (the district's clock). */
function when(iso) {
  if (!iso) return '';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return String(iso);
  return new Date(ms + 8 * 3600e3).toISOString().slice(0, 16).replace('T', ' ');
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

// Each navigation is a generation: a view still loading when another one
// starts must not draw over it.
let gen = 0;
class Stale extends Error {}

function render(html, tok) {
  if (tok !== undefined && tok !== gen) throw new Stale('stale view');
  main.innerHTML = html;
  applyI18n(document);
  const h = main.querySelector('h2');
  if (h) {
    h.tabIndex = -1;
    h.focus({ preventScroll: false });
  }
}

const renderT = (tok, html) => render(html, tok);

/** Put a bilingual text into an element (kept when the language switches). */
function say(el, pair) {
  if (!el) return;
  if (!pair) {
    el.textContent = '';
    delete el.dataset.zh;
    delete el.dataset.en;
    return;
  }
  el.dataset.zh = pair.zh;
  el.dataset.en = pair.en ?? pair.zh;
  el.textContent = t(pair);
}

// What the API's error codes mean for a family; anything else shows its message.
const ERRORS = {
  network: { zh: '连接不上服务器，请检查网络后重试', en: 'cannot reach the server; check the connection and try again' },
  unavailable: { zh: '系统繁忙，请稍后再提交一次（不会重复提交）', en: 'the system is busy; send it again in a moment (it will not be sent twice)' },
  rate_limited: { zh: '操作太频繁，请一分钟后再试', en: 'too many tries; try again in a minute' },
  bad_phone: { zh: '请输入 11 位中国大陆手机号（以 13-19 开头）', en: 'enter an 11-digit mainland mobile number (starting 13-19)' },
  bad_code: { zh: '验证码不对，请再核对一下（输错 5 次后验证码作废）', en: 'the code is wrong; check it again (after 5 wrong tries it stops working)' },
  code_format: { zh: '请输入短信中的 6 位数字', en: 'enter the 6 digits of the text message' },
  code_expired: { zh: '验证码已过期或已使用，请重新获取', en: 'the code has expired or was used; ask for a new one' },
  code_dead: { zh: '验证码已输错 5 次，已作废，请重新获取', en: 'the code was wrong 5 times and no longer works; ask for a new one' },
  too_many_codes: {
    zh: '这个号码获取验证码的次数已达上限（每小时 5 次、每天 10 次），请稍后再试',
    en: 'this number has had as many codes as allowed (5 an hour, 10 a day); try again later',
  },
  not_signed_in: { zh: '登录已过期，请重新登录', en: 'your session has ended; sign in again' },
  duplicate_child: { zh: '这个孩子已经有一份有效的申请', en: 'this child already has a live application' },
  window_closed: { zh: '现在不在申请时间内', en: 'the application window is closed' },
  unit_not_chosen: { zh: '请从找到的地址中选择一个（或清空此项）', en: 'choose one of the addresses found (or empty the field)' },
  unit_search: { zh: '暂时无法查找地址，请稍后再试', en: 'the addresses cannot be searched just now; try again in a moment' },
  unknown_unit: { zh: '本区没有这个地址编号，请对照划片范围表', en: 'the district has no address unit with this id; see the catchment list' },
  unknown_school: { zh: '本区没有这所学校（民办志愿须是本区民办学校）', en: 'no such school in the district (private choices must be private schools of the district)' },
  too_many_choices: { zh: '民办志愿超过了政策允许的数量', en: 'more private choices than the policy allows' },
  repeated_school: { zh: '同一所学校填了两次', en: 'the same school is listed twice' },
  missing_guardian: { zh: '选了监护人 2，但没有填写监护人 2 的身份证号', en: 'guardian 2 is chosen but guardian 2’s ID number is missing' },
  unknown_group: { zh: '政策中没有这个照顾类别', en: 'the policy has no such priority group' },
  not_used_by_policy: { zh: '本区政策不使用这一项，请不要填写', en: 'the district’s policy does not use this; leave it empty' },
  bad_certificate: { zh: '不动产权证书号格式不对', en: 'the property certificate number is not well formed' },
  bad_text: { zh: '请填写 1 到 2000 字节的文字', en: 'write 1 to 2,000 bytes of text' },
  too_many_appeals: { zh: '已有 3 份申诉在等待答复', en: '3 appeals are waiting for an answer already' },
  not_published: { zh: '结果尚未公布', en: 'the result is not published yet' },
  no_seat: { zh: '没有可以接受的学位', en: 'there is no seat to accept' },
  no_offer: { zh: '这份申请没有学位可以答复', en: 'this application has no seat to answer' },
  deadline_passed: { zh: '确认学位的截止时间已过', en: 'the deadline to accept this seat has passed' },
  withdrawn: { zh: '申请已撤回', en: 'the application is withdrawn' },
};

function errorPair(e) {
  if (!e) return { zh: '出错了', en: 'something went wrong' };
  const p = ERRORS[e.code];
  if (p) return p;
  return { zh: `出错了：${e.message || e.code}`, en: e.message || e.code };
}

/** Show an API error next to its field (data-err="field"), or in the form's general slot. */
function showError(root, e, fallbackField = '_') {
  const field = e && e.field ? e.field : fallbackField;
  const base = String(field).replace(/\[.*$/, '');
  const slot = root.querySelector(`[data-err="${CSS.escape(field)}"]`) ||
    root.querySelector(`[data-err="${CSS.escape(base)}"]`) || root.querySelector('[data-err="_"]');
  say(slot, errorPair(e));
  const input = slot && slot.dataset.input ? root.querySelector('#' + slot.dataset.input) : null;
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  } else if (slot) {
    slot.scrollIntoView({ block: 'center' });
  }
}

function clearErrors(root) {
  for (const el of root.querySelectorAll('[data-err]')) say(el, null);
  for (const el of root.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** An input's error slot: <p class="error" id="ID-err" data-err="FIELD" data-input="ID" aria-live="polite">. */
const errSlot = (id, field) => `<p class="error" id="${id}-err" data-err="${esc(field)}" data-input="${id}" aria-live="polite"></p>`;

async function must(method, path, opts) {
  const r = await api(method, path, opts);
  if (r.status === 401) {
    who = null;
    location.hash = '#/';
    await route();
    throw new Error('signed out');
  }
  return r;
}

const STATUS = {
  draft: { zh: '草稿（未提交）', en: 'draft (not submitted)' },
  submitted: { zh: '已提交', en: 'submitted' },
  withdrawn: { zh: '已撤回', en: 'withdrawn' },
};
const ROUND = {
  private: { zh: '民办学校录取', en: 'private school round' },
  catchment: { zh: '片区学校录取', en: 'catchment round' },
  overflow: { zh: '统筹安排', en: 'placed nearby (overflow)' },
  rolling: { zh: '随到随办', en: 'rolling admission' },
  manual: { zh: '人工安排', en: 'placed by the bureau' },
  '': { zh: '未安排', en: 'not placed' },
};
const OUTCOME = {
  admitted: { zh: '录取', en: 'admitted', tag: 'ok' },
  below_cutoff: { zh: '未达录取线', en: 'below the cutoff', tag: 'bad' },
  not_reached: { zh: '未轮到（已有更靠前的学位）', en: 'not reached (a higher seat was won)', tag: '' },
  not_eligible: { zh: '不符合该校条件', en: 'not eligible there', tag: 'warn' },
};
const OFFER = {
  offered: { zh: '待确认', en: 'offered: to accept', tag: 'warn' },
  accepted: { zh: '已接受', en: 'accepted', tag: 'ok' },
  declined: { zh: '已放弃', en: 'declined', tag: 'bad' },
  expired: { zh: '已过期（未在截止前确认）', en: 'expired (not accepted in time)', tag: 'bad' },
  none: { zh: '暂无学位', en: 'no seat yet', tag: 'bad' },
};

// The claims the form may ask (only those GET /api/form lists are shown):
// what to give, in plain words, and which records it is checked against.
const CLAIMS = {
  residence_unit: {
    help: { zh: '输入孩子实际居住的小区名或门牌的几个字（或地址编号，如 U000123），再从找到的地址中选择一个。',
      en: 'type a few characters of the name of the residential compound or street number where the child lives (or its id, e.g. U000123), then choose it from the addresses found.' },
    source: { zh: '核对：与已核实的户籍、房产或居住证地址比对', en: 'checked against: the address of the verified hukou, property or residence permit' },
  },
  hukou: {
    box: { zh: '孩子的户口登记在本区', en: 'the child’s hukou (household registration) is in this district' },
    help: { zh: '不需要上传户口本，平台按孩子的身份证号查找。', en: 'no need to upload the household register: the platform looks the child up by ID number.' },
    source: { zh: '核对：公安部门的户籍登记记录', en: 'checked against: public security household registration records' },
  },
  property_certificate: {
    help: { zh: '监护人或孩子名下住房的不动产权证书号，按证书原样填写，如 川(2020)成都市不动产权第0012345号。租房请留空。',
      en: 'the certificate number (不动产权证书号) of a home a guardian or the child owns, as printed. Leave empty for a rented home.' },
    source: { zh: '核对：住建/不动产登记部门的房产记录（所有人须是监护人或孩子）', en: 'checked against: the housing bureau’s property records (an owner must be a guardian or the child)' },
  },
  permit: {
    choices: 'guardian',
    help: { zh: '如果监护人持有本区的居住证，选择是哪一位。', en: 'if a guardian holds a residence permit of this district, which one.' },
    source: { zh: '核对：公安部门的居住证记录（须在有效期内）', en: 'checked against: public security residence permit records (must be valid)' },
  },
  insurance: {
    choices: 'guardian',
    help: { zh: '如果监护人在本市缴纳社保，选择是哪一位；平台按记录计算连续缴费月数。', en: 'if a guardian pays social insurance here, which one; the platform reads the months paid from the records.' },
    source: { zh: '核对：人社部门的社保缴费记录', en: 'checked against: human resources and social security records' },
  },
  sibling: {
    help: { zh: '如果孩子的哥哥或姐姐正在本区某所学校就读，填写那所学校的编号（如 S0004）。', en: 'if a brother or sister is enrolled at a school of the district, that school’s id (e.g. S0004).' },
    source: { zh: '由学校按学籍确认（不在本平台核对）', en: 'confirmed by the school from its roll (not checked here)' },
  },
  special_needs: {
    choices: [['inclusive', { zh: '随班就读（在普通学校就读）', en: 'inclusive: in a regular school' }],
      ['special_school', { zh: '特殊教育学校', en: 'a special school' }]],
    help: { zh: '孩子有特殊教育需要时选择；没有请选“无”。', en: 'only if the child has special educational needs; otherwise “none”.' },
    source: { zh: '由残疾人教育专家委员会评估确认（不在本平台核对）', en: 'confirmed by the disability assessment committee (not checked here)' },
  },
  priority_group: {
    help: { zh: '属于政策性照顾对象（如军人子女）时选择类别；不属于请选“无”。', en: 'if the child is in a policy-priority group (e.g. children of military personnel), which one; otherwise “none”.' },
    source: { zh: '由出具证明的部门确认（不在本平台核对）', en: 'confirmed by the office that issues it (not checked here)' },
  },
};
// The finding's item -> the claim's label
const ITEM = {
  residence_unit: { zh: '居住地址', en: 'residence' },
  hukou_unit: { zh: '户籍', en: 'household registration (hukou)' },
  property_unit: { zh: '房产', en: 'property' },
  residence_permit: { zh: '居住证', en: 'residence permit' },
  insurance_months: { zh: '社保', en: 'social insurance' },
  sibling_schools: { zh: '兄弟姐妹在读', en: 'sibling enrolled' },
  special_needs: { zh: '特殊教育需要', en: 'special needs' },
  priority_group: { zh: '政策性照顾', en: 'policy-priority group' },
};
// The policy's priority groups by name (docs/formats.md, priority_groups); another name is shown as it is.
const GROUPS = {
  military: { zh: '军人子女', en: 'children of military personnel' },
  special_needs: { zh: '随班就读的特殊教育需要儿童', en: 'special educational needs, in a regular school' },
  martyr: { zh: '烈士子女', en: 'children of martyrs' },
  talent: { zh: '引进人才子女', en: 'children of recruited talent' },
  police: { zh: '公安英模和因公牺牲伤残警察子女', en: 'children of decorated or fallen police officers' },
  firefighter: { zh: '消防救援人员子女', en: 'children of firefighters' },
};
const NO_ADVANTAGE = { zh: '提交时间先后不影响录取结果：申请期内任何时间提交都一样，不必抢先。',
  en: 'The time of submission gives no advantage: any time within the window is the same; there is no need to hurry.' };

// ------------------------------------------------------------ state

let who = null; // the /api/me answer of a family, or null
let formCache = null; // GET /api/form
let justSubmitted = null; // the receipt just made, for its banner

async function intakeInfo() {
  const [i, w] = await Promise.all([api('GET', '/api/intake'), api('GET', '/api/window')]);
  return { intake: i.ok ? i.json : null, window: w.ok ? w.json : null };
}

// ------------------------------------------------------------ sign in

function viewSignIn() {
  signout.hidden = true;
  render(`
    <h2>${L('登录', 'Sign in')}</h2>
    <p>${L('用手机号登录，无需注册：第一次登录即创建家庭账户。一个账户可以为几个孩子申请。',
      'Sign in with your mobile number; no registration: the first sign-in creates the family account. One account can apply for several children.')}</p>
    <form id="f-phone" novalidate>
      <label for="phone">${L('手机号', 'Mobile number')}</label>
      <p class="hint" id="phone-hint">${L('11 位中国大陆手机号，我们会发送 6 位验证码。', 'an 11-digit mainland mobile number; we send it a 6-digit code.')}</p>
      <input id="phone" name="phone" type="tel" inputmode="numeric" autocomplete="tel" maxlength="11"
             aria-describedby="phone-hint phone-err" required>
      ${errSlot('phone', 'phone')}
      <button type="submit">${L('获取验证码', 'Send me a code')}</button>
    </form>
    <form id="f-code" novalidate hidden>
      <p class="ok" id="sent" aria-live="polite"></p>
      <label for="code">${L('验证码', 'Code')}</label>
      <p class="hint" id="code-hint">${L('短信中的 6 位数字，10 分钟内有效，只能用一次。', 'the 6 digits in the text message, valid for 10 minutes, once.')}</p>
      <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6"
             aria-describedby="code-hint code-err" required>
      ${errSlot('code', 'code')}
      <button type="submit">${L('登录', 'Sign in')}</button>
      <button type="button" class="secondary" id="again">${L('换个手机号 / 重新获取', 'Other number / new code')}</button>
    </form>`);
  const fp = main.querySelector('#f-phone');
  const fc = main.querySelector('#f-code');
  const phone = main.querySelector('#phone');
  const code = main.querySelector('#code');
  let number = '';
  fp.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(fp);
    number = phone.value.replace(/\s/g, '');
    if (!/^1[3-9]\d{9}$/.test(number)) return showError(fp, { code: 'bad_phone', field: 'phone' });
    const btn = fp.querySelector('button[type=submit]');
    btn.disabled = true;
    const r = await api('POST', '/api/family/code', { json: { phone: number } });
    btn.disabled = false;
    if (!r.ok) return showError(fp, r.error, 'phone');
    say(main.querySelector('#sent'), { zh: `验证码已发送到 ${number}`, en: `a code was sent to ${number}` });
    fc.hidden = false;
    code.focus();
  });
  fc.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(fc);
    const c = code.value.trim();
    if (!/^\d{6}$/.test(c)) return showError(fc, { code: 'code_format', field: 'code' });
    const btn = fc.querySelector('button[type=submit]');
    btn.disabled = true;
    const r = await api('POST', '/api/family/login', { json: { phone: number, code: c } });
    btn.disabled = false;
    if (!r.ok) return showError(fc, r.error, 'code');
    who = r.json;
    setCsrf(r.json.csrf);
    await route();
  });
  main.querySelector('#again').addEventListener('click', () => {
    fc.hidden = true;
    code.value = '';
    phone.focus();
  });
}

signout.addEventListener('click', async () => {
  await api('POST', '/api/logout');
  who = null;
  setCsrf(null);
  location.hash = '#/';
  await route();
});

// ------------------------------------------------------------ my children

function appTitle(a) {
  return a.application?.child_name || a.id_number;
}

async function viewList() {
  const tok = gen;
  const [r, info] = await Promise.all([must('GET', '/api/applications'), intakeInfo()]);
  const apps = r.ok ? r.json.applications : [];
  const ph = info.intake?.phase;
  const open = info.window?.open;
  const canApply = open || ph === 'published';
  const cards = apps.map((a) => {
    const ck = a.application?.check;
    const rv = a.application?.review;
    const check = !ck ? '' : ck.review
      ? rv ? `<span class="tag ${rv.decision === 'verified' ? 'ok' : 'warn'}">${rv.decision === 'verified' ? L('人工核对：已核实', 'review: verified') : L('人工核对：未核实', 'review: not verified')}</span>`
        : `<span class="tag warn">${L('部分事实待人工核对', 'some facts await manual review')}</span>`
      : `<span class="tag ok">${L('与登记记录一致', 'matches the records')}</span>`;
    return `<li class="card app" data-receipt="${esc(a.receipt)}">
      <h3>${esc(appTitle(a))}</h3>
      <dl class="kv">
        <dt>${L('回执号', 'Receipt')}</dt><dd class="mono">${esc(a.receipt)}</dd>
        <dt>${L('身份证号', 'ID number')}</dt><dd class="mono">${esc(a.id_number)}</dd>
        <dt>${L('状态', 'Status')}</dt><dd><span class="tag">${P(STATUS[a.status] || { zh: a.status })}</span>
          ${a.application?.late ? `<span class="tag">${L('随到随办', 'late')}</span>` : ''} ${check}</dd>
      </dl>
      <a class="button" href="#/app/${encodeURIComponent(a.receipt)}">${L('核对结果与进度', 'Check and status')}</a>
      ${ph === 'published' ? `<a class="button" href="#/result/${encodeURIComponent(a.receipt)}">${L('录取结果', 'Result')}</a>` : ''}
    </li>`;
  });
  renderT(tok, `
    <h2>${L('我的孩子', 'My children')}</h2>
    ${info.intake ? `<p class="muted">${L('招生批次', 'Intake')} <span class="mono">${esc(info.intake.intake)}</span>
      ${info.window ? ` · ${L('申请时间', 'window')} ${esc(when(info.window.opens))} – ${esc(when(info.window.closes))}
      (${open ? L('正在受理', 'open') : L('已截止', 'closed')})` : ''}</p>` : ''}
    ${apps.length ? `<ul class="plain">${cards.join('')}</ul>`
      : `<p>${L('还没有申请。为每个孩子提交一份申请。', 'No application yet. Apply once for each child.')}</p>`}
    ${canApply ? `<p><a class="button" href="#/new" id="add">${L('为孩子申请', 'Apply for a child')}</a></p>
      <p class="hint">${P(NO_ADVANTAGE)}</p>`
      : `<p class="muted">${L('申请时间已截止；结果公布后可以查看录取结果。', 'The window has closed; see the result once it is published.')}</p>`}`);
}

// ------------------------------------------------------------ a new application

function claimBlock(c, form) {
  const k = c.field;
  const d = CLAIMS[k] || { help: { zh: '', en: '' }, source: { zh: '', en: '' } };
  const id = `c-${k}`;
  const label = { zh: c.label_zh, en: c.label_en };
  const desc = `aria-describedby="${id}-hint ${id}-src ${id}-err"`;
  const hint = `<p class="hint" id="${id}-hint">${P(d.help)}</p><p class="source" id="${id}-src">${P(d.source)}</p>`;
  if (k === 'residence_unit')
    return `<div class="claim unit-search">
      <label for="${id}">${P(label)}</label>${hint}
      <input id="${id}" name="${k}" type="search" autocomplete="off" maxlength="40" enterkeyhint="search"
             aria-describedby="${id}-hint ${id}-src ${id}-status ${id}-err" aria-controls="unit-results">
      <p class="hint" id="${id}-status" aria-live="polite"></p>
      <fieldset id="unit-results" class="choices" hidden><legend>${L('找到的地址：选择一个', 'Addresses found: choose one')}</legend>
        <div id="unit-options"></div></fieldset>
      <p class="chosen" id="unit-chosen" hidden>${L('已选择的居住地址', 'Chosen residence')}:
        <strong id="unit-chosen-name"></strong> <span class="mono muted" id="unit-chosen-id"></span>
        <button type="button" class="secondary small" id="unit-clear">${L('清除', 'Clear')}</button></p>
      ${errSlot(id, k)}</div>`;
  if (k === 'hukou')
    return `<div class="claim">
      <label class="check" for="${id}"><input type="checkbox" id="${id}" name="${k}" ${desc}>
        <span>${P(label)}：${P(d.box)}</span></label>${hint}${errSlot(id, k)}</div>`;
  let input;
  if (d.choices === 'guardian' || Array.isArray(d.choices)) {
    const opts = d.choices === 'guardian'
      ? [['1', { zh: '监护人 1', en: 'guardian 1' }], ['2', { zh: '监护人 2', en: 'guardian 2' }]] : d.choices;
    input = `<select id="${id}" name="${k}" ${desc}><option value="" data-zh="无" data-en="none">无</option>
      ${opts.map(([v, p]) => `<option value="${esc(v)}" data-zh="${esc(p.zh)}" data-en="${esc(p.en)}">${esc(t(p))}</option>`).join('')}</select>`;
  } else if (k === 'priority_group' && Array.isArray(form.priority_groups) && form.priority_groups.length) {
    input = `<select id="${id}" name="${k}" ${desc}><option value="" data-zh="无" data-en="none">无</option>
      ${form.priority_groups.map((g) => {
        const name = typeof g === 'string' ? g : g.name;
        const p = typeof g === 'string' ? GROUPS[name] || { zh: name, en: name } : { zh: g.label_zh || name, en: g.label_en || name };
        return `<option value="${esc(name)}" data-zh="${esc(p.zh)}" data-en="${esc(p.en)}">${esc(t(p))}</option>`;
      }).join('')}</select>`;
  } else {
    input = `<input id="${id}" name="${k}" autocomplete="off" ${desc}>`;
  }
  return `<div class="claim"><label for="${id}">${P(label)}</label>${hint}${input}${errSlot(id, k)}</div>`;
}

function idInput(id, field, labelPair, hintPair, { required = true, age = false } = {}) {
  return `<label for="${id}">${P(labelPair)}</label>
    <p class="hint" id="${id}-hint">${P(hintPair)}</p>
    <input id="${id}" name="${field}" class="idnum mono" inputmode="text" autocomplete="off" maxlength="22"
           aria-describedby="${id}-hint ${id}-count ${id}-err${age ? ` ${id}-age` : ''}" ${required ? 'required' : ''}
           data-required="${required ? 1 : 0}"${age ? ' data-age="1"' : ''}>
    <p class="count" id="${id}-count" aria-live="off"></p>
    ${errSlot(id, field)}
    ${age ? `<p class="warn age" id="${id}-age" aria-live="polite"></p>` : ''}`;
}

/**
 * The warning for a child born after the policy's cutoff (too young for this
 * intake), from characters 7-14 of a number whose birth date is real; null
 * otherwise.  It does not stop the application: the allocation reports such
 * a child ineligible (docs/formats.md, status `ineligible`).
 */
function ageWarning(raw, cutoff) {
  const v = normalise(raw);
  if (!cutoff || v.length < 14 || !/^\d{14}/.test(v)) return null;
  if (idProblem(v.slice(0, 14))) return null;
  const born = birthDate(v);
  if (born <= cutoff) return null;
  return {
    zh: `孩子出生于 ${born}，晚于本次招生的出生日期截止日 ${cutoff}（须在该日或之前出生），今年入学年龄不够。仍可以提交，但分配时这份申请会被列为“不符合入学年龄”，不会安排学位；如有疑问请咨询教育局。`,
    en: `The child was born on ${born}, after this intake’s cutoff of ${cutoff} (children born on or before it enter this year): too young for this intake. You can still submit, but the allocation will report the application as ineligible (under age) and give it no seat; ask the bureau if in doubt.`,
  };
}

/** Check an ID number field as it is typed; returns true when fine. */
function checkIdField(input, final) {
  const err = document.getElementById(input.id + '-err');
  const count = document.getElementById(input.id + '-count');
  const v = normalise(input.value);
  count.textContent = v ? `${v.length}/18` : '';
  const optional = input.dataset.required !== '1';
  const p = optional && !v ? null : idProblem(input.value, { final });
  say(err, p);
  if (input.dataset.age) say(document.getElementById(input.id + '-age'), p ? null : ageWarning(v, formCache?.cutoff_birth_date));
  if (p) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
  return !p;
}

/**
 * The residence field: the family types part of the address, the units that
 * match come from GET /api/form/units as radio buttons (arrow keys move
 * between them, a screen reader reads "n of m"), the chosen one is kept
 * with its catchment's public schools, which the family orders when there
 * are several (多校划片).  Returns { chosen(), order() }.
 */
function unitSearch(f) {
  const input = f.querySelector('#c-residence_unit');
  const status = f.querySelector('#c-residence_unit-status');
  const box = f.querySelector('#unit-results');
  const opts = f.querySelector('#unit-options');
  const chosenP = f.querySelector('#unit-chosen');
  const body = f.querySelector('#catchment-body');
  const live = f.querySelector('#catchment-status');
  let found = [];
  let chosen = null;
  let order = [];
  let timer = null;
  let seq = 0;
  const enc = new TextEncoder();

  const schoolName = (sc) => `${esc(sc.name)} <span class="mono muted">(${esc(sc.id)})</span>`;

  function drawCatchment(focusId, focusDir) {
    if (!body) return;
    if (!chosen) {
      body.innerHTML = `<p class="muted">${L('尚未选择居住地址', 'no residence chosen yet')}</p>`;
    } else if (order.length === 0) {
      body.innerHTML = `<p>${L('这个地址没有对应的片区公办学校：将由教育局统筹安排附近有空余学位的学校。',
        'This address has no catchment school: the bureau places the child at a nearby school with free seats.')}</p>`;
    } else if (order.length === 1) {
      body.innerHTML = `<p id="zoned-school">${L('孩子对应的片区学校', 'The school the child is zoned to')}: <strong>${schoolName(order[0])}</strong></p>`;
    } else {
      const n = order.length;
      body.innerHTML = `<p id="co-multi">${L(`这个片区对应 ${n} 所公办学校（多校划片）。请按意愿排序，第 1 所为最想去的学校：`,
        `This catchment has ${n} public schools (multi-school catchment). Order them, the one you want most first:`)}</p>
        <ol class="order" id="catchment-list">${order.map((sc, i) => `<li data-school="${esc(sc.id)}">
          <span class="pos" aria-hidden="true">${i + 1}</span><span class="name">${schoolName(sc)}</span>
          <span class="moves">
            <button type="button" class="secondary small" data-move="-1" data-id="${esc(sc.id)}" ${i === 0 ? 'disabled' : ''}>
              <span aria-hidden="true">↑</span> ${L('上移', 'Up')}<span class="sr-only"> ${esc(sc.name)}</span></button>
            <button type="button" class="secondary small" data-move="1" data-id="${esc(sc.id)}" ${i === n - 1 ? 'disabled' : ''}>
              <span aria-hidden="true">↓</span> ${L('下移', 'Down')}<span class="sr-only"> ${esc(sc.name)}</span></button>
          </span></li>`).join('')}</ol>`;
      if (focusId) {
        // keep the focus on the school just moved: the same button, or the other one at an end
        const sel = (d) => body.querySelector(`button[data-id="${CSS.escape(focusId)}"][data-move="${d}"]`);
        const b = sel(focusDir);
        (b && !b.disabled ? b : sel(-focusDir))?.focus();
      }
    }
    applyI18n(body);
  }

  body?.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-move]');
    if (!b || b.disabled) return;
    const d = Number(b.dataset.move);
    const i = order.findIndex((x) => x.id === b.dataset.id);
    const j = i + d;
    if (i < 0 || j < 0 || j >= order.length) return;
    [order[i], order[j]] = [order[j], order[i]];
    drawCatchment(b.dataset.id, d);
    say(live, { zh: `${order[j].name} 现在是第 ${j + 1} 位`, en: `${order[j].name} is now number ${j + 1}` });
  });

  function choose(u) {
    chosen = u;
    order = u ? [...u.catchment_schools] : [];
    chosenP.hidden = !u;
    f.querySelector('#unit-chosen-name').textContent = u ? u.name : '';
    f.querySelector('#unit-chosen-id').textContent = u ? `(${u.id})` : '';
    if (u) {
      input.removeAttribute('aria-invalid');
      say(f.querySelector('#c-residence_unit-err'), null);
    }
    drawCatchment();
  }

  function drawFound(q) {
    if (!found.length) {
      box.hidden = true;
      opts.innerHTML = '';
      say(status, { zh: `没有找到含“${q}”的地址，请换几个字试试`, en: `no address contains “${q}”; try other characters` });
      return;
    }
    opts.innerHTML = found.map((u, i) => {
      const sch = u.catchment_schools.map((x) => x.name).join('、');
      return `<label class="check option"><input type="radio" name="unit-choice" id="unit-${i}" value="${esc(u.id)}"
        ${chosen && chosen.id === u.id ? 'checked' : ''}>
        <span><span class="uname">${esc(u.name)}</span> <span class="mono muted">${esc(u.id)}</span>
        ${sch ? `<span class="hint uschools">${L('片区学校', 'catchment')}: ${esc(sch)}</span>` : ''}</span></label>`;
    }).join('');
    applyI18n(opts);
    box.hidden = false;
    const more = found.length >= 20;
    say(status, more
      ? { zh: `找到 20 个以上的地址，只显示前 20 个；多输入几个字可以缩小范围`, en: `more than 20 addresses found, the first 20 shown; type more to narrow them` }
      : { zh: `找到 ${found.length} 个地址，请在下面选择`, en: `${found.length} address${found.length > 1 ? 'es' : ''} found; choose below` });
  }

  // Enter on an address chooses it (instead of sending the form)
  opts.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' || ev.target.type !== 'radio') return;
    ev.preventDefault();
    ev.target.checked = true;
    const u = found.find((x) => x.id === ev.target.value);
    if (u) choose(u);
  });
  opts.addEventListener('change', (ev) => {
    const u = found.find((x) => x.id === ev.target.value);
    if (u) choose(u);
  });

  async function search() {
    const q = input.value.trim();
    const my = ++seq;
    if (!q) {
      found = [];
      box.hidden = true;
      opts.innerHTML = '';
      say(status, null);
      return;
    }
    if (enc.encode(q).length > 64) {
      say(status, { zh: '输入的字太多了，请只输入小区名或门牌的一部分', en: 'too long: type part of the compound’s name or street number' });
      return;
    }
    say(status, { zh: '正在查找…', en: 'searching…' });
    const r = await api('GET', `/api/form/units?q=${encodeURIComponent(q)}`);
    if (my !== seq) return; // a newer search is on its way
    if (!r.ok) {
      say(status, errorPair(r.status === 0 ? r.error : { code: 'unit_search' }));
      return;
    }
    found = r.json.units || [];
    drawFound(q);
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  // Enter in the search field searches at once (and does not submit the form)
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      clearTimeout(timer);
      search();
    } else if (ev.key === 'ArrowDown' && !box.hidden) {
      ev.preventDefault();
      (opts.querySelector('input:checked') || opts.querySelector('input'))?.focus();
    }
  });
  f.querySelector('#unit-clear').addEventListener('click', () => {
    choose(null);
    for (const r of opts.querySelectorAll('input')) r.checked = false;
    input.focus();
  });
  drawCatchment();
  return {
    chosen: () => chosen,
    order: () => (order.length > 1 ? order.map((x) => x.id) : []),
  };
}

async function viewNew() {
  const tok = gen;
  if (!formCache) {
    const f = await api('GET', '/api/form');
    if (!f.ok) {
      renderT(tok, `<h2>${L('为孩子申请', 'Apply for a child')}</h2><p class="error">${P(errorPair(f.error))}</p>`);
      return;
    }
    formCache = f.json;
  }
  const form = formCache;
  const n = form.private_choices || 0;
  const schoolsKnown = Array.isArray(form.private_schools);
  const hasUnit = form.claims.some((c) => c.field === 'residence_unit');
  const privInputs = [];
  for (let i = 0; i < n; i++) {
    const id = `pc-${i}`;
    const lab = { zh: `民办志愿 ${i + 1}`, en: `private choice ${i + 1}` };
    privInputs.push(schoolsKnown
      ? `<label for="${id}">${P(lab)}</label><select id="${id}" class="pc" aria-describedby="pc-hint private_choices-err"><option value="" data-zh="不填" data-en="none">不填</option>
          ${form.private_schools.map((s) => `<option value="${esc(s.id)}">${esc(s.name)} (${esc(s.id)})</option>`).join('')}</select>`
      : `<label for="${id}">${P(lab)}</label><input id="${id}" class="pc mono" autocomplete="off" aria-describedby="pc-hint private_choices-err">`);
  }
  renderT(tok, `
    <h2>${L('为孩子申请', 'Apply for a child')}</h2>
    <p class="card soft" id="no-advantage"><strong>${P(NO_ADVANTAGE)}</strong></p>
    <p>${L('无需提交任何证明材料（无证明）：你填写的事实由平台与相关部门的登记记录自动核对，不一致的会转人工核对，不会被直接驳回。只填写本区政策用到的事项。',
      'No paper proofs: the facts you state are checked against the records of the offices that hold them; anything that does not match goes to manual review, never refused outright. The form asks only what the district’s policy uses.')}</p>
    <form id="app-form" novalidate>
      <fieldset><legend>${L('孩子', 'The child')}</legend>
        <label for="child_name">${L('孩子姓名（可不填）', 'Child’s name (optional)')}</label>
        <input id="child_name" name="child_name" autocomplete="off" maxlength="20" aria-describedby="child_name-err">
        ${errSlot('child_name', 'child_name')}
        ${idInput('id_number', 'id_number', { zh: '孩子的身份证号', en: 'Child’s ID number' },
          { zh: '18 位居民身份证号码，输入时即检查。只保存加密后的号码，页面上只显示部分数字。', en: 'the 18-character resident ID number, checked as you type. It is stored encrypted and shown masked.' },
          { age: true })}
      </fieldset>
      <fieldset><legend>${L('监护人', 'Guardians')}</legend>
        <p class="hint">${L('用来核对户籍、房产、居住证和社保记录：请填写父母或其他法定监护人的身份证号。',
          'used to check the hukou, property, permit and insurance records: the ID numbers of the parents or other legal guardians.')}</p>
        ${idInput('g1', 'guardians[0]', { zh: '监护人 1 的身份证号', en: 'Guardian 1’s ID number' }, { zh: '必填', en: 'required' })}
        ${idInput('g2', 'guardians[1]', { zh: '监护人 2 的身份证号（可不填）', en: 'Guardian 2’s ID number (optional)' }, { zh: '有第二位监护人时填写', en: 'if there is a second guardian' }, { required: false })}
        ${errSlot('guardians', 'guardians')}
      </fieldset>
      <fieldset><legend>${L('申报的事实', 'The facts you state')}</legend>
        ${form.claims.map((c) => claimBlock(c, form)).join('')}
      </fieldset>
      ${hasUnit ? `<fieldset id="catchment"><legend>${L('片区学校', 'Catchment schools')}</legend>
        <p class="hint" id="co-hint">${L('选择居住地址后，这里显示孩子对应的公办学校。一个片区对应多所学校（多校划片）时，请用“上移”“下移”按意愿排列顺序。',
          'Once the residence is chosen, the public schools the child is zoned to are shown here. When the catchment has several schools (multi-school catchment), put them in your order of preference with the “up” and “down” buttons.')}</p>
        <div id="catchment-body"><p class="muted">${L('尚未选择居住地址', 'no residence chosen yet')}</p></div>
        <p class="sr-only" id="catchment-status" aria-live="polite"></p>
        ${errSlot('catchment_order', 'catchment_order')}
      </fieldset>` : ''}
      ${n ? `<fieldset><legend>${L('民办学校志愿（公民同招）', 'Private schools (same window as public)')}</legend>
        <p class="hint" id="pc-hint">${schoolsKnown
          ? L(`最多 ${n} 所本区民办学校，按意愿顺序选择，同一所学校不能选两次；不报民办请选“不填”。报名人数超过学位时电脑随机录取；未被录取的孩子照常参加公办学校的安排，不受影响。`,
            `up to ${n} private schools of the district, in your order of preference, each school once; “none” for none. An oversubscribed private school admits by lottery; a child not admitted is placed in a public school as usual, with no loss.`)
          : L(`最多 ${n} 所本区民办学校，按意愿顺序填写学校编号（如 S0002）；不报民办请留空。报名人数超过学位时电脑随机录取；未被录取的孩子照常参加公办学校的安排，不受影响。`,
            `up to ${n} private schools of the district, in your order of preference, by school id (e.g. S0002); leave empty for none. An oversubscribed private school admits by lottery; a child not admitted is placed in a public school as usual, with no loss.`)}</p>
        ${privInputs.join('')}
        ${errSlot('private_choices', 'private_choices')}
      </fieldset>` : ''}
      <p class="error" data-err="_" aria-live="polite"></p>
      <button type="submit" id="submit">${L('提交申请', 'Submit the application')}</button>
      <a class="button secondary" href="#/">${L('取消', 'Cancel')}</a>
    </form>`);
  const f = main.querySelector('#app-form');
  for (const input of f.querySelectorAll('input.idnum')) {
    input.addEventListener('input', () => checkIdField(input, false));
    input.addEventListener('blur', () => input.value && checkIdField(input, true));
  }
  const unit = hasUnit ? unitSearch(f) : null;
  const privSelects = [...f.querySelectorAll('select.pc')];
  // a private school chosen in one choice cannot be chosen in another
  const syncPrivate = () => {
    const taken = privSelects.map((x) => x.value);
    privSelects.forEach((sel, i) => {
      for (const o of sel.options) o.disabled = !!o.value && taken.some((v, j) => j !== i && v === o.value);
    });
  };
  for (const sel of privSelects) sel.addEventListener('change', syncPrivate);
  let lastBody = null;
  let key = null;
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    const ok = [...f.querySelectorAll('input.idnum')].map((i) => checkIdField(i, true));
    const g2 = normalise(f.querySelector('#g2').value);
    const claims = {};
    for (const c of form.claims) {
      const el = f.querySelector(`#c-${c.field}`);
      if (!el) continue;
      if (c.field === 'hukou') {
        if (el.checked) claims.hukou = true;
      } else if (c.field === 'residence_unit') {
        if (unit.chosen()) claims.residence_unit = unit.chosen().id;
      } else if (c.field === 'permit' || c.field === 'insurance') {
        if (el.value) claims[c.field] = Number(el.value);
      } else if (el.value.trim()) {
        claims[c.field] = el.value.trim();
      }
    }
    let bad = ok.indexOf(false) >= 0 ? f.querySelector('input.idnum[aria-invalid]') : null;
    for (const k of ['permit', 'insurance']) {
      if (claims[k] === 2 && !g2) {
        showError(f, { code: 'missing_guardian', field: k });
        bad = bad || f.querySelector(`#c-${k}`);
      }
    }
    if (unit && !unit.chosen() && f.querySelector('#c-residence_unit').value.trim()) {
      showError(f, { code: 'unit_not_chosen', field: 'residence_unit' });
      bad = bad || f.querySelector('#c-residence_unit');
    }
    const picks = privSelects.map((x) => x.value).filter(Boolean);
    if (new Set(picks).size !== picks.length) {
      showError(f, { code: 'repeated_school', field: 'private_choices' });
      bad = bad || privSelects.find((x, i) => x.value && privSelects.slice(0, i).some((y) => y.value === x.value));
    }
    if (bad) {
      bad.focus();
      return;
    }
    const body = {
      id_number: normalise(f.querySelector('#id_number').value),
      guardians: [normalise(f.querySelector('#g1').value), ...(g2 ? [g2] : [])],
      claims,
      private_choices: [...f.querySelectorAll('.pc')].map((i) => i.value.trim().toUpperCase()).filter(Boolean),
      catchment_order: unit ? unit.order() : [],
      submit: true,
    };
    const name = f.querySelector('#child_name').value.trim();
    if (name) body.child_name = name;
    // one key per application the family means to make: the same request sent
    // again (a timeout, a 503) keeps it, a changed one gets a new key
    const text = JSON.stringify(body);
    if (text !== lastBody) {
      lastBody = text;
      key = uuid();
    }
    const btn = f.querySelector('#submit');
    btn.disabled = true;
    const r = await must('POST', '/api/applications', { json: body, headers: { 'Idempotency-Key': key } });
    btn.disabled = false;
    if (!r.ok) return showError(f, r.error);
    justSubmitted = r.json.receipt;
    location.hash = `#/app/${encodeURIComponent(r.json.receipt)}`;
  });
}

// ------------------------------------------------------------ one application

function factsHtml(ck) {
  const f = ck.facts || {};
  const none = L('未核实', 'not verified');
  const rows = [
    [{ zh: '居住地址', en: 'residence' }, f.residence_unit ? esc(f.residence_unit) : none],
    [{ zh: '户籍地址', en: 'hukou address' }, f.hukou_unit ? `${esc(f.hukou_unit)}${f.hukou_since ? ` (${L('迁入', 'since')} ${esc(f.hukou_since)})` : ''}` : none],
    [{ zh: '房产地址', en: 'property address' }, f.property_unit ? esc(f.property_unit) : none],
    [{ zh: '有效居住证', en: 'valid residence permit' }, f.residence_permit ? L('有', 'yes') : L('无', 'no')],
    [{ zh: '社保连续缴费', en: 'social insurance paid' }, L(`${f.insurance_months || 0} 个月`, `${f.insurance_months || 0} months`)],
  ];
  return `<dl class="kv facts">${rows.map(([k, v]) => `<dt>${P(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function findingsHtml(ck) {
  if (!ck.findings?.length && ck.text)
    return `<p class="warn">${esc(ck.text)}</p>`;
  return `<ul class="plain findings">${(ck.findings || []).map((x) => {
    const tag = x.outcome === 'ok' ? 'ok' : x.outcome === 'unverified' ? 'bad' : x.outcome === 'info' ? '' : 'warn';
    const word = { ok: { zh: '一致', en: 'matches' }, unverified: { zh: '未能核实', en: 'not verified' },
      info: { zh: '说明', en: 'note' }, unchecked: { zh: '另行确认', en: 'confirmed elsewhere' } }[x.outcome] || { zh: x.outcome };
    const todo = x.outcome === 'unverified'
      ? `<p class="hint todo">${L('这一项将转人工核对。除非工作人员联系你，你不需要做任何事，也不用再提交材料。',
        'It goes to manual review; nothing else is needed unless staff ask.')}</p>` : '';
    return `<li class="finding" data-code="${esc(x.code)}" data-outcome="${esc(x.outcome)}">
      <strong>${P(ITEM[x.item] || { zh: x.item })}</strong> <span class="tag ${tag}">${P(word)}</span>
      <div>${L(x.text_zh, x.text_en)}${x.date ? ` (${esc(x.date)})` : ''}</div>${todo}</li>`;
  }).join('')}</ul>`;
}

async function viewApp(receipt) {
  const tok = gen;
  const r = await must('GET', `/api/applications/${encodeURIComponent(receipt)}`);
  if (!r.ok) {
    renderT(tok, `<h2>${L('申请', 'Application')}</h2><p class="error">${P(r.status === 404 ? { zh: '没有这份申请', en: 'no such application' } : errorPair(r.error))}</p>
      <p><a href="#/">${L('返回我的孩子', 'Back to my children')}</a></p>`);
    return;
  }
  const a = r.json;
  const info = await intakeInfo();
  const ph = info.intake?.phase;
  let result = null;
  if (ph === 'published' && a.status !== 'draft') {
    const rr = await must('GET', `/api/applications/${encodeURIComponent(receipt)}/result`);
    if (rr.ok) result = rr.json;
  }
  const ck = a.application?.check;
  const rv = a.application?.review;
  // the category the verified facts give at each school of the catchment
  const sr = await must('GET', `/api/applications/${encodeURIComponent(receipt)}/standing`);
  const standing = sr.ok ? sr.json : null;
  const isNew = justSubmitted === receipt;
  justSubmitted = null;
  const i = info.intake || {};
  const step = (done, now, title, detail) =>
    `<li class="${done ? 'done' : now ? 'now' : ''}"><strong>${title}</strong>${detail ? `<div class="when">${detail}</div>` : ''}</li>`;
  const review = !ck ? '' : !ck.review ? L('所有事实与登记记录一致，无需人工核对', 'every fact matched the records: no manual review needed')
    : rv ? `${rv.decision === 'verified' ? L('人工核对：已核实', 'manual review: verified') : L('人工核对：未核实（只按记录核实的事实）', 'manual review: not verified (only what the records verified counts)')}
        · ${esc(when(rv.at))}${rv.note ? `<br>${L('说明', 'note')}: ${esc(rv.note)}` : ''}`
      : L('等待人工核对', 'waiting for manual review');
  const offer = result?.offer;
  const steps = [
    step(a.status === 'submitted', a.status === 'draft', L('提交申请', 'Application submitted'),
      a.submitted_at ? esc(when(a.submitted_at)) : a.status === 'draft' ? L('尚未提交', 'not submitted yet') : ''),
    step(!!ck && (!ck.review || !!rv), !!ck && ck.review && !rv, L('核对申报的事实', 'Facts checked'),
      `${ck?.checked_at ? esc(when(ck.checked_at)) + ' · ' : ''}${review}`),
    step(info.window && !info.window.open && Date.parse(info.window.closes) < Date.now(), false, L('申请截止', 'Window closes'),
      info.window ? esc(when(info.window.closes)) : ''),
    step(!!i.freeze, false, L('名单冻结', 'List of applicants frozen'), i.freeze ? esc(when(i.freeze.at)) : L('申请截止后', 'after the window closes')),
    step(!!i.draw, false, L('公开摇号（公证）', 'Public lottery draw (notarised)'), i.draw ? esc(when(i.draw.at)) : L('待定', 'to come')),
    step(!!i.publication, false, L('公布结果', 'Results published'),
      i.publication ? `${esc(when(i.publication.published_at))} · ${L('确认截止', 'accept by')} ${esc(when(i.publication.deadline))}` : L('待定', 'to come')),
    step(offer && offer.status === 'accepted', offer && offer.status === 'offered', L('录取结果', 'Result'),
      offer ? `${offer.school ? esc(offer.school.name) + ' · ' : ''}${P(OFFER[offer.status] || { zh: offer.status })} ·
        <a href="#/result/${encodeURIComponent(receipt)}">${L('查看结果和说明', 'see the result and why')}</a>`
        : result?.message ? esc(result.message) : L('公布后可查看', 'once published')),
  ];
  renderT(tok, `
    <h2>${esc(appTitle(a))}</h2>
    ${isNew ? `<div class="card soft" role="status" id="submitted-banner"><p class="big ok">${L('申请已提交', 'Application submitted')}</p>
      <p>${L('回执号', 'Receipt number')}: <span class="mono big" id="receipt">${esc(a.receipt)}</span></p>
      <p>${L('请记下回执号。', 'Keep the receipt number.')} ${P(NO_ADVANTAGE)}</p></div>` : ''}
    <dl class="kv">
      <dt>${L('回执号', 'Receipt')}</dt><dd class="mono">${esc(a.receipt)}</dd>
      <dt>${L('身份证号', 'ID number')}</dt><dd class="mono">${esc(a.id_number)}</dd>
      ${a.application?.guardians?.length ? `<dt>${L('监护人', 'Guardians')}</dt><dd class="mono">${a.application.guardians.map(esc).join('<br>')}</dd>` : ''}
      <dt>${L('状态', 'Status')}</dt><dd><span class="tag" id="status">${P(STATUS[a.status] || { zh: a.status })}</span></dd>
    </dl>
    ${a.status === 'draft' ? `<button type="button" id="submit-draft">${L('提交这份申请', 'Submit this application')}</button><p class="error" data-err="_"></p>` : ''}
    ${ck ? `<h3>${L('核对结果', 'What the records confirmed')}</h3>
      <p class="hint">${L('录取类别只由下面已核实的事实确定，在每所学校按本区政策计算。',
        'The admission category comes from the verified facts below only, at each school by the district’s policy.')}</p>
      ${factsHtml(ck)}
      ${standing ? `<h3>${L('录取类别', 'Admission category')}</h3>
        ${standing.schools.length ? `<ul id="standing">${standing.schools.map((x) => `<li>${esc(x.name)} (${esc(x.school)}):
          ${x.eligible ? `${L('类别', 'category')} <strong>${esc(x.category)}</strong>（${esc(x.label)}）${x.points !== undefined ? ` · ${L('积分', 'points')} ${x.points}` : ''}`
            : L('不符合该校任何类别', 'no category at this school')}</li>`).join('')}</ul>`
          : `<p id="standing" class="muted">${esc(standing.message || '')}</p>`}` : ''}
      <h3>${L('每项申报', 'Each claim')}</h3>
      ${findingsHtml(ck)}
      ${ck.review ? `<p class="card soft">${rv ? review : L('有事实未能与记录核实：申请已正常提交，将由教育局人工核对。除非工作人员联系你，你不需要做任何事。',
        'Some facts could not be verified against the records: the application is submitted as usual and the bureau reviews it by hand. Nothing else is needed unless staff ask.')}</p>` : ''}` : ''}
    <h3>${L('进度', 'Status')}</h3>
    <ol class="steps">${steps.join('')}</ol>
    <p><a href="#/">${L('返回我的孩子', 'Back to my children')}</a></p>`);
  const sd = main.querySelector('#submit-draft');
  if (sd)
    sd.addEventListener('click', async () => {
      const s = await must('POST', `/api/applications/${encodeURIComponent(receipt)}/submit`);
      if (!s.ok) return showError(main, s.error);
      await viewApp(receipt);
    });
}

// ------------------------------------------------------------ the result

async function viewResult(receipt) {
  const tok = gen;
  const [r, info] = await Promise.all([must('GET', `/api/applications/${encodeURIComponent(receipt)}/result`), intakeInfo()]);
  const back = `<p><a href="#/app/${encodeURIComponent(receipt)}">${L('申请进度', 'Application status')}</a> ·
    <a href="#/">${L('我的孩子', 'My children')}</a></p>`;
  if (!r.ok) {
    renderT(tok, `<h2>${L('录取结果', 'Result')}</h2><p class="error">${P(r.status === 404 ? { zh: '没有这份申请', en: 'no such application' } : errorPair(r.error))}</p>${back}`);
    return;
  }
  const res = r.json;
  if (!res.published || !res.offer) {
    renderT(tok, `<h2>${L('录取结果', 'Result')}</h2>
      <p>${res.published ? esc(res.message || '') : L('结果尚未公布。公布后在这里查看学位、每所学校的说明和随机号。',
        'The result is not published yet. Once it is, the seat, the explanation for each school and the lottery number are here.')}</p>${back}`);
    return;
  }
  const o = res.offer;
  const names = {};
  for (const x of res.explanation || []) names[x.school] = x.name;
  if (o.school) names[o.school.id] = o.school.name;
  for (const w of res.waitlists || []) names[w.school.id] = w.school.name;
  const school = (id) => (id ? `${esc(names[id] || id)} <span class="muted">(${esc(id)})</span>` : L('无', 'none'));
  const st = OFFER[o.status] || { zh: o.status, tag: '' };
  const pub = res.published_seat;
  const intake = info.intake;
  const canAppeal = !res.appeals || res.appeals.filter((a) => a.status === 'open').length < 3;
  renderT(tok, `
    <h2>${L('录取结果', 'Result')}</h2>
    <section class="card offer ${esc(o.status)}" id="offer" aria-labelledby="offer-h">
      <h3 id="offer-h">${L('学位', 'The seat')}</h3>
      <p class="big" id="seat">${o.school ? school(o.school.id) : L('暂无学位', 'no seat yet')}</p>
      <p><span class="tag ${st.tag}" id="offer-status">${P(st)}</span> · ${P(ROUND[o.round ?? ''] || { zh: o.round })}</p>
      ${o.reason ? `<p>${L('原因', 'reason')}: ${esc(o.reason)}</p>` : ''}
      ${o.status === 'offered' && o.deadline ? `<p class="warn"><strong>${L('请在截止时间前确认', 'Accept by')}: <span id="deadline">${esc(when(o.deadline))}</span></strong>
        ${L('（北京时间）。逾期未确认，学位将释放给候补的孩子。', '(Beijing time). A seat not accepted by then goes to the waitlist.')}</p>` : ''}
      <div class="row">
        ${o.status === 'offered' ? `<button type="button" id="accept">${L('接受学位', 'Accept the seat')}</button>` : ''}
        ${o.status === 'offered' || o.status === 'accepted' ? `<button type="button" class="secondary" id="decline">${L('放弃学位', 'Decline the seat')}</button>` : ''}
      </div>
      <div class="confirm" id="confirm" hidden role="group" aria-labelledby="confirm-q">
        <p id="confirm-q"><strong>${L('确定放弃这个学位吗？', 'Decline this seat?')}</strong>
          ${L('放弃后不能再接受这个学位，孩子也将退出所有候补名单。', 'A declined seat cannot be accepted again, and the child leaves every waitlist.')}</p>
        <button type="button" class="danger" id="decline-yes">${L('确定放弃', 'Yes, decline')}</button>
        <button type="button" class="secondary" id="decline-no">${L('不放弃', 'No, keep it')}</button>
      </div>
      <p class="error" data-err="_" aria-live="polite"></p>
      ${o.status === 'accepted' ? `<p><a class="button" id="notice" href="/notice/?receipt=${encodeURIComponent(receipt)}">${L('查看录取通知书', 'The admission notice')}</a></p>` : ''}
    </section>
    ${pub ? `<p class="muted">${L('公布时的结果', 'As published')}: ${school(pub.school)} · ${P(ROUND[pub.round ?? ''] || { zh: pub.round })}
      ${pub.reason && pub.reason !== 'placed' ? ` · ${L(pub.reason, pub.reason_en || pub.reason)}` : ''}</p>` : ''}
    ${res.explanation?.length ? `<h3>${L('为什么：每所学校的说明', 'Why: each school on the list')}</h3>
      <ul class="plain" id="explanation">${res.explanation.map((x) => {
        const oc = OUTCOME[x.outcome] || { zh: x.outcome, en: x.outcome, tag: '' };
        return `<li data-school="${esc(x.school)}"><strong>${school(x.school)}</strong>
          <span class="tag ${oc.tag}">${P(oc)}</span> <span class="muted">${P(ROUND[x.round ?? ''] || { zh: x.round })}</span>
          <div>${L(x.zh, x.en)}</div>
          <div class="hint">${L('该校录取线', 'the school’s cutoff')}: ${L(x.cutoff_zh, x.cutoff_en)}</div></li>`;
      }).join('')}</ul>` : ''}
    ${res.lottery ? `<h3>${L('随机号（摇号）', 'Lottery number')}</h3>
      <section class="card soft" id="lottery">
        <p>${L('公布的随机号', 'published number')}: <span class="mono big" id="lottery-published">${esc(res.lottery)}</span>
          <span class="hint">${L('（越小越靠前；只在其他条件都相同时才起作用）', '(lower wins; it matters only between children equal in everything else)')}</span></p>
        <p>${L('你可以在本页自己验算：用公开摇号时公布的种子和孩子的编号计算（HMAC-SHA-256，见 docs/lottery.md 3.5）。',
          'Check it yourself in this page: from the seed published at the public draw and the child’s pseudonym (HMAC-SHA-256, docs/lottery.md 3.5).')}</p>
        <dl class="kv">
          <dt>${L('招生批次', 'intake')}</dt><dd class="mono">${esc(intake?.intake || '')}</dd>
          <dt>${L('孩子的编号', 'pseudonym')}</dt><dd class="mono">${esc(res.pseudonym || '')}</dd>
          <dt>${L('公布的种子', 'published seed')}</dt><dd class="mono" id="seed">${esc(intake?.draw?.seed || '')}</dd>
          <dt>${L('本页算出', 'computed here')}</dt><dd class="mono" id="lottery-computed">…</dd>
        </dl>
        <p id="lottery-match" class="match" aria-live="polite"></p>
        <button type="button" class="secondary" id="recompute">${L('重新计算', 'Compute again')}</button>
      </section>` : ''}
    ${res.waitlists?.length ? `<h3>${L('候补', 'Waitlists')}</h3>
      <p class="hint">${L('有学位空出时，按顺序自动递补，不需要再申请；递补后会通知你。', 'When a seat comes free it goes down the line by itself; you are told if you move up.')}</p>
      <ul class="plain" id="waitlists">${res.waitlists.map((w) => `<li>${school(w.school.id)}: ${L(`第 ${w.position} 位`, `number ${w.position} in line`)}</li>`).join('')}</ul>` : ''}
    ${res.moves?.length ? `<h3>${L('学位变动', 'Moves')}</h3>
      <ul class="plain" id="moves">${res.moves.map((m) => `<li>${esc(when(m.at))}: ${m.from ? school(m.from) : L('无学位', 'no seat')} → ${school(m.to)}
        (${m.why === 'waitlist' ? L('候补递补', 'from the waitlist') : m.why === 'by_hand' ? L('教育局人工安排', 'placed by the bureau') : esc(m.why)})</li>`).join('')}</ul>` : ''}
    <h3>${L('申诉', 'Appeals')}</h3>
    ${res.appeals?.length ? `<ul class="plain" id="appeals">${res.appeals.map((a) => `<li class="appeal">
      <div class="muted">${esc(when(a.at))} · ${a.status === 'answered' ? L('已答复', 'answered') : L('等待答复', 'waiting for an answer')}</div>
      <div>${esc(a.text)}</div>
      ${a.answer ? `<div class="card soft"><strong>${L('答复', 'Answer')}</strong> <span class="muted">${esc(when(a.answered_at))}</span><div class="answer">${esc(a.answer)}</div></div>` : ''}</li>`).join('')}</ul>` : ''}
    ${canAppeal ? `<form id="appeal-form" novalidate>
      <label for="appeal-text">${L('对结果有异议时写下理由，教育局会答复', 'If you disagree with the result, say why; the bureau answers')}</label>
      <textarea id="appeal-text" maxlength="2000" aria-describedby="appeal-text-err"></textarea>
      ${errSlot('appeal-text', 'text')}
      <button type="submit">${L('提交申诉', 'Send the appeal')}</button>
    </form>` : ''}
    ${back}`);

  const errTo = (e) => showError(main.querySelector('#offer'), e);
  const answer = async (what) => {
    const x = await must('POST', `/api/applications/${encodeURIComponent(receipt)}/${what}`);
    if (!x.ok) return errTo(x.error);
    await viewResult(receipt);
    main.querySelector('#offer-status')?.focus?.();
  };
  main.querySelector('#accept')?.addEventListener('click', () => answer('accept'));
  const conf = main.querySelector('#confirm');
  main.querySelector('#decline')?.addEventListener('click', () => {
    conf.hidden = false;
    main.querySelector('#decline-no').focus();
  });
  main.querySelector('#decline-no')?.addEventListener('click', () => {
    conf.hidden = true;
    main.querySelector('#decline').focus();
  });
  main.querySelector('#decline-yes')?.addEventListener('click', () => answer('decline'));
  const af = main.querySelector('#appeal-form');
  af?.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(af);
    const text = af.querySelector('#appeal-text').value;
    if (!text.trim()) return showError(af, { code: 'bad_text', field: 'text' });
    const x = await must('POST', `/api/applications/${encodeURIComponent(receipt)}/appeal`, { json: { text } });
    if (!x.ok) return showError(af, x.error, 'text');
    await viewResult(receipt);
  });

  if (res.lottery) {
    const compute = async () => {
      const out = main.querySelector('#lottery-computed');
      const m = main.querySelector('#lottery-match');
      const seed = intake?.draw?.seed;
      if (!seed || !res.pseudonym) {
        out.textContent = '—';
        say(m, { zh: '种子尚未公布，无法验算', en: 'the seed is not published: nothing to check' });
        return;
      }
      try {
        const n = await lotteryNumber(seed, intake.intake, res.pseudonym);
        out.textContent = `${n.fraction} (${n.number})`;
        const same = n.fraction === res.lottery;
        m.className = `match ${same ? 'ok' : 'bad error'}`;
        m.dataset.same = same ? 'yes' : 'no';
        say(m, same ? { zh: `✓ 与公布的随机号 ${res.lottery} 一致`, en: `✓ equal to the published number ${res.lottery}` }
          : { zh: `✗ 与公布的随机号 ${res.lottery} 不一致（双胞胎等共用一个号码时以名单中第一个孩子的号码为准）`,
            en: `✗ differs from the published number ${res.lottery} (linked siblings share the number of the first of them)` });
      } catch (e) {
        say(m, { zh: `无法计算：${e.message}`, en: `cannot compute: ${e.message}` });
      }
    };
    main.querySelector('#recompute').addEventListener('click', compute);
    await compute();
  }
}

// ------------------------------------------------------------ routing

async function route() {
  if (!who) {
    const m = await me();
    who = m && m.kind === 'family' ? m : null;
  }
  signout.hidden = !who;
  const my = ++gen;
  if (!who) {
    viewSignIn();
    main.dataset.view = 'signin';
    return;
  }
  const [view, arg] = location.hash.replace(/^#\/?/, '').split('/');
  try {
    if (view === 'new') await viewNew();
    else if (view === 'app' && arg) await viewApp(decodeURIComponent(arg));
    else if (view === 'result' && arg) await viewResult(decodeURIComponent(arg));
    else await viewList();
    // what the page shows, for tests and styles: "list", "new", "app:RECEIPT", "result:RECEIPT"
    if (my === gen) main.dataset.view = arg ? `${view}:${decodeURIComponent(arg)}` : view || 'list';
  } catch (e) {
    if (!(e instanceof Stale) && e.message !== 'signed out') throw e;
  }
}

window.addEventListener('hashchange', () => route());
applyI18n(document);
route();
