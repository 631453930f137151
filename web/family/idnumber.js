// idnumber.js - the resident ID number (GB 11643-1999) checked as it is typed,
// with the same rules the server applies (docs/api.md, docs/records.md):
// 18 characters, a region code starting 1-8, a real birth date from
// 1900-01-01 to today, and the check character.

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

/** The check character of the first 17 digits. */
export function checkChar(d17) {
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(d17[i]) * WEIGHTS[i];
  return CHECK[s % 11];
}

/** The number as the form sends it: spaces dropped, x read as X. */
export function normalise(v) {
  return String(v || '').replace(/[\s\u3000]/g, '').toUpperCase();
}

/**
 * The problem with a (partly) typed number, as {zh, en}, or null when
 * nothing is wrong so far.  final: the field is left (or submitted), so a
 * number still short is a problem too.
 */
export function idProblem(raw, { final = false } = {}) {
  const v = normalise(raw);
  if (!v) return final ? { zh: '请填写身份证号', en: 'enter the ID number' } : null;
  const bad = /[^0-9X]/.exec(v);
  if (bad) return { zh: `身份证号只能包含数字和末位的 X，不能有“${bad[0]}”`, en: `an ID number holds digits and a final X only, not '${bad[0]}'` };
  const x = v.indexOf('X');
  if (x >= 0 && x !== 17) return { zh: 'X 只能是第 18 位', en: 'X can only be the 18th character' };
  if (v.length > 18) return { zh: `身份证号为 18 位，已输入 ${v.length} 位`, en: `an ID number has 18 characters, found ${v.length}` };
  if (!/^[1-8]/.test(v)) return { zh: '第 1 位（地区码）应为 1-8', en: 'the first digit (region code) must be 1-8' };
  if (v.length >= 14) {
    const y = +v.slice(6, 10), m = +v.slice(10, 12), d = +v.slice(12, 14);
    const date = new Date(Date.UTC(y, m - 1, d));
    const real = m >= 1 && m <= 12 && date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
    if (!real) return { zh: `第 7-14 位的出生日期 ${v.slice(6, 10)}-${v.slice(10, 12)}-${v.slice(12, 14)} 不是真实日期`,
      en: `the birth date in characters 7-14 (${v.slice(6, 10)}-${v.slice(10, 12)}-${v.slice(12, 14)}) is not a real date` };
    if (y < 1900 || date.getTime() > Date.now()) return { zh: '出生日期应在 1900-01-01 到今天之间', en: 'the birth date must be between 1900-01-01 and today' };
  }
  if (v.length < 18) return final ? { zh: `身份证号为 18 位，已输入 ${v.length} 位`, en: `an ID number has 18 characters, found ${v.length}` } : null;
  if (checkChar(v.slice(0, 17)) !== v[17])
    return { zh: '第 18 位校验码与前 17 位不符（可能输错了某一位）', en: 'the check character (18th) does not match the first 17 digits (a typing error?)' };
  return null;
}

/** The birth date (YYYY-MM-DD) of a valid number. */
export function birthDate(v) {
  v = normalise(v);
  return `${v.slice(6, 10)}-${v.slice(10, 12)}-${v.slice(12, 14)}`;
}
