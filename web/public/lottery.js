// lottery.js - a child's lottery number from the public seed, in the
// browser (docs/lottery.md, 3.5 and 3.6), with WebCrypto:
//
//   m      = HMAC-SHA-256(key = seed, "ruxue/lottery/v1" 0x00 intake 0x00 pseudonym [0x00 school])
//   number = the first 8 bytes of m, big-endian
//   shown  = "0." + ((number >> 24) * 1000000 >> 40), 6 digits, truncated (rx_output_fraction)
//
// Integers are BigInt: the product needs 60 bits, more than a double holds exactly.

const enc = new TextEncoder();

function hexBytes(hex) {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** {number: BigInt, hex: '16 hex digits', shown: '0.xxxxxx'}, or null for a seed that is not 64 hex digits. */
export async function lotteryNumber(seedHex, intake, pseudonym, school = '') {
  const seed = hexBytes(seedHex.trim());
  if (!seed) return null;
  const parts = ['ruxue/lottery/v1', intake, pseudonym, ...(school ? [school] : [])].map((s) => enc.encode(s));
  const len = parts.reduce((n, p) => n + p.length, 0) + parts.length - 1;
  const msg = new Uint8Array(len);
  let at = 0;
  parts.forEach((p, k) => {
    if (k) msg[at++] = 0; // the 0x00 between parts
    msg.set(p, at);
    at += p.length;
  });
  const key = await crypto.subtle.importKey('raw', seed, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, msg));
  let number = 0n;
  for (let i = 0; i < 8; i++) number = (number << 8n) | BigInt(mac[i]);
  const digits = ((number >> 24n) * 1000000n) >> 40n;
  return {
    number,
    hex: number.toString(16).padStart(16, '0'),
    shown: '0.' + digits.toString().padStart(6, '0'),
  };
}
