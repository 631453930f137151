#!/usr/bin/env python3
"""lottery_ref.py - ruxue's lottery written again from docs/lottery.md alone.

A second implementation in another language, with nothing but Python's
standard library (hashlib, hmac), so that the tests can check the C code
against the written spec rather than against itself.  A family, a notary
or a journalist can run it too:

  lottery_ref.py commit SECRET_HEX INTAKE
  lottery_ref.py frozen FROZEN_FILE             (digest of a frozen list)
  lottery_ref.py seed SECRET_HEX INTAKE FROZEN_HEX ENTROPY
  lottery_ref.py number SEED_HEX INTAKE PSEUDONYM [SCHOOL]
  lottery_ref.py vectors                        (the spec's test vectors)
"""
import hashlib
import hmac
import sys


def commitment(secret: bytes, intake: str) -> bytes:
    return hashlib.sha256(b"ruxue/commit/v1\0" + intake.encode() + b"\0" + secret).digest()


def frozen_digest(pseudonyms) -> bytes:
    text = b"".join(p.encode() + b"\n" for p in sorted(pseudonyms, key=str.encode))
    return hashlib.sha256(text).digest()


def seed(secret: bytes, intake: str, frozen: bytes, entropy: str) -> bytes:
    msg = b"ruxue/seed/v1\0" + intake.encode() + b"\0" + frozen.hex().encode() + b"\0" + entropy.encode()
    return hmac.new(secret, msg, hashlib.sha256).digest()


def number(seed_: bytes, intake: str, pseudonym: str, school: str = None) -> int:
    msg = b"ruxue/lottery/v1\0" + intake.encode() + b"\0" + pseudonym.encode()
    if school is not None:
        msg += b"\0" + school.encode()
    return int.from_bytes(hmac.new(seed_, msg, hashlib.sha256).digest()[:8], "big")


def fraction(n: int) -> str:
    """The top 40 bits over 2^40, truncated to 6 decimals."""
    return "0.%06d" % (((n >> 24) * 1000000) >> 40)


def vectors():
    secret = bytes(range(32))
    intake = "2027-G1"
    frozen_list = ["student-42", "S0002", "S0001"]
    entropy = "07 13 22 35 41 48 上海市公证处"
    c = commitment(secret, intake)
    f = frozen_digest(frozen_list)
    s = seed(secret, intake, f, entropy)
    print("secret     ", secret.hex())
    print("intake     ", intake)
    print("commitment ", c.hex())
    print("frozen list", " ".join(sorted(frozen_list, key=str.encode)))
    print("frozen     ", f.hex())
    print("entropy    ", entropy, "(" + entropy.encode().hex() + ")")
    print("seed       ", s.hex())
    for p in sorted(frozen_list, key=str.encode):
        n = number(s, intake, p)
        print("number     ", p, "%016x" % n, fraction(n))
    for p, sch in (("S0001", "PS-07"), ("student-42", "PS-07")):
        n = number(s, intake, p, sch)
        print("number     ", p, "at", sch, "%016x" % n, fraction(n))


def main(argv):
    if len(argv) >= 2 and argv[1] == "vectors":
        vectors()
    elif len(argv) == 4 and argv[1] == "commit":
        print(commitment(bytes.fromhex(argv[2]), argv[3]).hex())
    elif len(argv) == 3 and argv[1] == "frozen":
        with open(argv[2], "rb") as f:
            print(hashlib.sha256(f.read()).hexdigest())
    elif len(argv) == 6 and argv[1] == "seed":
        print(seed(bytes.fromhex(argv[2]), argv[3], bytes.fromhex(argv[4]), argv[5]).hex())
    elif len(argv) in (5, 6) and argv[1] == "number":
        n = number(bytes.fromhex(argv[2]), argv[3], argv[4], argv[5] if len(argv) == 6 else None)
        print("%016x %s" % (n, fraction(n)))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
