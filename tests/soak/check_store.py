#!/usr/bin/env python3
"""check_store.py - the client's receipts against the store.

  check_store.py STORE LOG... [--pending FILE] [--integrity]
  check_store.py --serve STORE LOGDIR      (kill_loop.mjs: one process for the run)

Opens STORE read-only (a server may be running on it: a WAL reader takes
no lock a writer waits for) and reads the LOGs (lines "RECEIPT FAMILY IDEM
STATUS ROUND PSEUDONYM", one per acknowledged request, written by
tests/soak/ as the answers arrived).  Prints one JSON object:

  acknowledged  log lines (receipts a client got)
  lost          acknowledged receipts that are not in the store
  dup_receipts  receipts the log holds more than once (one receipt given
                for two requests)
  dup_store     receipts, (family, key) pairs or children (lookup, live
                applications) the store holds more than once
  extra         applications in the store no log line holds: committed,
                but the answer never reached the client (cut off by a
                kill); once every unanswered request was sent again with
                its key, there must be none
  extra_unexplained  those of them whose Idempotency-Key is not one of
                the requests in the --pending FILE (one key a line: the
                requests sent and not answered); must be 0 always
  mismatched    receipts whose key or pseudonym in the store are not what
                the client was told
  stored        applications in the store
  integrity     PRAGMA integrity_check's first line when --integrity is given

With --serve it reads commands from standard input, one a line, "check
PENDINGFILE" or "check PENDINGFILE --integrity", and answers each with
that JSON object on a line; every *.log file of LOGDIR is read once, from
where the last check left it (the run's receipts are all kept: each check
covers every receipt logged since the start).

Exit 0 whatever the counts (the caller judges them); 2 on bad usage or an
unreadable log or store.
"""
import json
import os
import sqlite3
import sys


class Log:
    """Every receipt logged so far: receipt -> (family, idem, pseudonym)."""

    def __init__(self):
        self.receipts = {}
        self.acknowledged = 0
        self.dup_receipts = 0
        self.offsets = {}

    def read(self, path):
        with open(path, encoding="utf-8") as f:
            f.seek(self.offsets.get(path, 0))
            while True:
                line = f.readline()
                if not line or not line.endswith("\n"):
                    break  # a line being written is read next time
                self.offsets[path] = f.tell()
                parts = line.split()
                if len(parts) != 6:
                    raise ValueError(f"{path}: expected 6 fields, found {len(parts)}: {line!r}")
                receipt, family, idem, _status, _round, pseudonym = parts
                self.acknowledged += 1
                if receipt in self.receipts:
                    self.dup_receipts += 1
                self.receipts[receipt] = (int(family), idem, pseudonym)


def read_pending(path):
    if not path:
        return set()
    with open(path, encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip()}


def check(db, log, pending, integrity_wanted):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
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
        if integrity_wanted:
            integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        con.rollback()
    finally:
        con.close()

    # the store's family ids are its own row ids, the log's the client's
    # index: a request is matched by its key (unique in the run) and the
    # pseudonym the client was told
    logged = log.receipts
    lost = sum(1 for r in logged if r not in stored)
    extra = sum(1 for r in stored if r not in logged)
    extra_unexplained = sum(1 for r, (_f, idem, _p) in stored.items()
                            if r not in logged and idem not in pending)
    mismatched = sum(1 for r, (_f, idem, ps) in logged.items()
                     if r in stored and (stored[r][1] != idem or stored[r][2] != ps))
    return {
        "acknowledged": log.acknowledged, "lost": lost, "dup_receipts": log.dup_receipts,
        "dup_store": dup_store, "extra": extra, "extra_unexplained": extra_unexplained,
        "mismatched": mismatched, "stored": len(stored), "integrity": integrity,
    }


def serve(db, logdir):
    log = Log()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] != "check" or len(words) < 2:
            print(json.dumps({"error": f"expected 'check PENDINGFILE', found {line.strip()!r}"}), flush=True)
            continue
        try:
            for name in sorted(os.listdir(logdir)):
                if name.endswith(".log"):
                    log.read(os.path.join(logdir, name))
            out = check(db, log, read_pending(words[1]), "--integrity" in words[2:])
        except (OSError, ValueError, sqlite3.Error) as e:
            out = {"error": str(e)}
        print(json.dumps(out), flush=True)
    return 0


def main(argv):
    args, pending_file, integrity_wanted, serving = [], None, False, False
    rest = argv[1:]
    while rest:
        a = rest.pop(0)
        if a == "--pending" and rest:
            pending_file = rest.pop(0)
        elif a == "--integrity":
            integrity_wanted = True
        elif a == "--serve":
            serving = True
        elif a.startswith("--"):
            print(f"check_store.py: unknown option '{a}'\n{__doc__}", file=sys.stderr)
            return 2
        else:
            args.append(a)
    if serving:
        if len(args) != 2:
            print(__doc__, file=sys.stderr)
            return 2
        return serve(args[0], args[1])
    if len(args) < 1:
        print(__doc__, file=sys.stderr)
        return 2
    log = Log()
    try:
        for path in args[1:]:
            log.read(path)
        out = check(args[0], log, read_pending(pending_file), integrity_wanted)
    except (OSError, ValueError, sqlite3.Error) as e:
        print(f"check_store.py: {e}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
