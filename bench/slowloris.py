#!/usr/bin/env python3
"""bench/slowloris.py - slow clients for tools/bench_overload.sh (stdlib only).

    python3 bench/slowloris.py PORT CLIENTS SECONDS [ADDRS] [INTERVAL]

Keeps CLIENTS connections to 127.0.0.1:PORT open for SECONDS, spread over
ADDRS source addresses 127.0.0.2, 127.0.0.3, ... (default 100; all of
127/8 is loopback on Linux), so that the server's per-address limit is met
as it would be from real clients.  Half send a request's headers a byte
every INTERVAL seconds (default 3) and never finish them; the other half
send whole headers of a POST with Content-Length: 100000 and then its body
a byte every INTERVAL seconds.  A connection the server closes is opened
again (after a second), as an attacker would.  SIGTERM ends it early.

Prints "SLOWLORIS ready open=N" once the connections are first up (on
stdout, flushed, for the script to start measuring), and at the end
    SLOWLORIS clients=C open=N opened=O closed_by_server=K refused=R
where open is the connections open at the end, opened every connect that
succeeded, closed_by_server those the server ended and refused the
connects that failed.
"""
import errno
import random
import resource
import selectors
import signal
import socket
import sys
import time


def main():
    port, clients, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    naddrs = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    interval = float(sys.argv[5]) if len(sys.argv) > 5 else 3.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < clients + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, clients + 1024), hard))
    sel = selectors.DefaultSelector()
    rnd = random.Random(7)
    # per client: [sock or None, bytes still to send, next send time, reopen time]
    state = [[None, b"", 0.0, 0.0] for _ in range(clients)]
    counts = {"opened": 0, "closed": 0, "refused": 0}

    def payload(i):
        if i % 2 == 0:
            return (b"GET /api/window HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n"
                    b"X-Slow: " + b"a" * 100000)
        head = (b"POST /api/applications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        return head + b" " * 100000

    def open_one(i, now):
        st = state[i]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.%d" % (2 + i % naddrs), 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
        except OSError:
            s.close()
            counts["refused"] += 1
            st[3] = now + 1
            return
        counts["opened"] += 1
        data = payload(i)
        first = data.index(b"\r\n") + 2 if i % 2 == 0 else data.index(b"\r\n\r\n") + 4
        try:
            s.send(data[:first])
        except OSError:
            pass
        st[0], st[1], st[2] = s, memoryview(data)[first:], now + rnd.uniform(0, interval)
        sel.register(s, selectors.EVENT_READ, i)

    def close_one(i, now):
        st = state[i]
        sel.unregister(st[0])
        st[0].close()
        st[0] = None
        st[3] = now + 1
        counts["closed"] += 1

    stopping = []
    signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    now = time.monotonic()
    for i in range(clients):
        open_one(i, now)
    print("SLOWLORIS ready open=%d" % sum(1 for st in state if st[0]), flush=True)
    end = time.monotonic() + seconds
    while True:
        now = time.monotonic()
        if now >= end or stopping:
            break
        for key, _ in sel.select(timeout=0.2):
            i = key.data
            try:
                if not state[i][0].recv(4096):
                    close_one(i, now)
                    continue
            except BlockingIOError:
                continue
            except OSError:
                close_one(i, now)
                continue
            close_one(i, now)  # an answer (408, 413, ...): the server is done with it
        for i, st in enumerate(state):
            if st[0] is None:
                if now >= st[3]:
                    open_one(i, now)
            elif now >= st[2]:
                st[2] = now + interval
                try:
                    if st[1]:
                        st[0].send(st[1][:1])
                        st[1] = st[1][1:]
                except OSError as e:
                    if e.errno != errno.EAGAIN:
                        close_one(i, now)
    open_now = sum(1 for st in state if st[0])
    print("SLOWLORIS clients=%d open=%d opened=%d closed_by_server=%d refused=%d" %
          (clients, open_now, counts["opened"], counts["closed"], counts["refused"]), flush=True)


if __name__ == "__main__":
    main()
