#!/usr/bin/python3
"""A fake mailcow API for tests, speaking mailcow's wire format.

Loopback only.  Usage:
  fake_mailcow.py [--port N] [--key KEY] [--domain D ...] [--passwd-file F]
Prints "PORT <n>" on stdout once listening (port 0 picks a free one).

API (header X-API-Key, JSON bodies), as mailcow's json_api.php answers:
  POST /api/v1/add/mailbox     {"local_part","domain","password","password2",
                                "active","quota","name",...}
  POST /api/v1/delete/mailbox  ["user@domain", ...]
  GET  /api/v1/get/mailbox/all
Answers are HTTP 200 with a JSON array of entries
  {"type": "success"|"danger"|"error", "log": [...], "msg": [key, args...]}
(msg is sometimes a bare string, as in mailcow).  A missing or wrong key
gets HTTP 401 {"type": "error", "msg": "authentication failed"}.
Failures modelled: domain_not_found, object_exists, password_mismatch,
password_complexity (shorter than 8), quota not a number.

With --passwd-file the fake also does what mailcow's own Dovecot would:
it adds "user@domain:{PLAIN}password::::::" lines (and removes them on
delete) so a real Dovecot can serve the mailbox.

Control (no auth):
  GET  /_fake/log        every API request: method, path, key_ok, and the
                         body with passwords replaced by their length and
                         whether password == password2
  GET  /_fake/mailboxes  the mailboxes that exist
  POST /_fake/fail       {"count": N, "status": 500|200, "msg": [...]}: the
                         next N API calls fail that way
"""
import argparse
import fcntl
import hmac
import http.server
import json
import os
import sys
import threading

lock = threading.Lock()
state = {"log": [], "mailboxes": {}, "fail": None}
cfg = {}


def passwd_edit(add=None, remove=None):
    path = cfg.get("passwd_file")
    if not path:
        return
    with open(path + ".lock", "a") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        if remove:
            lines = [x for x in lines
                     if not x.lower().startswith(remove.lower() + ":")]
        if add:
            lines.append(add)
        tmp = path + ".fake"
        with open(tmp, "w") as f:
            f.write("".join(x + "\n" for x in lines))
        st = os.stat(path) if os.path.exists(path) else None
        if st:
            os.chmod(tmp, st.st_mode & 0o7777)
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass
        os.rename(tmp, path)


def entry(kind, msg, log=None):
    return {"type": kind, "log": log or [], "msg": msg}


def add_mailbox(body):
    if not isinstance(body, dict):
        return [entry("danger", "access_denied")]
    local = str(body.get("local_part", "")).lower()
    domain = str(body.get("domain", "")).lower()
    pw, pw2 = body.get("password", ""), body.get("password2", "")
    log = ["mailbox", "add", "mailbox",
           {k: ("*" if k.startswith("password") else v)
            for k, v in body.items()}]
    if domain not in cfg["domains"]:
        return [entry("danger", ["domain_not_found", domain], log)]
    if not local or "@" in local:
        return [entry("danger", "mailbox_invalid", log)]
    user = "%s@%s" % (local, domain)
    if user in state["mailboxes"]:
        return [entry("danger", ["object_exists", user], log)]
    if pw != pw2:
        return [entry("danger", "password_mismatch", log)]
    if len(pw) < 8:
        return [entry("danger", "password_complexity", log)]
    try:
        int(body.get("quota", "0"))
    except (TypeError, ValueError):
        return [entry("danger", "quota_not_numeric", log)]
    state["mailboxes"][user] = {"username": user, "local_part": local,
                                "domain": domain, "active": 1}
    passwd_edit(add="%s:{PLAIN}%s::::::" % (user, pw))
    return [entry("success", ["mailbox_added", user], log)]


def delete_mailbox(body):
    if isinstance(body, str):
        body = [body]
    if not isinstance(body, list):
        return [entry("danger", "access_denied")]
    out = []
    for user in body:
        user = str(user).lower()
        log = ["mailbox", "delete", "mailbox", {"username": [user]}]
        if "@" not in user:
            out.append(entry("danger", "access_denied", log))
            continue
        # mailcow deletes rows that may not exist and still says removed.
        state["mailboxes"].pop(user, None)
        passwd_edit(remove=user)
        out.append(entry("success", ["mailbox_removed", user], log))
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            return None
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def record(self, body, key_ok):
        b = body
        if isinstance(body, dict):
            b = dict(body)
            for k in ("password", "password2"):
                if k in b:
                    b[k] = len(str(b[k]))
            b["password_match"] = body.get("password") == \
                body.get("password2")
        state["log"].append({"method": self.command, "path": self.path,
                             "key_ok": key_ok,
                             "content_type":
                             self.headers.get("Content-Type"),
                             "body": b})

    def api(self, body):
        key = self.headers.get("X-API-Key") or ""
        key_ok = hmac.compare_digest(key.encode(), cfg["key"].encode())
        with lock:
            self.record(body, key_ok)
            if not key_ok:
                return 401, {"type": "error", "msg": "authentication failed"}
            f = state["fail"]
            if f and f["count"] > 0:
                f["count"] -= 1
                return f.get("status", 500), [entry("danger",
                                                    f.get("msg", "error"))]
            if self.command == "POST" and self.path == "/api/v1/add/mailbox":
                return 200, add_mailbox(body)
            if self.command == "POST" and \
                    self.path == "/api/v1/delete/mailbox":
                return 200, delete_mailbox(body)
            if self.command == "GET" and \
                    self.path == "/api/v1/get/mailbox/all":
                return 200, list(state["mailboxes"].values())
        return 404, {"type": "error", "msg": "route not found"}

    def do_GET(self):
        if self.path == "/_fake/log":
            with lock:
                return self.reply(200, state["log"])
        if self.path == "/_fake/mailboxes":
            with lock:
                return self.reply(200, sorted(state["mailboxes"]))
        self.reply(*self.api(None))

    def do_POST(self):
        body = self.body()
        if self.path == "/_fake/fail":
            with lock:
                state["fail"] = dict(body or {})
            return self.reply(200, {"ok": True})
        self.reply(*self.api(body))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", default="fake-mailcow-key")
    ap.add_argument("--domain", action="append", default=[])
    ap.add_argument("--passwd-file")
    a = ap.parse_args()
    cfg["key"] = a.key
    cfg["domains"] = {d.lower() for d in (a.domain or ["example.test"])}
    cfg["passwd_file"] = a.passwd_file
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
