#!/usr/bin/python3
"""Security promises, each against the real agentidd: step-up approval with
the owner notified by email (a real aiosmtpd server on 127.0.0.1, STARTTLS
with a test CA and AUTH), notice delivery failures, the canary (no code,
token or password in the store files, the log, argv or environ), over
1,000 cross-agent attempts with 0 successes, the failed-auth rate limit,
and audit-chain tampering found by `audit --verify`."""

import base64
import glob
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

from lib import (AGENTID, ROOT, Daemon, Tests, call, free_port, on_exit,
                 wait_for, write_secret)

SINK = os.path.join(ROOT, "tests", "fakes", "smtp_sink.py")
PY = "/usr/bin/python3"

t = Tests()
work = Daemon(start=False).dir          # a temp dir cleaned up at exit
rnd = random.SystemRandom()


# ---------------------------------------------------------------- helpers

class Sink:
    """tests/fakes/smtp_sink.py as a child process on 127.0.0.1."""

    def __init__(self, name, *args, port=None, start=True):
        self.port = port or free_port()
        self.spool = os.path.join(work, "spool-" + name)
        self.args = list(args)
        self.proc = None
        on_exit(self.stop)
        if start:
            self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [PY, SINK, "--listen", "127.0.0.1:%d" % self.port,
             "--spool", self.spool] + self.args,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError("smtp_sink did not start: %r" % line)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def mails(self):
        out = []
        for f in sorted(glob.glob(os.path.join(self.spool, "*.eml"))):
            with open(f, "rb") as fh:
                out.append(fh.read().decode("utf-8", "replace"))
        return out


def notified(d, secret_id):
    """approvals.notified of secret_id, read from the live WAL database."""
    db = sqlite3.connect("file:%s?mode=ro" %
                         os.path.join(d.state, "agentid.db"), uri=True,
                         timeout=5)
    try:
        r = db.execute("SELECT notified FROM approvals WHERE secret_id = ?",
                       (secret_id,)).fetchone()
    finally:
        db.close()
    return r[0] if r else None


def held_ids(d, token):
    r = d.agent(token, {"op": "list", "since": 0})
    return [s["id"] for s in r.get("secrets", []) if s.get("state") == "held"]


def openssl(*args):
    return subprocess.run(["openssl"] + list(args), cwd=pki,
                          capture_output=True, text=True, timeout=60)


def waiter(d, token, req, out, key):
    try:
        out[key] = d.agent(token, dict(req, op="wait"), timeout=60)
    except Exception as e:          # noqa: BLE001 - reported as a FAIL
        out[key] = {"exc": str(e)}


# ------------------------------------------------------- test CA and sinks

pki = os.path.join(work, "pki")
os.makedirs(pki)
ext = os.path.join(pki, "ext")
with open(ext, "w") as f:
    f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
with open(os.path.join(pki, "ext-dns"), "w") as f:
    f.write("subjectAltName=DNS:localhost\n"
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
ok = True
for cmd in (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
             "/CN=agentid test CA"],
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             "other.key", "-out", "other.pem", "-days", "2", "-subj",
             "/CN=someone else"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key",
             "-out", "srv.csr", "-subj", "/CN=localhost"],
            ["x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey",
             "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "2",
             "-extfile", "ext"],
            ["x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey",
             "ca.key", "-CAcreateserial", "-out", "srv-dns.pem", "-days",
             "2", "-extfile", "ext-dns"]):
    p = openssl(*cmd)
    ok = ok and p.returncode == 0
t.check(ok, "test CA and server certificates created with openssl")
CA = os.path.join(pki, "ca.pem")
SMTP_PASSWORD = "pw-" + base64.b32encode(os.urandom(10)).decode().lower()
pwfile = write_secret(os.path.join(work, "smtp.pw"), SMTP_PASSWORD)

tls_sink = Sink("tls", "--tls", os.path.join(pki, "srv.pem"),
                os.path.join(pki, "srv.key"),
                "--auth", "agentid:" + SMTP_PASSWORD)
POLICY = {"approve_senders": "*@bank.example, *.paypal.example"}


def smtp_conf(sink, **kw):
    c = {"host": "localhost", "port": str(sink.port), "tls": "starttls",
         "ca_file": CA, "user": "agentid", "password_file": pwfile,
         "from": "agentid@localhost", "owner_email": "owner@localhost"}
    c.update(kw)
    return c


d = Daemon(conf={"smtp": smtp_conf(tls_sink), "policy": POLICY})
os.chmod(d.dir, 0o755)          # other uids must reach the agent socket

# ------------------------------------------------------- step-up approval

alice = d.provision("alice")
ta = alice["token"]
res = {}
th = threading.Thread(target=waiter, args=(d, ta, {"timeout": 3}, res, "p"))
th.start()
time.sleep(0.3)
r = d.inject("alice", "Your Bank verification code is 739104. Never share "
             "it.", **{"from": "alerts@bank.example"})
t.check(r.get("ok") and r.get("held") == 1,
        "approval: a code from *@bank.example is held", r)
th.join(20)
t.eq(res.get("p", {}).get("error"), "pending_approval",
     "approval: the waiting agent gets pending_approval at its timeout")
ids = held_ids(d, ta)
t.eq(len(ids), 1, "approval: the held secret is listed (metadata only)")
hid = ids[0] if ids else -1
mails = wait_for(lambda: tls_sink.mails(), timeout=15)
mail = mails[0] if mails else ""
t.eq(len(mails), 1, "approval: the owner got one notice over STARTTLS+AUTH")
t.check("X-Envelope-To: owner@localhost" in mail and
        "agentid approve %d" % hid in mail and
        "agentid deny %d" % hid in mail and "alice" in mail and
        "alerts@bank.example" in mail,
        "approval: the notice names agent, sender, id and approve/deny",
        mail[:600])
t.check("739104" not in mail, "approval: the notice does not contain the "
        "code")
t.eq(wait_for(lambda: notified(d, hid) == 1, timeout=5), True,
     "approval: approvals.notified is set once the server took it")
r = d.agent(ta, {"op": "wait", "timeout": 0})
t.eq(r.get("error"), "pending_approval",
     "approval: a held code is not delivered before approval")
th = threading.Thread(target=waiter, args=(d, ta, {"timeout": 20}, res, "a"))
th.start()
time.sleep(0.3)
r = d.cli("approve", str(hid))
t.check(r.returncode == 0, "approval: `agentid approve ID` succeeds",
        r.stderr)
th.join(20)
t.check(res.get("a", {}).get("ok") and
        res["a"]["secret"]["value"] == "739104",
        "approval: after approve the waiting agent gets the code", res)
t.eq(d.admin({"op": "approve", "id": hid}).get("error"), "not_found",
     "approval: a decided secret cannot be approved twice")

r = d.inject("alice", "PayPal: your security code is 551903",
             **{"from": "service@mail.paypal.example"})
t.check(r.get("ok") and r.get("held") == 1,
        "approval: a code from *.paypal.example is held", r)
ids = held_ids(d, ta)
did = ids[0] if ids else -1
r = d.cli("deny", str(did))
t.check(r.returncode == 0, "approval: `agentid deny ID` succeeds", r.stderr)
r = d.agent(ta, {"op": "wait", "timeout": 1})
t.eq(r.get("error"), "timeout",
     "approval: a denied code is never delivered (and no longer pending)")
t.eq(held_ids(d, ta), [], "approval: nothing is held after the decisions")
t.eq(d.admin({"op": "approve", "id": did}).get("error"), "not_found",
     "approval: a denied secret cannot be approved afterwards")
r = d.inject("alice", "Your code is 246813", **{"from": "noreply@shop.example"})
t.check(r.get("ok") and r.get("held") == 0,
        "approval: other senders are not held", r)
r = d.agent(ta, {"op": "wait", "timeout": 2})
t.check(r.get("ok") and r["secret"]["value"] == "246813",
        "approval: other senders' codes are delivered at once", r)
acts = [x["action"] for x in d.admin({"op": "audit", "agent": "alice"})
        .get("records", [])]
t.check({"hold", "approve", "deny", "deliver"} <= set(acts),
        "approval: hold, approve, deny and delivery are audited", acts)
t.check(all("551903" not in m and "739104" not in m
            for m in tls_sink.mails()),
        "approval: no notice ever contains a code")

# --------------------------------------- notices that must not count as sent

rej_rcpt = Sink("rcpt", "--reject-rcpt")
rej_data = Sink("data", "--reject-data")
dns_sink = Sink("dns", "--tls", os.path.join(pki, "srv-dns.pem"),
                os.path.join(pki, "srv.key"))
cases = [
    ("a refused recipient", {"host": "127.0.0.1", "port":
     str(rej_rcpt.port), "tls": "none", "user": "", "password_file": ""},
     "recipient refused"),
    ("a refused DATA", {"host": "127.0.0.1", "port": str(rej_data.port),
     "tls": "none", "user": "", "password_file": ""}, "message refused: 554"),
    ("an untrusted certificate", {"port": str(tls_sink.port), "ca_file":
     os.path.join(pki, "other.pem")}, "not trusted"),
    ("a certificate without the IP address", {"host": "127.0.0.1", "port":
     str(dns_sink.port), "user": "", "password_file": ""}, "not trusted"),
    ("a wrong SMTP password", {"port": str(tls_sink.port), "password_file":
     write_secret(os.path.join(work, "wrong.pw"), "not-the-password")},
     "AUTH failed"),
]
daemons = []
for name, kw, why in cases:
    conf = smtp_conf(tls_sink, **kw)
    for k in [k for k, v in conf.items() if v == ""]:
        del conf[k]
    x = Daemon(conf={"smtp": conf, "policy": POLICY})
    x.provision("alice")
    x.inject("alice", "Bank code 902211", **{"from": "a@bank.example"})
    daemons.append((name, x, why))
before = len(tls_sink.mails())
for name, x, why in daemons:
    got = wait_for(lambda: "not sent (attempt 1)" in x.log(), timeout=15)
    t.check(got and why in x.log() and notified(x, 1) == 0,
            "notice not counted as sent after %s" % name,
            [l for l in x.log().splitlines() if "notify" in l][-2:])
    t.check("902211" not in x.log() and SMTP_PASSWORD not in x.log(),
            "no code or password in the log after %s" % name)
    x.stop()
t.eq(len(tls_sink.mails()), before, "no notice got through a failed check")

# Retry with backoff: the server comes up after the first failure.
late = Sink("late", port=free_port(), start=False)
x = Daemon(conf={"smtp": {"host": "127.0.0.1", "port": str(late.port),
                          "tls": "none", "from": "agentid@localhost",
                          "owner_email": "owner@localhost"},
                 "policy": POLICY})
x.provision("alice")
x.inject("alice", "Bank code 617280", **{"from": "a@bank.example"})
t.check(wait_for(lambda: "not sent (attempt 1)" in x.log(), timeout=10),
        "retry: the first attempt fails while the server is down")
late.start()
t.check(wait_for(lambda: len(late.mails()) == 1, timeout=20) and
        wait_for(lambda: notified(x, 1) == 1, timeout=5),
        "retry: the notice is sent once the server is up (backoff)")
# A notice still owed at a crash is sent after the restart.
late.stop()
x.inject("alice", "Bank code 617281", **{"from": "b@bank.example"})
wait_for(lambda: "secret 2 not sent" in x.log(), timeout=10)
x.kill()
late.start()
x.start()
t.check(wait_for(lambda: len(late.mails()) == 2, timeout=15) and
        wait_for(lambda: notified(x, 2) == 1, timeout=5),
        "restart: a notice owed before a crash is sent after the restart")
x.stop()
late.stop()

# Without [smtp] the daemon only logs that approval is needed.
x = Daemon(conf={"policy": POLICY})
x.provision("alice")
r = x.inject("alice", "Bank code 440021", **{"from": "a@bank.example"})
t.check(r.get("held") == 1 and wait_for(
    lambda: "approval needed: secret 1" in x.log(), timeout=5) and
    "440021" not in x.log(), "no [smtp]: approval is logged by id only")
x.stop()

# ------------------------------------------------------------- the canary

canary = d.provision("canary")
tc = canary["token"]
code = "%08d" % rnd.randrange(10000000, 99999999)
cli = subprocess.Popen([AGENTID, "wait", "--timeout", "30"],
                       env=d.env(tc), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
on_exit(lambda: cli.poll() is None and cli.kill())
time.sleep(0.5)
try:
    with open("/proc/%d/cmdline" % cli.pid, "rb") as f:
        cli_argv = f.read()
except OSError:
    cli_argv = b""
t.check(b"wait" in cli_argv and tc.encode() not in cli_argv,
        "canary: the token is not on `agentid wait`'s command line",
        cli_argv)
r = d.inject("canary", "Your verification code is %s." % code)
t.eq(r.get("codes"), 1, "canary: the canary code is extracted")
out, err = cli.communicate(timeout=30)
t.check(cli.returncode == 0 and out.strip() == code,
        "canary: `agentid wait` with AGENTID_TOKEN prints the code",
        (cli.returncode, err))


def leaks(blobs):
    hits = []
    for where, blob in blobs:
        for what, s in (("code", code), ("token", tc), ("token", ta),
                        ("smtp password", SMTP_PASSWORD)):
            if s.encode() in blob:
                hits.append("%s in %s" % (what, where))
    return hits


def state_files():
    out = []
    for f in sorted(os.listdir(d.state)):
        with open(os.path.join(d.state, f), "rb") as fh:
            out.append((f, fh.read()))
    return out


pid = d.proc.pid
proc = []
for part in ("cmdline", "environ"):
    with open("/proc/%d/%s" % (pid, part), "rb") as f:
        proc.append(("daemon " + part, f.read()))
names = [n for n, _ in state_files()]
t.check("agentid.db-wal" in names, "canary: the WAL is there to check",
        names)
with open(d.logfile, "rb") as f:
    logblob = f.read()
hits = leaks(state_files() + [("daemon log", logblob)] + proc)
t.eq(hits, [], "canary: no code, token or SMTP password in the db, WAL, "
     "log, or the daemon's cmdline and environ")
t.check(b"AGENTID_TOKEN" not in proc[1][1],
        "canary: no token variable in the daemon's environment")
audit = json.dumps(d.admin({"op": "audit", "agent": "canary"}))
t.check(code not in audit and "value_hmac=" in audit,
        "canary: the audit log has an HMAC of the value, not the value")

# ------------------------------------------------------------ fail closed

# A trigger makes every audit insert fail: the code must not be handed
# out (and must stay deliverable), because its audit row is missing.
code2 = "%08d" % rnd.randrange(10000000, 99999999)
d.inject("canary", "Your verification code is %s." % code2)
x = sqlite3.connect(os.path.join(d.state, "agentid.db"), timeout=10)
x.execute("CREATE TRIGGER test_block_audit BEFORE INSERT ON audit "
          "BEGIN SELECT RAISE(ABORT, 'audit blocked by the test'); END")
x.commit()
r = d.agent(tc, {"op": "wait", "timeout": 1})
t.check(not r.get("ok") and code2 not in json.dumps(r),
        "fail closed: no delivery while the audit row cannot be written", r)
x.execute("DROP TRIGGER test_block_audit")
x.commit()
x.close()
r = d.agent(tc, {"op": "wait", "timeout": 2})
t.check(r.get("ok") and r["secret"]["value"] == code2,
        "fail closed: the code is delivered once the audit works again", r)

# ------------------------------------------------------- privilege drop

pd = Daemon(start=False, conf={"daemon": {"user": "nobody"}})
os.chmod(pd.dir, 0o755)         # nobody must reach the state dir
pd.start()
with open("/proc/%d/status" % pd.proc.pid) as f:
    ids = {ln.split(":")[0]: ln.split()[1:] for ln in f if
           ln.startswith(("Uid:", "Gid:", "Groups:"))}
t.check(ids.get("Uid") == ["65534"] * 4 and ids.get("Gid") == ["65534"] * 4,
        "privilege drop: real, effective, saved and fs uid/gid are nobody",
        ids)
t.check(ids.get("Groups") in ([], ["65534"]),
        "privilege drop: no supplementary groups are kept", ids)
st = os.stat(os.path.join(pd.state, "agentid.db"))
t.check(st.st_uid == 65534 and st.st_mode & 0o777 == 0o600,
        "privilege drop: the database belongs to the user, mode 0600")
pa = pd.provision("alice")
pd.inject("alice", "Your code is 583920")
r = pd.agent(pa["token"], {"op": "wait", "timeout": 2})
t.check(r.get("ok") and r["secret"]["value"] == "583920",
        "privilege drop: the daemon works after dropping root", r)
pd.stop()
loose = os.path.join(work, "loose.pw")
write_secret(loose, "x")
os.chmod(loose, 0o640)
bad = Daemon(start=False, conf={"smtp": smtp_conf(tls_sink,
                                                  password_file=loose)})
p = subprocess.run([os.path.join(os.path.dirname(AGENTID), "agentidd"),
                    "-n", "-c", bad.conffile], capture_output=True,
                   text=True, timeout=30)
t.check(p.returncode != 0 and "password_file" in p.stderr,
        "a group-readable SMTP password file is refused", p.stderr)

# ------------------------------------------- cross-agent attempts (>= 1000)

victim = d.provision("victim")
tv = victim["token"]
mallory = d.provision("mallory")
tm = mallory["token"]
bound = d.provision("bound", uid=65534)
gone = d.provision("gone")
d.admin({"op": "revoke", "name": "gone"})
vcode = "%08d" % rnd.randrange(10000000, 99999999)
d.inject("victim", "Your login code is %s" % vcode,
         **{"from": "+15550009999"})
d.inject("victim", "Bank code %s" % "731955", **{"from": "x@bank.example"})
vheld = held_ids(d, tv)
vlist = d.agent(tv, {"op": "list", "since": 0}).get("secrets", [])
vids = [s["id"] for s in vlist]
victim_id_guess = [1, 2, 3, 4, 5, 6, 7, 8]
attempts = 0
success = []


def judge(resp, what):
    """A success is any answer that hands over or names the victim."""
    global attempts
    attempts += 1
    text = json.dumps(resp)
    if vcode in text or "731955" in text or '"victim"' in text or \
            (resp.get("ok") and resp.get("secret")) or \
            (resp.get("ok") and resp.get("secrets")) or \
            (resp.get("ok") and resp.get("id") is not None):
        success.append((what, resp))


shapes = []
for sid in vids + list(range(1, 60)):
    shapes.append({"op": "wait", "timeout": 0, "id": sid})
    shapes.append({"op": "wait", "timeout": 0, "secret_id": sid,
                   "since": 0})
    shapes.append({"op": "list", "since": 0, "id": sid})
for f in ({"agent": "victim"}, {"name": "victim"}, {"agent_id": 1},
          {"agent": {"name": "victim"}}, {"from": "+1555000"},
          {"from": "9999"}, {"from": "bank.example"},
          {"origin": "bank.example"}, {"kind": "code"}, {"channel": "sms"},
          {"since": 0}, {"kind": "any", "channel": "any", "since": 0},
          {"token_of": "victim"}, {"as": "victim"}, {"uid": 0}):
    for op in ("wait", "list"):
        for _ in range(8):
            shapes.append(dict(f, op=op, timeout=0))
for f in ({"agent": "victim"}, {"name": "victim"}):
    for op in ("hello", "whoami"):
        for _ in range(10):
            shapes.append(dict(f, op=op, v=1))
c = d.conn(30)
c.call({"op": "hello", "token": tm, "v": 1})
for i, req in enumerate(shapes):
    if i % 2:
        judge(c.call(req), "bound connection: %r" % req)
    else:
        judge(d.agent(tm, req, timeout=30), "with token: %r" % req)
c.close()
n_valid = attempts

ATTACK = r'''
import json, socket, sys
jobs = json.load(sys.stdin)
out = []
for path, req in jobs:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    try:
        s.connect(path)
        s.sendall((json.dumps(req) + "\n").encode())
        f = s.makefile("rb")
        line = f.readline()
        out.append(json.loads(line) if line.strip() else {"closed": True})
    except OSError as e:
        out.append({"oserror": str(e)})
    finally:
        s.close()
json.dump(out, sys.stdout)
'''


def attack(uid, jobs):
    p = subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
                        "--clear-groups", PY, "-c", ATTACK],
                       input=json.dumps(jobs), capture_output=True,
                       text=True, timeout=120)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return [{"attack_failed": p.stderr[-300:]}] * len(jobs)


def flip(tok):
    i = rnd.randrange(4, len(tok))
    ch = "A" if tok[i] != "A" else "B"
    return tok[:i] + ch + tok[i + 1:]


# 20 uids, 19 failing attempts each: below the per-uid limit, so every
# one is a real token/uid check, not a "busy".
outcomes = {}
for k in range(20):
    uid = 60001 + k
    jobs = []
    for j in range(19):
        kind = j % 3
        if kind == 0:
            tok = "aid_" + base64.urlsafe_b64encode(
                os.urandom(32)).decode().rstrip("=")
        elif kind == 1:
            tok = bound["token"]    # bound to uid 65534, not this one
        else:
            tok = flip(tv)
        op = ("wait", "list", "hello")[j % 3 if k % 2 else (j + 1) % 3]
        jobs.append((d.agent_sock, {"op": op, "token": tok, "timeout": 0,
                                    "v": 1, "agent": "victim"}))
    for resp in attack(uid, jobs):
        judge(resp, "uid %d" % uid)
        e = resp.get("error", "?")
        outcomes[e] = outcomes.get(e, 0) + 1
t.eq(outcomes, {"unauthorized": 380},
     "cross-agent: wrong tokens and a wrong uid are each refused")
# The revoked agent's token, from a few uids.
jobs = [(d.agent_sock, {"op": op, "token": gone["token"], "timeout": 0,
                        "v": 1}) for op in ("wait", "list", "hello",
                                             "whoami") * 25]
rv = attack(60050, jobs)
for resp in rv:
    judge(resp, "revoked token")
t.check(all(x.get("error") == "revoked" for x in rv),
        "cross-agent: a revoked agent's token gets revoked every time",
        rv[:2])
# Guessed ids on the admin socket from a non-admin uid.
jobs = []
for sid in list(range(1, 101)) + vheld:
    jobs.append((d.admin_sock, {"op": "approve", "id": sid}))
    jobs.append((d.admin_sock, {"op": "deny", "id": sid}))
for req in ({"op": "list"}, {"op": "show", "name": "victim"},
            {"op": "token_rotate", "name": "victim"},
            {"op": "audit"}, {"op": "inject", "name": "victim",
                              "text": "code 111111"}):
    jobs += [(d.admin_sock, req)] * 5
ad = attack(60060, jobs)
for resp in ad:
    judge(resp, "admin socket as uid 60060")
t.check(all(x.get("error") == "unauthorized" for x in ad),
        "cross-agent: the admin socket refuses a non-admin uid every time",
        ad[:2])
t.check(attempts >= 1000, "cross-agent: at least 1,000 attempts (%d, %d "
        "with a valid token of another agent)" % (attempts, n_valid))
t.eq(success, [], "cross-agent: 0 of %d attempts succeeded" % attempts)
t.eq(held_ids(d, tv), vheld,
     "cross-agent: the victim's held secret is still held")
r = d.agent(tv, {"op": "wait", "timeout": 2})
t.check(r.get("ok") and r["secret"]["value"] == vcode,
        "cross-agent: the owner still gets its code afterwards", r)

# ------------------------------------------------ failed-auth rate limit

# The limit counts per uid in fixed windows; a window may roll over
# during one run, so a second uid gets one more try.
for uid in (60100, 60101):
    jobs = [(d.agent_sock, {"op": "whoami", "token": "aid_" + "x" * 43})
            for _ in range(30)] + [(d.agent_sock, {"op": "whoami",
                                                   "token": tm})]
    errs = [x.get("error") for x in attack(uid, jobs)]
    first_busy = errs.index("busy") if "busy" in errs else -1
    limited = 0 < first_busy <= 21 and \
        all(e == "busy" for e in errs[first_busy:30])
    if limited:
        break
t.check(limited, "rate limit: bad tokens from one uid end in busy", errs)
t.eq(errs[30], None, "rate limit: a valid token from that uid still "
     "works (no lockout of agents sharing a uid)")
r = d.agent(tm, {"op": "whoami"})
t.eq(r.get("agent"), "mallory", "rate limit: other uids are not affected")
st = d.admin({"op": "status"})
t.check(st.get("counters", {}).get("auth_failures", 0) >= 400,
        "rate limit: failed authentications are counted", st.get("counters"))

# ------------------------------------------------------------ audit tamper

r = d.admin({"op": "audit", "verify": True})
nrows = r.get("verified", 0)
t.check(r.get("ok") and nrows >= 12, "audit: the chain verifies before "
        "tampering", r)
d.stop()
db = os.path.join(d.state, "agentid.db")
pristine = os.path.join(work, "pristine")
os.makedirs(pristine)
for ext in ("", "-wal"):
    if os.path.exists(db + ext):
        shutil.copy(db + ext, pristine)


def restore():
    for ext in ("-wal", "-shm"):
        if os.path.exists(db + ext):
            os.unlink(db + ext)
    for f in os.listdir(pristine):
        shutil.copy(os.path.join(pristine, f), d.state)


target = nrows // 2


def tamper(sqls, name):
    restore()
    x = sqlite3.connect(db)
    for q in sqls:
        x.execute(q)
    x.commit()
    x.close()
    d.start()
    r = d.admin({"op": "audit", "verify": True})
    t.check(r.get("error") == "audit_broken" and r.get("seq") == target and
            str(target) in r.get("message", ""),
            "audit: %s of row %d is found and the row named" %
            (name, target), r)
    p = d.cli("audit", "--verify")
    t.check(p.returncode != 0 and
            re.search(r"\b%d\b" % target, p.stdout + p.stderr),
            "audit: `agentid audit --verify` fails naming row %d after %s" %
            (target, name), (p.returncode, p.stdout, p.stderr))
    d.stop()


tamper(["UPDATE audit SET detail = detail || ' ' WHERE seq = %d" % target],
       "an edit")
tamper(["UPDATE audit SET agent = 'mallory' WHERE seq = %d" % target],
       "a changed agent")
tamper(["DELETE FROM audit WHERE seq = %d" % target], "a deletion")
tamper(["UPDATE audit SET seq = -1 WHERE seq = %d" % target,
        "UPDATE audit SET seq = %d WHERE seq = %d" % (target, target + 1),
        "UPDATE audit SET seq = %d WHERE seq = -1" % (target + 1)],
       "a reordering")
restore()
d.start()
r = d.admin({"op": "audit", "verify": True})
t.check(r.get("ok") and r.get("verified") == nrows,
        "audit: the untouched copy still verifies", r)
d.stop()
x = sqlite3.connect(db)
t.eq(x.execute("PRAGMA integrity_check").fetchone()[0], "ok",
     "audit: integrity_check ok")
x.close()
t.done()
