// public.js - the public page: the intake's records (GET /api/intake), each
// school's cutoff (GET /api/public/cutoffs), the bundle's files (from
// /publication/SHA256SUMS), and the lottery number check (lottery.js).

import { api } from '/common/api.js';
import { applyI18n, t } from '/common/i18n.js';
import { lotteryNumber } from '/public/lottery.js';

const $ = (id) => document.getElementById(id);
const PHASES = {
  setup: { zh: '准备中：尚未承诺', en: 'setting up: no commitment yet' },
  committed: { zh: '已公布承诺值，申请进行中', en: 'committed; applications are open' },
  frozen: { zh: '申请名单已冻结，等待公开摇号', en: 'the list is frozen; the public draw is next' },
  drawn: { zh: '已公开摇号', en: 'the lottery is drawn' },
  run: { zh: '已运行录取，尚未公布', en: 'allocated, not published yet' },
  published: { zh: '结果已公布', en: 'the result is published' },
};
const SECTORS = { public: { zh: '公办', en: 'public' }, private: { zh: '民办', en: 'private' }, special: { zh: '特殊教育', en: 'special' } };

let intake = null, cutoffs = null, cutoffsError = null, files = null, lot = null;

function set(id, v) {
  $(id).textContent = v ?? '—';
}

function render() {
  if (intake) {
    set('r-intake', intake.intake);
    $('phase').textContent = t(PHASES[intake.phase] || { zh: intake.phase, en: intake.phase });
    set('r-commitment', intake.commitment?.commitment);
    set('r-frozen', intake.freeze ? `${intake.freeze.frozen_digest}` : null);
    set('r-entropy', intake.draw?.entropy);
    set('r-secret', intake.draw?.secret);
    set('r-seed', intake.draw?.seed);
    set('r-digest', intake.publication?.digest ?? intake.result?.digest);
    set('r-published', intake.publication?.published_at);
  }
  const table = $('cutoffs-table');
  if (cutoffs) {
    table.hidden = false;
    $('cutoffs-status').textContent = t({ zh: `共 ${cutoffs.schools.length} 所学校（来自公布包 result/schools.csv）`, en: `${cutoffs.schools.length} schools (from the bundle's result/schools.csv)` });
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const s of cutoffs.schools) {
      const tr = document.createElement('tr');
      const cells = [
        `${s.name}（${s.school}）`,
        t(SECTORS[s.sector] || { zh: s.sector, en: s.sector }),
        s.seats, s.applicants, s.admitted,
        s.cutoff === 'not full' || s.cutoff === '未满额' ? t({ zh: '未满额', en: 'not full' }) : s.cutoff,
      ];
      cells.forEach((c, k) => {
        const td = document.createElement(k === 0 ? 'th' : 'td');
        if (k === 0) td.scope = 'row';
        if (k >= 2 && k <= 4) td.className = 'num';
        td.textContent = c ?? '';
        tr.append(td);
      });
      tr.dataset.school = s.school;
      body.append(tr);
    }
  } else {
    table.hidden = true;
    $('cutoffs-status').textContent = cutoffsError ? t(cutoffsError) : '';
  }
  const ul = $('files');
  ul.replaceChildren();
  if (files) {
    $('files-status').textContent = t({ zh: `公布包共 ${files.length + 2} 个文件：`, en: `The bundle's ${files.length + 2} files:` });
    for (const f of ['SHA256SUMS', 'SHA256SUMS.sig', ...files]) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = '/publication/' + f.split('/').map(encodeURIComponent).join('/');
      a.textContent = f;
      li.append(a);
      ul.append(li);
    }
  } else {
    $('files-status').textContent = t({ zh: '结果公布后可在此下载公布包。', en: 'The bundle can be downloaded here once the result is published.' });
  }
  if (lot) {
    $('lot-out').textContent = t({
      zh: `${lot.pseudonym} 的随机号：${lot.shown}（64 位数 ${lot.hex}，越小越优先）`,
      en: `${lot.pseudonym}'s lottery number: ${lot.shown} (64-bit number ${lot.hex}; lower wins)`,
    });
  }
}

async function load() {
  const r = await api('GET', '/api/intake');
  if (r.ok) {
    intake = r.json;
    if (intake.draw?.seed && !$('lot-seed').value) $('lot-seed').value = intake.draw.seed;
    if (!$('lot-intake').value) $('lot-intake').value = intake.intake;
  }
  if (intake?.phase === 'published') {
    const c = await api('GET', '/api/public/cutoffs');
    if (c.ok) cutoffs = c.json;
    else cutoffsError = { zh: `无法读取录取线：${c.error?.message || c.status}`, en: `Cannot read the cutoffs: ${c.error?.message || c.status}` };
    try {
      const s = await fetch('/publication/SHA256SUMS');
      if (s.ok) {
        // sha256sum format: 64 hex digits, two spaces (or " *"), the path
        files = (await s.text()).split('\n').map((l) => l.match(/^[0-9a-f]{64} [ *](.+)$/)?.[1]).filter(Boolean);
      }
    } catch {
      files = null;
    }
  } else {
    cutoffsError = { zh: '录取结果公布后显示各校录取线。', en: 'Each school\'s cutoff is shown once the result is published.' };
  }
  render();
}

$('lot-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const err = $('lot-error');
  err.textContent = '';
  const pseudonym = $('lot-pseudonym').value.trim();
  const seed = $('lot-seed').value.trim();
  const intakeId = $('lot-intake').value.trim();
  if (!/^P[0-9a-f]{4,22}$/.test(pseudonym)) {
    err.textContent = t({ zh: '化名编号以 P 开头，后接十六进制数字。', en: 'A pseudonym is P followed by hex digits.' });
    $('lot-pseudonym').focus();
    return;
  }
  if (!intakeId) {
    err.textContent = t({ zh: '请填写招生批次。', en: 'Fill in the intake.' });
    $('lot-intake').focus();
    return;
  }
  const n = await lotteryNumber(seed, intakeId, pseudonym, $('lot-school').value.trim());
  if (!n) {
    err.textContent = t({ zh: '种子应为 64 位十六进制数字（摇号后公布）。', en: 'The seed is 64 hex digits (published at the draw).' });
    $('lot-seed').focus();
    return;
  }
  lot = { pseudonym, ...n };
  render();
});

applyI18n(document, render);
load();
