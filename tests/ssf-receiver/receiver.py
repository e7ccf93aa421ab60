#!/usr/bin/env python3
"""A Shared Signals push receiver (RFC 8935) for Evict's transmitter tests.

It is deliberately independent of Evict's own code: it verifies every SET it is sent with
PyJWT and cryptography, against the transmitter's public JWKS given as a file, the way a
relying party would:

- the body is `application/secevent+jwt`;
- the JOSE header has `typ: secevent+jwt`, `alg: EdDSA` and a `kid` found in the JWKS, and the
  signature verifies with that key;
- `iss` and `aud` are the expected ones; `iat`, `jti`, `sub_id` (with a `format`) and `events`
  are present; `sub` and `exp` are absent (OpenID SSF 1.0);
- `events` holds exactly one event, whose type URI is one of the four Evict emits;
- the `jti` has not been seen before (a replay is refused).

A valid SET is answered `202 Accepted`; anything else `400` with the RFC 8935 error object
(`{"err": ..., "description": ...}`). Each POST is recorded as one JSON line in the file given
with --log (and GET /received returns them all), so a test can assert what arrived verified.

To test the transmitter's retries it can answer the first --fail-first POSTs with
--fail-status (503, 429, ...) and an optional Retry-After, before judging any SET.
"""

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

EVENT_TYPES = {
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked",
    "https://schemas.openid.net/secevent/caep/event-type/credential-change",
    "https://schemas.openid.net/secevent/risc/event-type/credential-compromise",
    "https://schemas.openid.net/secevent/risc/event-type/account-disabled",
}


class Refused(Exception):
    """A SET this receiver will not take, with its RFC 8935 error code."""

    def __init__(self, err, description):
        super().__init__(description)
        self.err = err
        self.description = description


class State:
    def __init__(self, args):
        self.args = args
        with open(args.jwks, encoding="utf-8") as f:
            self.keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(json.load(f)).keys}
        self.expected_authorization = None
        if args.expect_authorization_env:
            self.expected_authorization = "Bearer " + os.environ[args.expect_authorization_env]
        self.seen = set()
        self.posts = 0
        self.records = []
        self.lock = threading.Lock()

    def record(self, entry):
        # Written before the answer goes out, so a test that saw the answer sees the line.
        with self.lock:
            self.records.append(entry)
            if self.args.log:
                with open(self.args.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")
                    f.flush()

    def judge(self, headers, body):
        """The verified claims of the SET in `body`, or Refused."""
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/secevent+jwt":
            raise Refused("invalid_request", f"Content-Type is {content_type!r}")
        if self.expected_authorization is not None:
            if headers.get("Authorization") != self.expected_authorization:
                raise Refused("authentication_failed", "missing or wrong Authorization")
        token = body.decode("ascii", errors="replace").strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise Refused("invalid_request", f"no JOSE header: {e}") from None
        if header.get("typ") != "secevent+jwt":
            raise Refused("invalid_request", f"typ is {header.get('typ')!r}")
        if header.get("alg") != "EdDSA":
            raise Refused("invalid_key", f"alg is {header.get('alg')!r}")
        key = self.keys.get(header.get("kid"))
        if key is None:
            raise Refused("invalid_key", f"unknown kid {header.get('kid')!r}")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["EdDSA"],
                issuer=self.args.issuer,
                audience=self.args.audience,
                leeway=5,
                options={"require": ["iss", "aud", "iat", "jti"], "verify_exp": True},
            )
        except jwt.InvalidSignatureError:
            raise Refused("invalid_key", "the signature does not verify") from None
        except jwt.InvalidIssuerError:
            raise Refused("invalid_issuer", "unexpected iss") from None
        except jwt.InvalidAudienceError:
            raise Refused("invalid_audience", "unexpected aud") from None
        except jwt.PyJWTError as e:
            raise Refused("invalid_request", str(e)) from None
        for forbidden in ("sub", "exp"):
            if forbidden in claims:
                raise Refused("invalid_request", f"an SSF SET has no {forbidden!r} claim")
        sub_id = claims.get("sub_id")
        if not isinstance(sub_id, dict) or not isinstance(sub_id.get("format"), str):
            raise Refused("invalid_request", "no sub_id with a format")
        events = claims.get("events")
        if not isinstance(events, dict) or len(events) != 1:
            raise Refused("invalid_request", "events must hold exactly one event")
        (event_type,) = events
        if event_type not in EVENT_TYPES:
            raise Refused("invalid_request", f"unknown event type {event_type!r}")
        if not isinstance(events[event_type], dict):
            raise Refused("invalid_request", "the event is not an object")
        with self.lock:
            if claims["jti"] in self.seen:
                raise Refused("invalid_request", f"jti {claims['jti']} was seen before")
            self.seen.add(claims["jti"])
        return claims


def handler_for(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def answer(self, status, body=None, extra_headers=()):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            for name, value in extra_headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path != "/received":
                self.answer(404, {"error": "not found"})
                return
            with state.lock:
                records = list(state.records)
            self.answer(200, records)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.posts += 1
                post = state.posts
            args = state.args
            if post <= args.fail_first:
                extra = [("Retry-After", args.retry_after)] if args.retry_after else []
                state.record({"post": post, "verdict": "failed_on_purpose",
                              "status": args.fail_status})
                self.answer(args.fail_status, {"error": "try again"}, extra)
                return
            try:
                claims = state.judge(self.headers, body)
            except Refused as refused:
                state.record({"post": post, "verdict": "refused", "err": refused.err,
                              "description": refused.description})
                self.answer(400, {"err": refused.err, "description": refused.description})
                return
            (event_type,) = claims["events"]
            state.record({
                "post": post,
                "verdict": "accepted",
                "jti": claims["jti"],
                "iss": claims["iss"],
                "aud": claims["aud"],
                "txn": claims.get("txn"),
                "sub_id": claims["sub_id"],
                "event_type": event_type,
                "event": claims["events"][event_type],
                "authorization": self.headers.get("Authorization") is not None,
            })
            self.answer(202)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks", required=True, help="the transmitter's public JWKS file")
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--log", help="append one JSON line per POST to this file")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-status", type=int, default=503)
    parser.add_argument("--retry-after", default=None)
    parser.add_argument("--expect-authorization-env", default=None,
                        help="require 'Authorization: Bearer $VAR'")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(State(args)))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
