#!/usr/bin/env python3
"""S3 faults for the local stack: an HTTP proxy between the functions and
moto_server that forwards every request, except those a fault rule picks.

    fault-proxy.py --moto URL --dir DIR --ports-file FILE FUNCTION...

Each function gets its own port, chosen by the kernel when the proxy binds it
(a port picked beforehand and bound later could be taken in between); once all
are bound the proxy writes them to FILE as FUNCTION=PORT lines (by rename, so a
reader sees all or nothing) and lib.sh points each function's AWS_ENDPOINT_URL
at its port, so the proxy knows which function sent a request. The rules are read
from DIR/faults.json (replaced by rename between schedules; a new file restarts
the counts): a JSON list of

    {"function": "mini-tree", "op": "PUT", "nth": 3, "fault": F}

where the rule fires once, on that function's nth request of that HTTP method
(op "ANY": of any method) (1-based, counted since the file was written), or,
with "key" (BUCKET/KEY) in place of "nth", on its first such request to that
object; and F is one of:

    kill_before   SIGKILL the function's process (DIR/FUNCTION.pid, written by
                  lib.sh's supervisor, which starts a new one as Lambda starts a
                  new sandbox) before the request reaches S3: the write is lost;
    kill_after    forward the request, then SIGKILL the function before it sees
                  the answer: the write landed, the function never knew;
    s3_500        answer 500 InternalError without forwarding;
    s3_503        answer 503 SlowDown without forwarding;
    reset         close the connection with a TCP reset, without an answer;
    cut           forward, then send the answer's headers and half its body and
                  close (a body cut mid-stream; logged as no fault where the
                  answer has no body).

Every request is logged to DIR/requests.jsonl when it is answered (in the order
the answers came: a write is logged after S3 stored it), as
{"function", "method", "key", "status", "fault"}: the campaign reads the order of
writes and which faults fired from it. Standard library only.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import struct
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("kill_before", "kill_after", "s3_500", "s3_503", "reset", "cut")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}

lock = threading.Lock()
state = {"mtime": None, "rules": [], "counts": {}, "fired": set()}


def load_rules(directory):
    """The rules of DIR/faults.json; counts restart when the file changes."""
    path = os.path.join(directory, "faults.json")
    try:
        st = os.stat(path)
        key = (st.st_mtime_ns, st.st_ino)
    except FileNotFoundError:
        key = None
    if key != state["mtime"]:
        rules = []
        if key is not None:
            with open(path, encoding="utf-8") as f:
                rules = json.load(f)
            for r in rules:
                if r.get("fault") not in FAULTS or not str(r.get("op", "")).isupper():
                    raise ValueError(f"fault-proxy: bad rule {r!r}")
        state.update(mtime=key, rules=rules, counts={}, fired=set())
    return state["rules"]


def pick_fault(directory, function, method, key):
    """The fault of this request, if a rule picks it (counts it either way)."""
    with lock:
        rules = load_rules(directory)
        counts = state["counts"]
        for op in (method, "ANY"):
            counts[(function, op)] = counts.get((function, op), 0) + 1
        for i, r in enumerate(rules):
            if i in state["fired"] or r["function"] != function:
                continue
            op = r["op"]
            if op != "ANY" and op != method:
                continue
            if r.get("key", key) == key and counts.get((function, op), 0) == r.get("nth", counts.get((function, op))):
                state["fired"].add(i)
                return r["fault"]
    return None


def log(directory, record):
    line = json.dumps(record) + "\n"
    with lock:
        with open(os.path.join(directory, "requests.jsonl"), "a", encoding="utf-8") as f:
            f.write(line)


def kill(directory, function):
    try:
        with open(os.path.join(directory, f"{function}.pid"), encoding="utf-8") as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError) as e:
        sys.stderr.write(f"fault-proxy: could not kill {function}: {e}\n")


def handler(function, moto, directory):
    target = urllib.parse.urlsplit(moto)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # the JSON log is the log
            pass

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def error(self, status, code, message):
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                f"<Message>{message}</Message></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has no body
                self.wfile.write(body)

        def reset(self):
            """Closes the connection with a TCP reset (RST), not a clean FIN."""
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

        def forward(self, data):
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(data))
            conn.request(self.command, self.path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            conn.close()
            return resp, payload

        def handle_any(self):
            data = self.body()
            key = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path.lstrip("/"))
            fault = pick_fault(directory, function, self.command, key)
            record = {"function": function, "method": self.command, "key": key, "fault": fault}
            if fault in ("kill_before", "reset"):
                if fault == "kill_before":
                    kill(directory, function)
                record["status"] = None
                log(directory, record)
                self.reset()
                return
            if fault in ("s3_500", "s3_503"):
                record["status"] = 500 if fault == "s3_500" else 503
                log(directory, record)
                if fault == "s3_500":
                    self.error(500, "InternalError", "We encountered an internal error. Please try again.")
                else:
                    self.error(503, "SlowDown", "Please reduce your request rate.")
                return
            resp, payload = self.forward(data)
            record["status"] = resp.status
            if fault == "cut" and (self.command == "HEAD" or len(payload) < 2):
                record["fault"] = None  # no body to cut: nothing injected
            log(directory, record)
            if fault == "kill_after":
                kill(directory, function)
                self.close_connection = True
                return
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                # A HEAD answer keeps the object's Content-Length, with no body.
                if k.lower() not in HOP_BY_HOP and (self.command == "HEAD" or k.lower() != "content-length"):
                    self.send_header(k, v)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if fault == "cut" and len(payload) > 1:
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--moto", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--ports-file", required=True)
    p.add_argument("functions", nargs="+", metavar="FUNCTION")
    a = p.parse_args()
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler(f, a.moto, a.dir)) for f in a.functions]
    tmp = a.ports_file + ".tmp"
    with open(tmp, "w") as out:
        for f, s in zip(a.functions, servers):
            out.write(f"{f}={s.server_address[1]}\n")
    os.replace(tmp, a.ports_file)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
