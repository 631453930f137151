// seats.js - every school's seats and the demand for them, and a map of
// the schools and address units coloured by load.  After the publication
// the seats as they stand (GET /api/intake/seats: demand is the seats held
// plus the waitlist); before it, the last dry run's schools (demand is the
// applicants).  Red where demand is at or above the seats, yellow from 90%.
// The map is Leaflet (Debian's libjs-leaflet, served by the server) on a
// plain background: no tiles, nothing loaded from outside.

import { api } from '/common/api.js';
import { h, table, tx } from './ui.js';
import { DRY_KEY } from './intake.js';

const COLORS = { red: '#b3261e', yellow: '#d89b00', green: '#1e7b34', none: '#8a8a8a' };

function load(demand, seats) {
  if (!seats) return demand > 0 ? 'red' : 'none';
  const x = demand / seats;
  return x >= 1 ? 'red' : x >= 0.9 ? 'yellow' : 'green';
}

function legend() {
  return h('p', { class: 'legend' },
    h('span', { style: `background:${COLORS.red}` }), tx('需求 ≥ 学位', 'demand ≥ seats'),
    h('span', { style: `background:${COLORS.yellow}` }), tx('90% 以上', 'from 90%'),
    h('span', { style: `background:${COLORS.green}` }), tx('有余量', 'room left'),
    h('span', { style: `background:${COLORS.none}` }), tx('无数据', 'no data'));
}

function drawMap(el, places, bySchool) {
  const L = window.L;
  if (!L || !places.schools.length) return;
  const map = L.map(el, { attributionControl: false, zoomSnap: 0.25 });
  const pts = [];
  for (const u of places.units) {
    const worst = u.schools.map((s) => bySchool.get(s)?.level).reduce((a, b) =>
      (a === 'red' || b === 'red' ? 'red' : a === 'yellow' || b === 'yellow' ? 'yellow' : a === 'green' || b === 'green' ? 'green' : 'none'), 'none');
    L.circleMarker([u.lat_e6 / 1e6, u.lon_e6 / 1e6], { radius: 4, weight: 1, color: COLORS[worst], fillOpacity: 0.5 })
      .bindTooltip(`${u.name} (${u.id}) → ${u.schools.join(', ') || '—'}`).addTo(map);
    pts.push([u.lat_e6 / 1e6, u.lon_e6 / 1e6]);
  }
  for (const s of places.schools) {
    const row = bySchool.get(s.id);
    const level = row?.level ?? 'none';
    L.circleMarker([s.lat_e6 / 1e6, s.lon_e6 / 1e6], { radius: 7 + Math.min(10, Math.sqrt(s.seats) / 2), weight: 2, color: '#1b1b1b',
      fillColor: COLORS[level], fillOpacity: 0.85 })
      .bindTooltip(`${s.name} (${s.id}) ${row ? `${row.demand}/${row.seats}` : ''}`).addTo(map);
    pts.push([s.lat_e6 / 1e6, s.lon_e6 / 1e6]);
  }
  map.fitBounds(L.latLngBounds(pts).pad(0.1));
}

export async function render(box, ctx) {
  let rows = null;
  let source;
  const r = await api('GET', '/api/intake/seats');
  if (r.ok) {
    source = tx('已发布：当前学位（需求 = 已占 + 候补）', 'published: seats as they stand (demand = held + waitlist)');
    rows = r.json.schools.map((s) => ({ ...s, demand: s.held + s.waitlist, admitted: s.held }));
  } else {
    const dry = JSON.parse(sessionStorage.getItem(DRY_KEY) || 'null');
    if (dry) {
      source = tx('未发布：上次演练（需求 = 报名人数）', 'not published: the last dry run (demand = applicants)');
      rows = dry.schools.map((s) => ({ ...s, demand: s.applicants, free: Math.max(0, s.seats - s.admitted) }));
    }
  }
  const mine = ctx.account.role === 'school' ? ctx.account.school : null;
  if (rows && mine) rows = rows.filter((s) => s.school === mine);
  if (!rows) {
    box.append(h('p', { class: 'muted', id: 'seats-none' }, ctx.bureau
      ? tx('结果尚未发布；在“招生流程”中运行一次演练即可在此看到各校学位。', 'Nothing is published yet; run a dry run under “Intake” to see every school here.')
      : tx('结果尚未发布。', 'Nothing is published yet.')));
    return;
  }
  for (const s of rows) s.level = load(s.demand, s.seats);
  const bySchool = new Map(rows.map((s) => [s.school, s]));
  box.append(h('p', { class: 'hint', id: 'seats-source' }, source), legend(),
    table([
      { zh: '学校', en: 'school', cell: (s) => ctx.schoolName(s.school) },
      { zh: '学位', en: 'seats', key: 'seats', num: true },
      { zh: '报名/需求', en: 'applicants / demand', key: 'demand', num: true },
      { zh: '录取/已占', en: 'admitted / held', key: 'admitted', num: true },
      { zh: '剩余', en: 'free', key: 'free', num: true },
      { zh: '负荷', en: 'load', cell: (s) => h('span', { class: `tag ${s.level === 'red' ? 'bad' : s.level === 'yellow' ? 'warn' : 'ok'}` },
        s.seats ? `${Math.round((100 * s.demand) / s.seats)}%` : '—') },
    ], rows, { rowClass: (s) => (s.level === 'red' ? 'load-red' : s.level === 'yellow' ? 'load-yellow' : null), caption: { zh: '各校学位', en: 'seats per school' } }));
  if (!mine) {
    const el = h('div', { id: 'map', role: 'img', 'aria-label': tx('学校与地址单元负荷地图', 'map of schools and address units by load') });
    box.append(h('h3', {}, tx('负荷地图', 'Load map')), el);
    drawMap(el, ctx.places, bySchool);
  }
}
