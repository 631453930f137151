// audit.js - the audit log a page at a time (GET /api/console/audit), with
// the chain checked on every load: intact or broken (where and why), and
// the head to record (it is what shows a log cut short later; `ruxue audit
// verify --head` checks it).

import { api } from '/common/api.js';
import { h, table, tx } from './ui.js';

const PAGE = 100;

export async function render(box) {
  const chain = h('div', { id: 'audit-chain', 'aria-live': 'polite' });
  const list = h('div', { id: 'audit-list' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, tx('下一页', 'Next page'));
  const back = h('button', { type: 'button', class: 'secondary', hidden: true }, tx('回到开头', 'Back to the start'));
  box.append(chain, list, h('div', { class: 'row' }, back, more));
  let after = 0;

  async function load() {
    const r = await api('GET', `/api/console/audit?after=${after}&limit=${PAGE}`);
    if (!r.ok) {
      chain.replaceChildren(h('p', { class: 'error' }, r.error?.message ?? ''));
      return;
    }
    const c = r.json.chain;
    chain.replaceChildren(h('div', { class: `card ${c.intact ? 'chain-ok' : 'chain-bad'}` },
      h('p', { class: c.intact ? 'ok' : 'error', id: 'chain-state' }, c.intact
        ? tx(`链完整：共 ${c.entries} 条`, `chain intact: ${c.entries} entries`)
        : tx(`链在第 ${c.broken_at} 条断开：${c.why}`, `chain broken at entry ${c.broken_at}: ${c.why}`)),
      h('p', {}, tx('当前链头（请记录）：', 'head (record it): '), h('span', { class: 'mono', id: 'chain-head' }, c.head))));
    list.replaceChildren(table([
      { zh: '序号', en: 'seq', key: 'seq', num: true },
      { zh: '时间', en: 'at', key: 'at' },
      { zh: '操作者', en: 'actor', key: 'actor' },
      { zh: '动作', en: 'action', key: 'action' },
      { zh: '对象', en: 'object', cell: (e) => h('span', { class: 'mono' }, e.object) },
      { zh: '学生化名', en: 'pseudonym', cell: (e) => h('span', { class: 'mono' }, e.pseudonym ?? '') },
      { zh: '结果', en: 'outcome', cell: (e) => h('span', { class: 'mono' }, e.outcome ?? '') },
      { zh: '详情', en: 'detail', cell: (e) => h('span', { class: 'mono' }, e.detail) },
      { zh: '哈希', en: 'hash', cell: (e) => h('span', { class: 'mono', title: e.hash }, `${e.hash.slice(0, 12)}…`) },
    ], r.json.entries, { empty: { zh: '没有记录', en: 'no entries' }, caption: { zh: '审计日志', en: 'audit log' } }));
    more.hidden = r.json.next === null;
    back.hidden = after === 0;
    more.onclick = () => {
      after = r.json.next;
      load();
    };
  }
  back.onclick = () => {
    after = 0;
    load();
  };
  await load();
}
