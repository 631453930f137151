// exports.js - every table as CSV that opens in Excel (UTF-8 with a BOM,
// CRLF, RFC 4180 quoting): GET /api/console/export/{name}.csv.  ID numbers
// are masked; a school account gets its own school's rows only and is not
// offered the bureau's lists.

import { h, tx } from './ui.js';

const EXPORTS = [
  { name: 'applications.csv', zh: '全部申请', en: 'all applications' },
  { name: 'review.csv', zh: '待审核', en: 'review queue' },
  { name: 'seats.csv', zh: '学位（发布后）', en: 'seats (after publication)' },
  { name: 'moves.csv', zh: '学位调整', en: 'moves', bureau: true },
  { name: 'appeals.csv', zh: '申诉', en: 'appeals', bureau: true },
];

export async function render(box, ctx) {
  box.append(
    h('p', { class: 'hint' }, tx('CSV 文件为 UTF-8（带 BOM），可直接用 Excel 打开；身份证号均已脱敏。',
      'The files are UTF-8 with a BOM and open in Excel; ID numbers are masked.')),
    h('ul', { id: 'export-list' }, EXPORTS.filter((x) => !x.bureau || ctx.bureau).map((x) =>
      h('li', {}, h('a', { href: `/api/console/export/${x.name}`, download: x.name }, `${x.name}`), ` — ${tx(x.zh, x.en)}`))));
}
