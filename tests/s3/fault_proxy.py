#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for S3 tests (python3 stdlib only).

Sits between vol and an S3 server and, per request, at configurable rates:
  reset     closes the client connection with a TCP RST instead of answering
  err503    answers 503 SlowDown without asking the server
  slow      waits slow_ms before answering
  truncate  sends a GET body's headers (full Content-Length) but only part of
            the body, then resets the connection
  alter     flips one byte of a GET body (same length, same headers)
  drop      forwards the request, then resets the connection instead of
            answering: the server acted, the client cannot know
Body faults apply only to 2xx GET responses with a body. The Host header is
forwarded unchanged, so SigV4 signatures made for the proxy's address verify
at the server. With --tls-cert/--tls-key it serves HTTPS (to test certificate
verification).

  fault_proxy.py --upstream http://127.0.0.1:7481 [--port 0] [--reset 0.2 ...]
prints "PORT" on stdout once listening (then keeps running until killed).

Control, at the proxy's own address (not a valid bucket name, so no clash):
  GET /__fault__/set?reset=0.3&slow=0.1&slow_ms=2000&seed=1   (rates not given are 0)
  GET /__fault__/stats   -> JSON: requests seen, faults injected by kind
"""
import argparse
import http.client
import http.server
import json
import random
import socket
import struct
import sys
import threading
import time
import urllib.parse

KINDS = ("reset", "err503", "slow", "truncate", "alter", "drop")


class State:
    def __init__(self, upstream, rates, slow_ms, seed):
        self.lock = threading.Lock()
        self.upstream = upstream
        self.rates = dict(rates)
        self.slow_ms = slow_ms
        self.rng = random.Random(seed)
        self.stats = {"requests": 0, **{k: 0 for k in KINDS}}

    def roll(self, kind):
        with self.lock:
            hit = self.rng.random() < self.rates.get(kind, 0.0)
            if hit:
                self.stats[kind] += 1
            return hit


STATE = None
LOCAL = threading.local()


def upstream_connection():
    conn = getattr(LOCAL, "conn", None)
    if conn is None:
        u = urllib.parse.urlsplit(STATE.upstream)
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)
        LOCAL.conn = conn
    return conn


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reset_connection(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def control(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path == "/__fault__/set":
            q = urllib.parse.parse_qs(u.query)
            with STATE.lock:
                for k in KINDS:  # a rate not given is 0: each call sets them all
                    STATE.rates[k] = float(q[k][0]) if k in q else 0.0
                if "slow_ms" in q:
                    STATE.slow_ms = int(q["slow_ms"][0])
                if "seed" in q:
                    STATE.rng.seed(int(q["seed"][0]))
                for k in STATE.stats:
                    STATE.stats[k] = 0
            body = b"ok\n"
        else:
            with STATE.lock:
                body = (json.dumps(STATE.stats) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        if self.path.startswith("/__fault__/"):
            return self.control()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with STATE.lock:
            STATE.stats["requests"] += 1
        if STATE.roll("reset"):
            return self.reset_connection()
        if STATE.roll("err503"):
            msg = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                   b"<Message>injected by fault_proxy</Message></Error>")
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(msg)
            return
        if STATE.roll("slow"):
            time.sleep(STATE.slow_ms / 1000.0)

        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "keep-alive", "proxy-connection")}
        for attempt in range(2):
            conn = upstream_connection()
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers.items():
                    conn.putheader(k, v)
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                LOCAL.conn = None
                if attempt == 1:
                    # The server is gone: the client sees a reset, as it would.
                    return self.reset_connection()

        if STATE.roll("drop"):
            return self.reset_connection()
        is_body = self.command == "GET" and 200 <= resp.status < 300 and len(data) > 0
        truncate = is_body and STATE.roll("truncate")
        if is_body and not truncate and STATE.roll("alter"):
            i = STATE.rng.randrange(len(data))
            data = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]

        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                continue
            self.send_header(k, v)
        # A HEAD answer's Content-Length is the object's size; keep it.
        length = resp.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            return self.reset_connection()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Clients that give up (timeouts, the faults themselves) are normal here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            super().handle_error(request, client_address)


def main():
    global STATE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--slow-ms", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (and its key, --tls-key)")
    ap.add_argument("--tls-key")
    for k in KINDS:
        ap.add_argument("--" + k, type=float, default=0.0)
    a = ap.parse_args()
    STATE = State(a.upstream, {k: getattr(a, k) for k in KINDS}, a.slow_ms, a.seed)
    srv = Server(("127.0.0.1", a.port), Handler)
    if a.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
