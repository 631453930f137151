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
};

function allowed() {
  return SECTIONS.filter((s) => !s.bureau || ctx.bureau);
}

function signInForm() {
  const user = field('username', { zh: '用户名', en: 'Username' }, h('input', { autocomplete: 'username', required: true }));
  const pass = field('password', { zh: '密码', en: 'Password' },
    h('input', { type: 'password', autocomplete: 'current-password', required: true }));
  const err = formError();
  const button = h('button', { type: 'submit' }, tx('登录', 'Sign in'));
  const form = h('form', { class: 'card', id: 'signin', novalidate: true },
    h('h2', {}, tx('工作人员登录', 'Staff sign-in')),
    user.wrap, pass.wrap, err, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!user.control.value) return showError(form, { field: 'username' }, tx('请输入用户名', 'enter the username'));
    if (!pass.control.value) return showError(form, { field: 'password' }, tx('请输入密码', 'enter the password'));
    button.disabled = true;
    const r = await api('POST', '/api/staff/login', { json: { username: user.control.value, password: pass.control.value } });
    button.disabled = false;
    if (!r.ok) {
      const msg = r.error?.code === 'bad_credentials' ? tx('用户名或密码不正确', 'wrong username or password') : null;
      showError(form, r.error?.code === 'bad_credentials' ? { field: 'password' } : r.error, msg);
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
