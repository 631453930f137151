// soak-lib.mjs - what kill_loop.mjs and its workers share: the counters
// they keep in one SharedArrayBuffer, and the n-th child's ID number.

import { checkChar } from '../e2e/harness.mjs';

/** Slots of the shared BigInt64Array. */
export const COUNTER = {
  seq: 0, // the next child number (every child of the run is a different one)
  sent: 1, // requests sent
  answered: 2, // requests that got an answer (any status)
  acked: 3, // 201s logged
};
export const COUNTERS = 4;

// 2020-01-01 .. 2021-12-31: 731 birth dates, 1000 sequence numbers each,
// per region code: 731,000 children a region, regions 110101, 110102, ...
const DAY0 = Date.UTC(2020, 0, 1);
const DAYS = 731;

/** The ID number of child n (0, 1, 2 ...): valid (GB 11643) and distinct for every n. */
export function childIdOf(n) {
  const seq = n % 1000;
  const day = Math.floor(n / 1000) % DAYS;
  const region = 110101 + Math.floor(n / (1000 * DAYS));
  const d = new Date(DAY0 + day * 86400000);
  const d17 = String(region) + String(d.getUTCFullYear()) + String(d.getUTCMonth() + 1).padStart(2, '0') +
    String(d.getUTCDate()).padStart(2, '0') + String(seq).padStart(3, '0');
  return d17 + checkChar(d17);
}
