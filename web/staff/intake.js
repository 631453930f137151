// intake.js - the intake run as a ceremony screen (docs/lottery.md): the
// dry run any time, and its what-if (whatif.js: other seats or another
// policy, and who would move); then commit, freeze, draw (the public entropy typed
// as drawn; the seed shown), the official run with its checks, and the
// publication with the families' deadline.  Each step is offered only
// when it is next (GET /api/intake's phase); the server refuses the rest.

import { api } from '/common/api.js';
import { busy, clearErrors, cstIso, cstLocal, field, formError, h, showError, table, tx } from './ui.js';
import { whatIf } from './whatif.js';

const PHASES = ['setup', 'committed', 'frozen', 'drawn', 'run', 'published'];

export const DRY_KEY = 'ruxue.staff.dryrun';

function runView(j, ctx) {
  const p = j.placed || {};
  const checks = j.checks;
  return h('div', { class: 'run-result' },
    h('dl', { class: 'kv' },
      h('dt', {}, tx('正式', 'official')), h('dd', {}, j.official ? tx('是', 'yes') : tx('否（演练）', 'no (dry run)')),
      h('dt', {}, tx('结果摘要', 'digest')), h('dd', { class: 'mono' }, j.digest ?? ''),
      j.seed ? [h('dt', {}, tx('随机种子', 'seed')), h('dd', { class: 'mono' }, j.seed)] : null,
      h('dt', {}, tx('学生', 'students')), h('dd', {}, String(j.students)),
      h('dt', {}, tx('录取', 'placed')), h('dd', {}, tx(`民办 ${p.private ?? 0}，学区 ${p.catchment ?? 0}，统筹 ${p.overflow ?? 0}`,
        `private ${p.private ?? 0}, catchment ${p.catchment ?? 0}, overflow ${p.overflow ?? 0}`)),
      h('dt', {}, tx('未安置 / 不符合条件', 'unplaced / ineligible')), h('dd', {}, `${j.unplaced} / ${j.ineligible}`)),
    checks ? h('div', { class: `card ${checks.sound ? 'chain-ok' : 'chain-bad'}`, id: 'run-checks' },
      h('p', { class: checks.sound ? 'ok' : 'error' }, checks.sound
        ? tx('检查通过：每人一个学位，不超额，无阻塞对，重算摘要一致。', 'checks passed: one seat each, seats kept, no blocking pair, same digest on a second run.')
        : tx('检查未通过：', 'checks failed:')),
      checks.problems?.length ? h('ul', {}, checks.problems.map((x) => h('li', {}, typeof x === 'string' ? x : JSON.stringify(x)))) : null,
      h('p', { class: 'mono' }, `${tx('重算摘要', 'second run')}: ${checks.second_run_digest ?? ''}`)) : null,
    table([
      { zh: '学校', en: 'school', cell: (s) => ctx.schoolName(s.school) },
      { zh: '学位', en: 'seats', key: 'seats', num: true },
      { zh: '报名', en: 'applicants', key: 'applicants', num: true },
      { zh: '录取', en: 'admitted', key: 'admitted', num: true },
    ], j.schools || []));
}

function stepBox(id, n, phase, title, body) {
  const at = PHASES.indexOf(phase);
  const cls = at >= n ? 'done' : at === n - 1 ? 'now' : '';
  return h('div', { class: `step card ${cls}`, id: `step-${id}` }, h('h3', {}, title), body);
}

export async function render(box, ctx) {
  const stateBox = h('div', { id: 'intake-state' });
  const dryOut = h('div', { id: 'dry-run-result', 'aria-live': 'polite' });
  const dryErr = formError();
  const dryBtn = h('button', { type: 'button', id: 'dry-run' }, tx('演练（不正式、不保存）', 'Dry run (not official, nothing stored)'));
  dryBtn.addEventListener('click', () => busy(dryBtn, async () => {
    clearErrors(dryBox);
    const r = await api('POST', '/api/intake/dry-run');
    if (!r.ok) return showError(dryBox, r.error);
    sessionStorage.setItem(DRY_KEY, JSON.stringify(r.json));
    dryOut.replaceChildren(runView(r.json, ctx));
  }));
  const dryBox = h('div', { class: 'card' }, h('h3', {}, tx('演练', 'Dry run')),
    h('p', { class: 'hint' }, tx('用当前已提交的申请和新的随机种子运行一次完整分配；结果不正式，不保存，家长看不到。',
      'Runs the whole allocation on the submitted applications with a fresh random seed; not official, not stored, not shown to families.')),
    dryBtn, dryErr, dryOut);
  const steps = h('div', { class: 'steps', id: 'ceremony' });
  const prevRun = sessionStorage.getItem(DRY_KEY);
  box.append(stateBox, dryBox, await whatIf(ctx, prevRun ? JSON.parse(prevRun) : null), h('h3', {}, tx('正式流程（公开摇号）', 'The official run (public lottery)')), steps);
  if (prevRun) dryOut.replaceChildren(h('p', { class: 'muted' }, tx('上次演练：', 'last dry run:')), runView(JSON.parse(prevRun), ctx));

  async function refresh(focusId = null) {
    const r = await api('GET', '/api/intake');
    if (!r.ok) return stateBox.replaceChildren(h('p', { class: 'error' }, r.error?.message ?? ''));
    const s = r.json;
    stateBox.replaceChildren(h('p', {}, tx('当前阶段：', 'phase: '), h('strong', { id: 'phase' }, s.phase),
      s.problem ? h('span', { class: 'error' }, ` ${s.problem}`) : null));
    steps.replaceChildren(
      stepBox('commit', 1, s.phase, tx('1. 承诺（报名截止前公布）', '1. Commit (publish before the window closes)'),
        s.commitment ? record([[tx('承诺值', 'commitment'), s.commitment.commitment], [tx('时间', 'at'), s.commitment.at]])
          : action('commit', tx('生成密钥并承诺', 'Make the secret and commit'), () => api('POST', '/api/intake/commit'))),
      stepBox('freeze', 2, s.phase, tx('2. 冻结名单（报名截止后）', '2. Freeze the list (after the window closes)'),
        s.freeze ? record([[tx('名单摘要', 'frozen digest'), s.freeze.frozen_digest], [tx('人数', 'applicants'), s.freeze.applicants], [tx('时间', 'at'), s.freeze.at]])
          : s.commitment ? action('freeze', tx('冻结名单', 'Freeze the list'), () => api('POST', '/api/intake/freeze'),
            tx('冻结后，区域设置、权威数据、报名时间和审核都不能再改。', 'After the freeze the district, records, window and reviews cannot change.'))
            : waiting()),
      stepBox('draw', 3, s.phase, tx('3. 摇号（公证人在场）', '3. Draw (before a notary)'),
        s.draw ? record([[tx('公开熵', 'entropy'), s.draw.entropy], [tx('揭示的密钥', 'secret'), s.draw.secret],
          [tx('随机种子', 'seed'), h('strong', { id: 'seed' }, s.draw.seed)], [tx('时间', 'at'), s.draw.at]])
          : s.freeze ? drawForm() : waiting()),
      stepBox('run', 4, s.phase, tx('4. 正式分配与检查', '4. Official run and its checks'),
        s.phase === 'published' ? record([[tx('结果摘要', 'digest'), s.result?.digest]])
          : s.draw ? runStep() : waiting()),
      stepBox('publish', 5, s.phase, tx('5. 发布结果', '5. Publish'),
        s.publication ? record([[tx('结果摘要', 'digest'), s.publication.digest], [tx('发布时间', 'published'), s.publication.published_at],
          [tx('确认截止', 'deadline'), s.publication.deadline], [tx('签名包', 'bundle'), h('a', { href: '/publication/' }, '/publication/')]])
          : s.draw ? publishForm() : waiting()));
    if (focusId) document.getElementById(`step-${focusId}`)?.querySelector('h3')?.setAttribute('tabindex', '-1');
    if (focusId) document.getElementById(`step-${focusId}`)?.querySelector('h3')?.focus();
  }

  const waiting = () => h('p', { class: 'muted' }, tx('等待上一步', 'waiting for the step before'));
  const record = (pairs) => h('dl', { class: 'kv' }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: 'mono' }, v ?? '')]));

  function action(id, label, call, hint = null) {
    const b = h('button', { type: 'button', id: `do-${id}` }, label);
    const wrap = h('div', {}, hint ? h('p', { class: 'hint' }, hint) : null, b, formError());
    b.addEventListener('click', () => busy(b, async () => {
      clearErrors(wrap);
      const r = await call();
      if (!r.ok) return showError(wrap, r.error);
      await refresh(id);
    }));
    return wrap;
  }

  function drawForm() {
    const ent = field('entropy', { zh: '公开熵（按开奖原样输入）', en: 'Public entropy (typed as drawn)' },
      h('input', { autocomplete: 'off', required: true }),
      { zh: '例如：2027-06-30 福彩3D 第2027170期 开奖号码 4 7 1', en: 'e.g. 2027-06-30 福彩3D 第2027170期 开奖号码 4 7 1' });
    const form = h('form', { novalidate: true, id: 'draw-form' }, ent.wrap, formError(), h('button', { type: 'submit' }, tx('摇号', 'Draw')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(form.querySelector('button'), async () => {
        clearErrors(form);
        if (!ent.control.value.trim()) return showError(form, { field: 'entropy' }, tx('请输入公开熵', 'enter the public entropy'));
        const r = await api('POST', '/api/intake/draw', { json: { entropy: ent.control.value } });
        if (!r.ok) return showError(form, r.error);
        await refresh('draw');
      });
    });
    return form;
  }

  function runStep() {
    const out = h('div', { id: 'run-result', 'aria-live': 'polite' });
    const b = h('button', { type: 'button', id: 'do-run' }, tx('正式分配', 'Run'));
    const wrap = h('div', {}, h('p', { class: 'hint' }, tx('可重复运行，结果相同；发布前家长看不到。', 'May be run again with the same result; families see nothing before the publication.')), b, formError(), out);
    b.addEventListener('click', () => busy(b, async () => {
      clearErrors(wrap);
      const r = await api('POST', '/api/intake/run');
      if (!r.ok) return showError(wrap, r.error);
      out.replaceChildren(runView(r.json, ctx));
    }));
    return wrap;
  }

  function publishForm() {
    const dl = field('deadline', { zh: '家长确认截止（北京时间）', en: 'Families accept by (China time)' },
      h('input', { type: 'datetime-local', step: '1', required: true, value: cstLocal(Date.now() + 7 * 86400e3) }));
    const out = h('div', { 'aria-live': 'polite' });
    const form = h('form', { novalidate: true, id: 'publish-form' }, dl.wrap, formError(),
      h('button', { type: 'submit' }, tx('签名并发布', 'Sign and publish')), out);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(form.querySelector('button'), async () => {
        clearErrors(form);
        if (!dl.control.value) return showError(form, { field: 'deadline' }, tx('请填写截止时间', 'enter the deadline'));
        const r = await api('POST', '/api/intake/publish', { json: { deadline: cstIso(dl.control.value) } });
        if (!r.ok) {
          if (r.json?.checks) out.replaceChildren(runView(r.json, ctx));
          return showError(form, r.error);
        }
        await refresh('publish');
      });
    });
    return form;
  }

  await refresh();
}
