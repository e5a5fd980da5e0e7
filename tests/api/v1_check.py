#!/usr/bin/python3
"""Checks isola serve's /isola/v1 routes against docs/api/openapi.yaml (result lines).

    v1_check.py OPENAPI.yaml V1_ROUTES.c SOCKET PARAMS.json

1. The document's operations and the route table in src/api/v1_routes.c
   are the same set (method + path): every documented route is
   implemented and every implemented route is documented.
2. Every operation is called over the Unix socket (path parameters and
   bodies from PARAMS.json, which the shell test fills with real objects)
   and its answer is checked: the status is one the document lists for the
   operation, and a JSON body validates against that response's schema
   (python3-jsonschema, Draft 7 over the OpenAPI 3.0 schema objects, with
   $ref resolved inside the document). A route that answers 501 is listed
   as "not implemented" (a TAP skip that names it).
Uses Debian's python3-yaml and python3-jsonschema only.
"""
import http.client
import json
import re
import socket
import sys

import jsonschema
import yaml

n = 0
failed = 0


def tap(ok, desc, extra=""):
    """One result line, "PASS desc" or "FAIL desc  # why"; the shell test
    numbers them into its TAP stream."""
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print("%s %s%s" % ("PASS" if ok else "FAIL", desc, extra), flush=True)


def skip(desc, why):
    global n
    n += 1
    print("SKIP %s: %s" % (desc, why), flush=True)


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.unix_path)


def request(sock, method, path, body=None):
    c = UnixConn(sock)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type") or "", data


def table_routes(src):
    text = open(src, encoding="utf-8").read()
    m = re.search(r"BEGIN v1 routes.*?\n(.*?)/\* END v1 routes", text, re.S)
    if not m:
        sys.exit("no BEGIN/END v1 routes block in " + src)
    return {(meth, "/isola/v1" + path)
            for meth, path in re.findall(r'\{\{"([A-Z]+)", "([^"]+)"\}', m.group(1))}


def main():
    spec_path, table_path, sock, params_path = sys.argv[1:5]
    spec = yaml.safe_load(open(spec_path, encoding="utf-8"))
    params = json.load(open(params_path, encoding="utf-8"))
    resolver = jsonschema.RefResolver.from_schema(spec)
    ops = {}
    for path, item in spec["paths"].items():
        for meth, op in item.items():
            if meth in ("get", "post", "put", "delete", "patch", "head"):
                ops[(meth.upper(), path)] = op
    impl = table_routes(table_path)
    doc = set(ops)
    tap(doc - impl == set(), "every documented route is implemented",
        "" if doc <= impl else "  # missing: %s" % sorted(doc - impl))
    tap(impl - doc == set(), "every implemented route is documented",
        "" if impl <= doc else "  # undocumented: %s" % sorted(impl - doc))
    for key in sorted(ops):
        op = ops[key]
        meth, path = key
        # PARAMS.json: "METHOD PATH": [{"path": {...}, "query": "...", "body": ..., "want": N}]
        for case in params.get("%s %s" % key, [{}]):
            url = path
            for k, v in case.get("path", {}).items():
                url = url.replace("{%s}" % k, v)
            if case.get("query"):
                url += "?" + case["query"]
            desc = "%s %s" % (meth, url)
            try:
                status, ctype, data = request(sock, meth, url, case.get("body"))
            except OSError as e:
                tap(False, desc, "  # %s" % e)
                continue
            listed = op.get("responses", {})
            if status == 501 and "501" in listed:
                skip(desc, "not implemented: " + json.loads(data).get("message", ""))
                continue
            if str(status) not in listed:
                tap(False, desc, "  # status %d not in the document (%s): %s"
                    % (status, ",".join(listed), data[:200]))
                continue
            if "want" in case and status != case["want"]:
                tap(False, desc, "  # status %d, want %d: %s" % (status, case["want"], data[:200]))
                continue
            resp = listed[str(status)]
            if "$ref" in resp:
                resp = resolver.resolve(resp["$ref"])[1]
            content = resp.get("content", {})
            if "application/json" not in content:
                tap(ctype.startswith(tuple(content)) or not content or not data,
                    desc + " -> %d %s" % (status, ctype or "(empty)"))
                continue
            try:
                body = json.loads(data)
                jsonschema.Draft7Validator(content["application/json"]["schema"],
                                           resolver=resolver).validate(body)
                tap(True, desc + " -> %d, body matches the schema" % status)
            except (ValueError, jsonschema.ValidationError) as e:
                tap(False, desc + " -> %d" % status,
                    "  # %s" % str(e).splitlines()[0][:300])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
