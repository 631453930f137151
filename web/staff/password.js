// password.js - the signed-in staff member changes their password
// (POST /api/staff/password): the current password, a new one (12 to 128
// characters, not a common one, without the username) and a current code
// of the authenticator.  Every session of the account ends, this one too,
// so the page goes back to the sign-in form.

import { api } from '/common/api.js';
import { clearErrors, field, formError, h, showError, tx } from './ui.js';

const ERRORS = {
  too_short: { field: 'new_password', zh: '新密码至少 12 个字符', en: 'the new password needs at least 12 characters' },
  too_long: { field: 'new_password', zh: '新密码最多 128 个字符', en: 'the new password may have at most 128 characters' },
  common_password: { field: 'new_password', zh: '这是常见密码（或常见词加数字），请换一个', en: 'this is a common password (or a common word with digits); choose another' },
  contains_username: { field: 'new_password', zh: '新密码不能包含用户名', en: 'the new password must not contain the username' },
  bad_credentials: { field: 'old_password', zh: '当前密码或动态验证码不正确', en: 'wrong current password or code' },
  code_used: { field: 'code', zh: '这个动态验证码已经用过，请等下一个（30 秒）', en: 'this code has been used already; wait for the next one (30 seconds)' },
  locked: { field: '', zh: '失败次数过多，账号已暂时锁定 15 分钟', en: 'too many failures: the account is locked for 15 minutes' },
};

export async function render(box, ctx) {
  const old = field('old_password', { zh: '当前密码', en: 'Current password' },
    h('input', { type: 'password', autocomplete: 'current-password', required: true }));
  const pass = field('new_password', { zh: '新密码', en: 'New password' },
    h('input', { type: 'password', autocomplete: 'new-password', required: true, minlength: '12', maxlength: '128' }),
    { zh: '12 到 128 个字符；不要用常见密码，不要包含用户名。', en: '12 to 128 characters; not a common password, not the username.' });
  const again = field('new_password_again', { zh: '再输入一次新密码', en: 'New password again' },
    h('input', { type: 'password', autocomplete: 'new-password', required: true }));
  const code = field('code', { zh: '动态验证码', en: 'Authenticator code' },
    h('input', { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', required: true }));
  const err = formError();
  const button = h('button', { type: 'submit' }, tx('修改密码', 'Change password'));
  const form = h('form', { class: 'card', id: 'password-form', novalidate: true },
    h('p', { class: 'hint' }, tx('修改后，这个账号在所有设备上的登录都会结束，需要用新密码重新登录。',
      'After the change every session of this account ends, on every device: sign in again with the new password.')),
    old.wrap, pass.wrap, again.wrap, code.wrap, err, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    if (!old.control.value) return showError(form, { field: 'old_password' }, tx('请输入当前密码', 'enter the current password'));
    if ([...pass.control.value].length < 12) return showError(form, { field: 'new_password' }, tx(ERRORS.too_short.zh, ERRORS.too_short.en));
    if (pass.control.value !== again.control.value)
      return showError(form, { field: 'new_password_again' }, tx('两次输入的新密码不一致', 'the two new passwords differ'));
    const c = code.control.value.replace(/\s/g, '');
    if (!/^\d{6}$/.test(c)) return showError(form, { field: 'code' }, tx('请输入 6 位动态验证码', 'enter the 6-digit code'));
    button.disabled = true;
    const r = await api('POST', '/api/staff/password', {
      json: { old_password: old.control.value, new_password: pass.control.value, code: c },
    });
    button.disabled = false;
    if (!r.ok) {
      const known = ERRORS[r.error?.code];
      showError(form, known ? { field: known.field } : r.error, known ? tx(known.zh, known.en) : null);
      return;
    }
    ctx.signedOut(tx('密码已修改，所有登录已结束。请用新密码重新登录。', 'The password is changed and every session has ended. Sign in with the new password.'));
  });
  box.append(form);
}
