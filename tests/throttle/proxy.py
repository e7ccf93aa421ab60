"""A throttling proxy, for the containment executor's tests.

    python3 proxy.py PORT UPSTREAM

Every distinct request (method and path) is refused the first time — a read with 429 Too Many
Requests (Retry-After: 1), a write with 503 Service Unavailable — and passed on to UPSTREAM
(http://127.0.0.1:N) after that, headers and body included, its answer returned. POST
/_proxy/reset forgets what was seen, so that the next requests are refused once again.
Each request is printed to stderr as one JSON line: method, path, and what it was answered.
Python's standard library only.
"""

import json
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class Throttle(BaseHTTPRequestHandler):
    seen = {}
    lock = threading.Lock()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.command == "POST" and self.path == "/_proxy/reset":
            with Throttle.lock:
                Throttle.seen.clear()
            return self.refuse(204, {})
        key = (self.command, self.path)
        with Throttle.lock:
            first = key not in Throttle.seen
            Throttle.seen[key] = True
        if first and self.command == "GET":
            return self.refuse(429, {"Retry-After": "1"})
        if first:
            return self.refuse(503, {})
        request = urllib.request.Request(UPSTREAM + self.path, data=body, method=self.command)
        for name, value in self.headers.items():
            if name.lower() not in HOP_BY_HOP:
                request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, headers, data = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as refused:
            status, headers, data = refused.code, refused.headers, refused.read()
        self.record(status)
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, status, headers):
        self.record(status)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def record(self, status):
        line = json.dumps({"method": self.command, "path": self.path, "status": status})
        with Throttle.lock:
            print(line, file=sys.stderr, flush=True)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_any

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    port, UPSTREAM = int(sys.argv[1]), sys.argv[2].rstrip("/")
    ThreadingHTTPServer(("127.0.0.1", port), Throttle).serve_forever()
