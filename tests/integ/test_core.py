"""The spine: two agents, one-time delivery to the owner only, waiters,
revocation, restarts, bad input.  Real agentidd, plain socket clients."""

import json
import os
import socket
import sqlite3
import subprocess
import threading
import time

from lib import Daemon, Tests, call, AGENTIDD

t = Tests()
d = Daemon()
os.chmod(d.dir, 0o755)          # so another uid can reach the sockets

a = d.provision("alice")
b = d.provision("bob")
ta, tb = a["token"], b["token"]
t.check(ta.startswith("aid_") and len(ta) == 47, "token is aid_ + 256 bits")
t.check(ta != tb, "tokens differ")
t.eq(d.admin({"op": "provision", "name": "alice"}).get("error"), "exists",
     "provision of an existing name is refused")
for bad in ["Alice", "1abc", "a" * 33, "a_b", "", "a b"]:
    r = d.admin({"op": "provision", "name": bad})
    t.eq(r.get("error"), "bad_request", "bad agent name %r refused" % bad)

# whoami / hello
r = d.agent(ta, {"op": "hello", "v": 1})
t.check(r.get("ok") and r.get("agent") == "alice" and r.get("v") == 1,
        "hello binds alice", r)
c = d.conn()
c.call({"op": "hello", "token": tb, "v": 1})
r = c.call({"op": "whoami"})
t.eq(r.get("agent"), "bob", "bound connection answers whoami without token")
c.close()

# An injected code reaches only its owner.
r = d.inject("alice", "Your verification code is 482913. Do not share it.")
t.check(r.get("ok") and r.get("codes") == 1, "inject stores one code", r)
r = d.agent(tb, {"op": "wait", "timeout": 0})
t.eq(r.get("error"), "timeout", "the other agent gets nothing")
r = d.agent(tb, {"op": "wait", "timeout": 0, "agent": "alice"})
t.eq(r.get("error"), "timeout", "a field naming the other agent is ignored")
r = d.agent(tb, {"op": "list"})
t.eq(r.get("secrets"), [], "the other agent lists nothing")
r = d.agent("aid_" + "A" * 43, {"op": "wait", "timeout": 0})
t.eq(r.get("error"), "unauthorized", "a wrong token is unauthorized")
r = call(d.agent_sock, {"op": "wait", "timeout": 0})
t.eq(r.get("error"), "unauthorized", "no token is unauthorized")
r = d.agent(ta, {"op": "list"})
t.check(r.get("ok") and len(r["secrets"]) == 1 and
        "value" not in r["secrets"][0], "list shows metadata, no value", r)

# Another uid with the right token gets nothing when the agent is bound.
carol = d.provision("carol", uid=65534)
d.inject("carol", "Code: 771203")
r = d.agent(carol["token"], {"op": "wait", "timeout": 0})
t.eq(r.get("error"), "unauthorized", "uid-bound agent refuses root's peer")
probe = ("import socket,json,sys;s=socket.socket(socket.AF_UNIX);"
         "s.connect(sys.argv[1]);s.sendall((sys.argv[2]+'\\n').encode());"
         "print(s.makefile().readline())")


def as_nobody(path, req):
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", "/usr/bin/python3", "-c", probe,
                        path, json.dumps(req)],
                       capture_output=True, text=True, timeout=20)
    return json.loads(p.stdout) if p.stdout.strip() else {"raw": p.stderr}


r = as_nobody(d.agent_sock, {"op": "wait", "token": ta, "timeout": 0})
t.check(r.get("ok") and r["secret"]["value"] == "482913",
        "agent without --uid: the token alone is the credential", r)
r = as_nobody(d.agent_sock, {"op": "wait", "token": carol["token"],
                             "timeout": 0})
t.check(r.get("ok") and r["secret"]["value"] == "771203",
        "uid-bound agent delivers to its uid", r)
r = as_nobody(d.admin_sock, {"op": "list"})
t.eq(r.get("error"), "unauthorized", "admin socket refuses a non-admin uid")

# One delivery.
d.inject("alice", "G-551177 is your Google verification code.")
r = d.agent(ta, {"op": "wait", "kind": "code", "timeout": 2})
t.check(r.get("ok") and r["secret"]["value"] == "551177",
        "owner receives the newest code", r)
t.check(r.get("ok") and set(r["secret"]) >= {
    "id", "kind", "value", "channel", "from", "subject", "origin",
    "received_at", "link_domain"}, "secret has every DESIGN field", r)
r = d.agent(ta, {"op": "wait", "timeout": 1})
t.check(r.get("error") in ("timeout",) or
        (r.get("ok") and r["secret"]["value"] == "482913"),
        "second wait gets the older code or times out", r)
r = d.agent(ta, {"op": "wait", "timeout": 1})
t.eq(r.get("error"), "timeout", "after delivery a wait times out")

# A blocking wait wakes when the message is committed.
res = {}


def waiter(tok, key, req):
    try:
        res[key] = d.agent(tok, dict(req, op="wait"))
    except Exception as e:
        res[key] = {"exc": str(e)}


th = threading.Thread(target=waiter, args=(ta, "a", {"timeout": 20}))
th.start()
time.sleep(0.3)
t0 = time.time()
d.inject("alice", "Your Acme code: 246810")
th.join(20)
t.check(res.get("a", {}).get("ok") and
        res["a"]["secret"]["value"] == "246810", "blocked wait wakes", res)
t.check(time.time() - t0 < 5, "wake-up is prompt")

# Two waiters of one agent: exactly one gets the code.
ths = [threading.Thread(target=waiter, args=(ta, k, {"timeout": 3}))
       for k in ("w1", "w2")]
[x.start() for x in ths]
time.sleep(0.3)
d.inject("alice", "code 135790")
[x.join(10) for x in ths]
got = [res[k] for k in ("w1", "w2") if res.get(k, {}).get("ok")]
t.eq(len(got), 1, "two waiters: exactly one delivery")

# Filters.
d.inject("alice", "Your code is 111222", **{"from": "+15550001111"})
d.inject("alice", "Confirm: https://example.com/verify?t=abc123",
         channel="email", **{"from": "noreply@example.com"},
         subject="Confirm your email")
r = d.agent(ta, {"op": "wait", "kind": "code", "channel": "email",
                 "timeout": 0})
t.eq(r.get("error"), "timeout", "kind+channel filter excludes sms codes")
r = d.agent(ta, {"op": "wait", "from": "5550001", "timeout": 0})
t.check(r.get("ok") and r["secret"]["value"] == "111222",
        "from filter (substring)", r)
r = d.agent(ta, {"op": "wait", "since": int(time.time()) + 100,
                 "timeout": 0})
t.eq(r.get("error"), "timeout", "since in the future matches nothing")

# Bad input changes nothing and the daemon keeps serving.
c = d.conn(10)
for raw, name in [(b"{not json\n", "malformed JSON"),
                  (b"[1,2]\n", "not an object"),
                  (b'{"op":"fly"}\n', "unknown op"),
                  (b'{"op":"wait","token":5}\n', "token of wrong type"),
                  (b'{"op":"wait","token":"%s","timeout":"x"}\n' %
                   ta.encode(), "timeout of wrong type"),
                  (b'{"op":"wait","token":"%s","kind":"pin"}\n' %
                   ta.encode(), "unknown kind"),
                  (b'{"op":"hello","op":"wait"}\n', "duplicate keys")]:
    c.send(raw)
    r = c.recv()
    t.eq(r.get("error"), "bad_request", "bad input: " + name)
c.close()
c = d.conn(10)
c.send(b"x" * (70 * 1024) + b"\n")
try:
    r = c.recv()
    t.eq(r.get("error"), "bad_request", "oversize line gets bad_request")
except ConnectionError:
    t.check(False, "oversize line gets bad_request", "closed without reply")
c.close()
r = d.agent(ta, {"op": "hello", "v": 1})
t.check(r.get("ok"), "daemon still serves after bad input")

# Revocation: token fails at once, waiters woken with revoked.
th = threading.Thread(target=waiter, args=(tb, "bob", {"timeout": 30}))
th.start()
time.sleep(0.3)
t0 = time.time()
r = d.admin({"op": "revoke", "name": "bob"})
t.check(r.get("ok"), "revoke answers ok", r)
th.join(10)
t.eq(res.get("bob", {}).get("error"), "revoked",
     "a waiting agent is woken with revoked")
t.check(time.time() - t0 < 3, "revocation reaches the waiter at once")
r = d.agent(tb, {"op": "whoami"})
t.eq(r.get("error"), "revoked", "a revoked token is refused")
r = d.inject("bob", "code 999000")
t.check(not r.get("ok"), "inject to a revoked agent is refused")
r = d.admin({"op": "show", "name": "bob"})
t.eq(r.get("agent", {}).get("state"), "revoked", "show reports revoked")

# Token rotation.
r = d.admin({"op": "token_rotate", "name": "alice"})
t.check(r.get("ok") and r["token"] != ta, "token rotates", r)
ta_old, ta = ta, r["token"]
t.eq(d.agent(ta_old, {"op": "whoami"}).get("error"), "unauthorized",
     "the old token stops working")
t.eq(d.agent(ta, {"op": "whoami"}).get("agent"), "alice",
     "the new token works")

# Restart keeps agents and undelivered secrets.
d.inject("alice", "Your code is 864200")
d.kill()
d.start()
r = d.agent(ta, {"op": "wait", "timeout": 2})
t.check(r.get("ok") and r["secret"]["value"] == "864200",
        "after SIGKILL and restart the undelivered code is delivered", r)
r = d.admin({"op": "list"})
t.eq(sorted(x["name"] for x in r.get("agents", [])),
     ["alice", "bob", "carol"], "agents survive a restart")
t.eq(d.agent(tb, {"op": "whoami"}).get("error"), "revoked",
     "revocation survives a restart")

# Audit chain.
r = d.admin({"op": "audit", "verify": True})
t.check(r.get("ok") and r.get("verified", 0) >= 8, "audit chain verifies", r)

# No plaintext code or token in the database files.
d.stop()
blob = b""
for f in os.listdir(d.state):
    with open(os.path.join(d.state, f), "rb") as fh:
        blob += fh.read()
for secret in (b"864200", b"246810", ta.encode(), ta_old.encode()):
    t.check(secret not in blob, "no plaintext %s in the store files" %
            ("token" if secret.startswith(b"aid_") else "code"))
mode = os.stat(os.path.join(d.state, "agentid.db")).st_mode & 0o777
t.eq(mode, 0o600, "database is 0600")
t.eq(os.stat(os.path.join(d.state, "key")).st_mode & 0o777, 0o600,
     "key file is 0600")
db = sqlite3.connect(os.path.join(d.state, "agentid.db"))
t.eq(db.execute("PRAGMA integrity_check").fetchone()[0], "ok",
     "integrity_check ok")
t.eq(db.execute("PRAGMA journal_mode").fetchone()[0], "wal", "WAL mode")

# Schema 2 added one index for the `wait` lookup.  Its query (the shape
# of secrets_take's) must read that index in order, with no sort.
LOOKUP = ("SELECT id FROM secrets WHERE agent_id = 1 AND received_at >= 0 "
          "AND expires_at > 0 AND state IN ('pending', 'filtered') "
          "ORDER BY received_at DESC, id DESC LIMIT 1")


def plan():
    # A connection of its own: a cached EXPLAIN keeps its first plan.
    c = sqlite3.connect(os.path.join(d.state, "agentid.db"))
    try:
        return " | ".join(r[3] for r in c.execute("EXPLAIN QUERY PLAN " +
                                                  LOOKUP))
    finally:
        c.close()


t.eq(db.execute("PRAGMA user_version").fetchone()[0], 2, "schema version 2")
p = plan()
t.check("secrets_live" in p and "TEMP B-TREE" not in p,
        "the wait lookup reads the partial index, newest first", p)
# A database from before (schema 1) is upgraded in place on start.
db.execute("DROP INDEX secrets_live")
db.execute("PRAGMA user_version = 1")
db.commit()
t.check("secrets_live" not in plan(), "downgraded to schema 1 by hand")
db.close()
d.start()
t.eq(d.agent(ta, {"op": "whoami"}).get("agent"), "alice",
     "after the upgrade the agents and tokens are there")
d.stop()
db = sqlite3.connect(os.path.join(d.state, "agentid.db"))
t.eq(db.execute("PRAGMA user_version").fetchone()[0], 2,
     "a schema-1 database is migrated to 2 on start")
t.check("secrets_live" in plan(), "and the index is back")
t.eq(db.execute("PRAGMA integrity_check").fetchone()[0], "ok",
     "integrity_check ok after the migration")
db.close()

# Config errors name file and line; bad secret files refuse to start.
bad = Daemon(start=False)
with open(bad.conffile, "a") as f:
    f.write("[daemon]\ncode_tll = 5\n")
p = subprocess.run([AGENTIDD, "-n", "-c", bad.conffile],
                   capture_output=True, text=True)
nlines = open(bad.conffile).read().count("\n")
t.check(p.returncode != 0 and ("%s:%d:" % (bad.conffile, nlines)) in
        p.stderr and "code_tll" in p.stderr,
        "config error names file:line and key", p.stderr)
bad2 = Daemon(start=False, conf={"phone": {"provider": "gateway"},
                                 "gateway": {"secret_file":
                                             "/nonexistent/secret",
                                             "numbers": "+15550100"}})
p = subprocess.run([AGENTIDD, "-n", "-c", bad2.conffile],
                   capture_output=True, text=True)
t.check(p.returncode != 0 and "secret_file" in p.stderr,
        "missing secret file refuses to start", p.stderr)
sec = os.path.join(bad2.dir, "gw.secret")
with open(sec, "w") as f:
    f.write("s3cret\n")
os.chmod(sec, 0o644)
bad2.sections["gateway"]["secret_file"] = sec
bad2.write_conf()
p = subprocess.run([AGENTIDD, "-n", "-c", bad2.conffile],
                   capture_output=True, text=True)
t.check(p.returncode != 0 and "group or others" in p.stderr,
        "world-readable secret file refuses to start", p.stderr)
os.chmod(sec, 0o600)
p = subprocess.run([AGENTIDD, "-n", "-c", bad2.conffile],
                   capture_output=True, text=True)
t.check(p.returncode == 0 and "configuration OK" in p.stdout,
        "agentidd -n accepts a good config", p.stderr)
t.done()
