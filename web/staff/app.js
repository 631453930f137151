// app.js - the staff console (教育局/学校工作台): sign-in, then one section
// at a time by the address's #hash (#setup, #review, #intake, #seats,
// #appeals, #audit, #exports).  Rights are the server's: a school account
// is offered only what the API lets it do (its own applicants, review
// queue read-only, its seats and exports), never the bureau's sections.

import { api, me, setCsrf } from '/common/api.js';
import { applyI18n } from '/common/i18n.js';
import { clearErrors, field, formError, h, showError, tx } from './ui.js';

const SECTIONS = [
  { id: 'setup', zh: '区域设置', en: 'District setup', bureau: true, load: () => import('./setup.js') },
  { id: 'review', zh: '人工审核', en: 'Review', load: () => import('./review.js') },
  { id: 'intake', zh: '招生流程', en: 'Intake', bureau: true, load: () => import('./intake.js') },
  { id: 'seats', zh: '学位', en: 'Seats', load: () => import('./seats.js') },
  { id: 'appeals', zh: '申诉与调配', en: 'Appeals & moves', bureau: true, load: () => import('./appeals.js') },
  { id: 'audit', zh: '审计日志', en: 'Audit log', bureau: true, load: () => import('./audit.js') },
  { id: 'exports', zh: '导出', en: 'Exports', load: () => import('./exports.js') },
  { id: 'password', zh: '修改密码', en: 'Change password', load: () => import('./password.js') },
];

const view = document.getElementById('view');
const tabs = document.getElementById('tabs');
const signout = document.getElementById('signout');
const whoEl = document.getElementById('who');
let account = null;

/** What every section gets: the account, and the district's places (read once). */
const ctx = {
  get account() {
    return account;
  },
  get bureau() {
    return account && account.role !== 'school';
  },
  places: null,
  async getPlaces() {
    if (!ctx.places) {
      const r = await api('GET', '/api/console/places');
      ctx.places = r.ok ? r.json : { schools: [], units: [] };
    }
    return ctx.places;
  },
  schoolName(id) {
    const s = ctx.places?.schools.find((x) => x.id === id);
    return s ? `${s.name}（${id}）` : id;
  },
  /** The server ended the session (a password change): back to the sign-in form. */
  signedOut(note) {
    account = null;
    setCsrf(null);
    location.hash = '';
    signout.hidden = true;
    tabs.hidden = true;
    whoEl.textContent = '';
    view.replaceChildren(signInForm(note));
  },
};

// What the sign-in's error codes mean (docs/api.md, "Staff accounts").
const SIGNIN_ERRORS = {
  bad_credentials: { field: 'password', zh: '用户名、密码或动态验证码不正确', en: 'wrong username, password or code' },
  code_used: { field: 'code', zh: '这个动态验证码已经用过，请等下一个（30 秒）', en: 'this code has been used already; wait for the next one (30 seconds)' },
  locked: {
    field: '',
    zh: '登录失败次数过多（15 分钟内 5 次），账号已暂时锁定 15 分钟；也可请市级管理员提前解锁',
    en: 'too many failed sign-ins (5 in 15 minutes): the account is locked for 15 minutes; a city administrator can unlock it sooner',
  },
  no_second_factor: { field: 'code', zh: '这个账号还没有动态验证码，请市级管理员为它重置', en: 'this account has no second factor yet; ask a city administrator to reset it' },
  rate_limited: { field: '', zh: '尝试太频繁，请一分钟后再试', en: 'too many attempts; wait a minute' },
};

function allowed() {
  return SECTIONS.filter((s) => !s.bureau || ctx.bureau);
}

function signInForm(note = null) {
  const user = field('username', { zh: '用户名', en: 'Username' }, h('input', { autocomplete: 'username', required: true }));
  const pass = field('password', { zh: '密码', en: 'Password' },
    h('input', { type: 'password', autocomplete: 'current-password', required: true }));
  const code = field('code', { zh: '动态验证码', en: 'Authenticator code' },
    h('input', { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', pattern: '[0-9]{6}', required: true }),
    { zh: '身份验证器应用（或 oathtool --totp）显示的 6 位数字，每 30 秒更新', en: 'the 6 digits your authenticator app (or oathtool --totp) shows; a new one every 30 seconds' });
  const err = formError();
  const button = h('button', { type: 'submit' }, tx('登录', 'Sign in'));
  const form = h('form', { class: 'card', id: 'signin', novalidate: true },
    h('h2', {}, tx('工作人员登录', 'Staff sign-in')),
    note ? h('p', { class: 'note', role: 'status' }, note) : null,
    user.wrap, pass.wrap, code.wrap, err, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!user.control.value) return showError(form, { field: 'username' }, tx('请输入用户名', 'enter the username'));
    if (!pass.control.value) return showError(form, { field: 'password' }, tx('请输入密码', 'enter the password'));
    const c = code.control.value.replace(/\s/g, '');
    if (!/^\d{6}$/.test(c)) return showError(form, { field: 'code' }, tx('请输入 6 位动态验证码', 'enter the 6-digit code'));
    button.disabled = true;
    const r = await api('POST', '/api/staff/login', { json: { username: user.control.value, password: pass.control.value, code: c } });
    button.disabled = false;
    if (!r.ok) {
      const known = SIGNIN_ERRORS[r.error?.code];
      showError(form, known ? { field: known.field } : r.error, known ? tx(known.zh, known.en) : null);
      return;
    }
    account = { ...r.json, kind: 'staff' };
    start();
  });
  return form;
}

function renderTabs(current) {
  tabs.replaceChildren(...allowed().map((s) =>
    h('a', { href: `#${s.id}`, 'aria-current': s.id === current ? 'page' : null }, tx(s.zh, s.en))));
  tabs.hidden = false;
}

let seq = 0;
async function route() {
  if (!account) return;
  const list = allowed();
  const id = location.hash.slice(1);
  const sec = list.find((s) => s.id === id) || list.find((s) => s.id === 'review');
  renderTabs(sec.id);
  const mine = ++seq;
  const mod = await sec.load();
  if (mine !== seq) return;
  const box = h('section', { 'aria-labelledby': `h-${sec.id}` },
    h('h2', { id: `h-${sec.id}`, tabindex: '-1' }, tx(sec.zh, sec.en)));
  view.replaceChildren(box);
  await ctx.getPlaces();
  await mod.render(box, ctx);
  if (document.activeElement === document.body) box.querySelector('h2').focus();
}

function start() {
  whoEl.textContent = `${account.username} · ${
    { city: tx('市级', 'city'), district: tx('区级', 'district'), school: tx('学校', 'school') }[account.role] ?? account.role
  }${account.role === 'school' ? ` · ${account.school ?? ''}` : ''}`;
  signout.hidden = false;
  ctx.places = null;
  route();
}

signout.addEventListener('click', async () => {
  await api('POST', '/api/logout');
  account = null;
  setCsrf(null);
  location.hash = '';
  signout.hidden = true;
  tabs.hidden = true;
  whoEl.textContent = '';
  view.replaceChildren(signInForm());
});

window.addEventListener('hashchange', route);

applyI18n(document, () => {
  if (account) start();
  else view.replaceChildren(signInForm());
});

const m = await me();
if (m && m.kind === 'staff') {
  account = m;
  start();
} else {
  view.replaceChildren(signInForm());
}
