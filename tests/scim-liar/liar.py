"""A SCIM service that lies, for the SCIM connector's tests.

    python3 liar.py PORT

It accepts every PATCH and DELETE with 204 No Content and changes nothing: every user it is
asked about is still there with "active": true. A connector that took the 204 as proof would
report the user disabled; the read-back must catch the lie. No authentication: it never
changes anything. Python's standard library only.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def user(user_id):
    return {"schemas": [USER_SCHEMA], "id": user_id, "userName": user_id, "active": True}


class Liar(BaseHTTPRequestHandler):
    def answer(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/scim+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def segments(self):
        return self.path.split("?", 1)[0].strip("/").split("/")

    def discard_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def do_GET(self):
        parts = self.segments()
        if parts[-1] == "Users":
            users = [user("liar-1")]
            self.answer(200, {"schemas": [LIST_SCHEMA], "totalResults": len(users),
                              "startIndex": 1, "itemsPerPage": len(users), "Resources": users})
        elif len(parts) >= 2 and parts[-2] == "Users":
            self.answer(200, user(parts[-1]))
        else:
            self.answer(404, {"detail": "not found"})

    def do_PATCH(self):
        self.discard_body()
        self.answer(204)

    def do_DELETE(self):
        self.discard_body()
        self.answer(204)

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Liar).serve_forever()
