// lottery.js - a child's lottery number computed in the browser from the
// published seed (docs/lottery.md 3.5 and 3.6, WebCrypto as in 3.10).
//
//   m      = HMAC-SHA-256(key = seed, "ruxue/lottery/v1" 0x00 intake 0x00 pseudonym [0x00 school])
//   number = the first 8 bytes of m (big-endian)
//   shown  = "0." + ((top 40 bits * 1000000) >> 40), 6 digits, truncated

export async function lotteryNumber(seedHex, intake, pseudonym, school) {
  const enc = new TextEncoder();
  const parts = [enc.encode('ruxue/lottery/v1'), enc.encode(intake), enc.encode(pseudonym)];
  if (school !== undefined) parts.push(enc.encode(school));
  const msg = new Uint8Array(parts.reduce((n, p) => n + p.length, 0) + parts.length - 1);
  let at = 0;
  parts.forEach((p, i) => {
    if (i) msg[at++] = 0x00;
    msg.set(p, at);
    at += p.length;
  });
  if (!/^([0-9a-fA-F]{2})+$/.test(seedHex)) throw new Error('the seed is not hex');
  const seed = new Uint8Array(seedHex.match(/../g).map((h) => parseInt(h, 16)));
  const key = await crypto.subtle.importKey('raw', seed, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, msg));
  const hex = [...mac.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
  const top40 = BigInt('0x' + hex.slice(0, 10));
  return { number: hex, fraction: '0.' + ((top40 * 1000000n) >> 40n).toString().padStart(6, '0') };
}
