#!/usr/bin/env python3
"""A small distribution-spec registry for the cases docker-registry cannot
stage: a Bearer token service (the challenge, the token fetch, scopes), blob
transfers cut in the middle (the client must resume with Range), and 500
answers with an error body. It serves the images of an OCI layout read-only.

usage: registry_stub.py PORT LAYOUT LOG
Every request is appended to LOG as "METHOD PATH range=<Range> auth=<scheme>".
Repository "broken/server" answers 500 to everything; "slow/<any>" serves
the same images but trickles blob bodies (1 KiB every 50 ms).
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, LAYOUT, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
TOKEN = "stub-token-0123456789"
cut_done = set()
lock = threading.Lock()


def tags():
    with open(os.path.join(LAYOUT, "index.json")) as f:
        idx = json.load(f)
    out = {}
    for m in idx.get("manifests", []):
        name = m.get("annotations", {}).get("org.opencontainers.image.ref.name")
        if name:
            out[name] = m["digest"]
    return out


def blob(digest):
    if not digest.startswith("sha256:") or "/" in digest:
        return None
    path = os.path.join(LAYOUT, "blobs", "sha256", digest[7:])
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return f.read()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self):
        auth = self.headers.get("Authorization", "").split(" ")[0]
        with lock, open(LOG, "a") as f:
            f.write("%s %s range=%s auth=%s\n" % (self.command, self.path,
                                                  self.headers.get("Range", ""), auth))

    def send(self, code, body=b"", ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, ecode, msg, headers=()):
        body = json.dumps({"errors": [{"code": ecode, "message": msg}]}).encode()
        self.send(code, body, headers=headers)

    def challenge(self, scope):
        realm = "http://127.0.0.1:%d/token" % PORT
        value = 'Bearer realm="%s",service="stub"' % realm
        if scope:
            value += ',scope="%s"' % scope
        self.error(401, "UNAUTHORIZED", "authentication required",
                   headers=[("WWW-Authenticate", value)])

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.record()
        path = self.path.split("?")[0]
        if path == "/token":
            body = json.dumps({"token": TOKEN, "expires_in": 300}).encode()
            return self.send(200, body)
        authed = self.headers.get("Authorization", "") == "Bearer " + TOKEN
        if path == "/v2/":
            return self.send(200, b"{}") if authed else self.challenge("")
        parts = path[len("/v2/"):].split("/")
        if not path.startswith("/v2/") or len(parts) < 3:
            return self.error(404, "NAME_UNKNOWN", "no such path")
        repo, kind, ref = "/".join(parts[:-2]), parts[-2], parts[-1]
        if not authed:
            return self.challenge("repository:%s:pull" % repo)
        if repo == "broken/server":
            return self.error(500, "UNKNOWN", "the stub is broken on purpose")
        if kind == "manifests":
            digest = tags().get(ref, ref)
            data = blob(digest)
            if data is None:
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            mt = json.loads(data).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
            return self.send(200, data, ctype=mt,
                             headers=[("Docker-Content-Digest", digest)])
        if kind == "blobs" and repo.startswith("slow/"):
            return self.trickle(ref)
        if kind == "blobs":
            return self.send_blob(ref)
        return self.error(404, "NAME_UNKNOWN", "no such path")

    def trickle(self, digest):
        data = blob(digest)
        if data is None:
            return self.error(404, "BLOB_UNKNOWN", "blob unknown")
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            for i in range(0, len(data), 1024):
                self.wfile.write(data[i:i + 1024])
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass
        self.close_connection = True

    def send_blob(self, digest):
        data = blob(digest)
        if data is None:
            return self.error(404, "BLOB_UNKNOWN", "blob unknown")
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            part = data[start:]
            return self.send(206, part, ctype="application/octet-stream", headers=[
                ("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))])
        with lock:
            first = digest not in cut_done and len(data) > 1024
            cut_done.add(digest)
        if not first or self.command == "HEAD":
            return self.send(200, data, ctype="application/octet-stream")
        # The first transfer of a big blob stops half-way: the client sees a
        # short body and must resume with Range.
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:len(data) // 2])
        self.wfile.flush()
        self.close_connection = True


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
