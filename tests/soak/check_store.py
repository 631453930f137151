#!/usr/bin/env python3
"""check_store.py STORE LOG... - the client's receipts against the store.

Opens STORE read-only (a server may be running on it: a WAL reader takes
no lock a writer waits for) and reads every LOG (lines "RECEIPT FAMILY
IDEM STATUS ROUND PSEUDONYM", one per acknowledged request, written by
tests/soak/ as the answers arrived).  Prints one JSON object:

  acknowledged  log lines (receipts a client got)
  lost          acknowledged receipts that are not in the store
  dup_receipts  receipts the log holds more than once (one receipt given
                for two requests)
  dup_store     receipts, (family, key) pairs or children (lookup, live
                applications) the store holds more than once
  extra         applications in the store no log line holds: done, but
                never acknowledged to anyone (after every unanswered
                request was sent again with its key, there must be none)
  mismatched    receipts whose family, key or pseudonym in the store are
                not what the client was told
  stored        applications in the store
  integrity     PRAGMA quick_check's first line when --integrity is given

Exit 0 whatever the counts (the caller judges them); 2 on bad usage or an
unreadable log or store.
"""
import json
import sqlite3
import sys


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) < 1:
        print(__doc__, file=sys.stderr)
        return 2
    db, logs = args[0], args[1:]
    log = {}
    acknowledged = dup_receipts = 0
    for path in logs:
        with open(path, encoding="utf-8") as f:
            for no, line in enumerate(f, 1):
                parts = line.split()
                if len(parts) != 6:
                    print(f"{path}:{no}: expected 6 fields, found {len(parts)}", file=sys.stderr)
                    return 2
                acknowledged += 1
                receipt, family, idem, _status, _round, pseudonym = parts
                if receipt in log:
                    dup_receipts += 1
                log[receipt] = (int(family), idem, pseudonym)

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    con.execute("BEGIN")  # one snapshot for every read below
    stored = {}
    dup_store = 0
    for receipt, family, idem, pseudonym in con.execute(
            "SELECT receipt, family, idem_key, pseudonym FROM applications"):
        if receipt in stored:
            dup_store += 1
        stored[receipt] = (family, idem, pseudonym)
    dup_store += con.execute(
        "SELECT count(*) - count(DISTINCT family || ' ' || idem_key) FROM applications").fetchone()[0]
    dup_store += con.execute(
        "SELECT count(lookup) - count(DISTINCT lookup) FROM applications WHERE status != 2").fetchone()[0]
    integrity = None
    if "--integrity" in argv:
        integrity = con.execute("PRAGMA quick_check").fetchone()[0]
    con.rollback()
    con.close()

    # the store's family ids are the families' row ids; the log holds the
    # client's family index, so a family is compared by the idem key only
    # (unique per request across the run) and the pseudonym
    lost = sum(1 for r in log if r not in stored)
    extra = sum(1 for r in stored if r not in log)
    mismatched = sum(1 for r, (_f, idem, ps) in log.items()
                     if r in stored and (stored[r][1] != idem or stored[r][2] != ps))
    print(json.dumps({
        "acknowledged": acknowledged, "lost": lost, "dup_receipts": dup_receipts,
        "dup_store": dup_store, "extra": extra, "mismatched": mismatched,
        "stored": len(stored), "integrity": integrity,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
