#!/usr/bin/python3
"""IDLE keep-alives cost nothing.  Dovecot sends every IDLE session
"* OK Still here" (every two minutes by default; every second here).
The watcher reads such a line and stays in IDLE; only news (EXISTS and
the like) ends IDLE for a sync.  Before, each keep-alive cost DONE, a
UID FETCH and a new IDLE, a thousand mailboxes made that a steady load,
and a mailbox with real mail queued behind it.

Checked without timing: a plain IMAP client first shows that this
Dovecot really sends the keep-alives; then the daemon's debug log (one
line per UID FETCH, addresses and UIDs only) shows that an idle mailbox
is not synced while they arrive, the session is the same one (no new
login), and mail still comes through IDLE afterwards.  Mail that lands
while the watcher is syncing is not left waiting for the next delivery
(Dovecot announces it once, in the reply to the running command, not
when IDLE starts again).  Also: only a
freshly provisioned mailbox waits before its first login, not one that
was there before a restart."""

import json
import os
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Daemon, Tests, on_exit, wait_for  # noqa: E402
from dovecot import Dovecot  # noqa: E402

DOMAIN = "agents.test"
t = Tests()

tmp = tempfile.mkdtemp(prefix="agentid-idle-")
if not os.environ.get("AGENTID_KEEP"):
    on_exit(lambda: subprocess.run(["rm", "-rf", tmp]))
os.chmod(tmp, 0o755)            # dovecot's auth (uid dovecot) reads below
dv = Dovecot(os.path.join(tmp, "dovecot"), idle_notify="1 secs")
# A user of our own for the plain client ({PLAIN}: no hashing needed).
with open(dv.passwd_file, "a") as f:
    f.write("probe@%s:{PLAIN}probe-password::::::\n" % DOMAIN)
dv.start()
on_exit(dv.stop)
print("# dovecot dir: " + dv.dir)


def keepalives(seconds):
    """Log in as the probe user, IDLE, and count the "* OK" lines that
    arrive in the given time."""
    ctx = ssl.create_default_context(cafile=dv.ca_file)
    raw = socket.create_connection(("127.0.0.1", dv.imaps_port), 10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    f = s.makefile("rb")

    def cmd(tag, line):
        s.sendall(("%s %s\r\n" % (tag, line)).encode())
        while True:
            ln = f.readline()
            if not ln or ln.startswith(tag.encode() + b" "):
                return ln
    try:
        f.readline()                                    # greeting
        ok = cmd("a1", 'LOGIN "probe@%s" "probe-password"' % DOMAIN)
        if not ok.startswith(b"a1 OK"):
            return -1, ok
        cmd("a2", "SELECT INBOX")
        s.sendall(b"a3 IDLE\r\n")
        if not f.readline().startswith(b"+"):
            return -1, b"no continuation"
        buf = b""
        s.settimeout(0.2)
        end = time.time() + seconds
        while time.time() < end:
            try:
                chunk = s.recv(4096)
            except (socket.timeout, TimeoutError):
                continue
            if not chunk:
                break
            buf += chunk
        n = sum(1 for ln in buf.split(b"\r\n") if ln.startswith(b"* OK"))
        return n, b""
    finally:
        s.close()


n, why = keepalives(3.5)
t.check(n >= 2, "this Dovecot sends IDLE keep-alives (%d in 3.5 s)" % n, why)

d = Daemon({
    "daemon": {"log_level": "debug"},
    "mail": {"provider": "dovecot", "domain": DOMAIN,
             "imap_host": "localhost", "imap_port": str(dv.imaps_port),
             "imap_tls": "implicit", "ca_file": dv.ca_file},
    "dovecot": {"passwd_file": dv.passwd_file}}, name="agentidd-idle")
r = d.cli("--json", "provision", "alice", "--email")
try:
    j = json.loads(r.stdout)
except ValueError:
    j = {}
t.check(r.returncode == 0 and j.get("email"), "provision alice --email",
        r.stdout + r.stderr)
token, alice = j.get("token"), j.get("email")


def mail(code, mid, pad=0):
    return ("From: Example <noreply@service.example>\r\n"
            "To: %s\r\nSubject: Your code\r\n"
            "Message-ID: <%s@service.example>\r\n\r\n"
            "Your verification code is %s.\r\n%s" %
            (alice, mid, code, ("x" * 76 + "\r\n") * (pad // 78)))


RACE_ROUNDS = 8


def status_of(address):
    r = d.admin({"op": "status"})
    for m in ((r.get("channels") or {}).get("email") or {}).get(
            "imap", {}).get("mailboxes", []):
        if m.get("address") == address:
            return m
    return {}


def status():
    return status_of(alice)


def syncs():
    return d.log().count(" imap: %s: UID FETCH " % alice)


t.check(wait_for(lambda: status().get("state") == "idle", timeout=30),
        "alice's mailbox reaches IDLE", status())
time.sleep(1)
before, st0 = syncs(), status()
t.check(before >= 1, "the log shows the first sync (so the count below "
        "can move)", before)
time.sleep(5)                   # about five keep-alives
after, st1 = syncs(), status()
t.eq(after - before, 0, "no sync while only keep-alives arrive")
t.check(st1.get("state") == "idle" and st1.get("logins") ==
        st0.get("logins") and st1.get("errors") == st0.get("errors"),
        "the same IDLE session throughout (no new login, no error)",
        (st0, st1))

dv.deliver(alice, mail("604172", "idle.1"))
r = d.cli("wait", "--kind", "code", "--timeout", "30", token=token,
          timeout=60)
t.eq((r.returncode, r.stdout.strip()), (0, "604172"),
     "after the keep-alives, IDLE still brings new mail")
t.check(syncs() > after, "and that mail was a sync")


# Mail that lands while a sync is under way: Dovecot announces it
# (EXISTS) in the reply to whatever command is running, and not again
# when IDLE starts, so a watcher that went back to IDLE without looking
# sat on it until the next delivery (seen once as a lost first email in
# test_crash).  Each round: a large message A, and as soon as the debug
# log shows the daemon listing it (its body, a few MB, is fetched next),
# a small message B.  B must arrive without any further mail.
lost, again0 = [], d.log().count(" listed: again")
for i in range(RACE_ROUNDS):
    codes = ["%06d" % random.randrange(100000, 1000000) for _ in range(2)]
    n0 = syncs()
    dv.deliver(alice, mail(codes[0], "race.%d.a" % i, 4 << 20))
    wait_for(lambda: syncs() > n0, timeout=10, step=0.001)
    dv.deliver(alice, mail(codes[1], "race.%d.b" % i))
    got = []
    for _ in codes:
        r = d.agent(token, {"op": "wait", "kind": "code", "since": 0,
                            "timeout": 10}, timeout=30)
        got.append((r.get("secret") or {}).get("value"))
    if sorted(map(str, got)) != sorted(codes):
        lost.append((i, codes, got))
        break       # what is still queued would muddle later rounds
again = d.log().count(" listed: again") - again0
print("# %d of %d rounds put B inside A's sync" % (again, RACE_ROUNDS))
t.eq(lost, [], "mail that lands during a sync is not left for later")
t.check(again >= 1, "and some rounds did put B inside A's sync (so the "
        "check above can fail)", again)
t.check(d.alive(), "the daemon is alive")


def watch_lines(address):
    return [ln for ln in d.log().splitlines()
            if " imap: watching %s (" % address in ln]


# A new account waits a moment before its first login (Dovecot takes a
# changed passwd-file in only when its mtime reaches a new second); an
# account that was there before this start does not, even if it never
# had mail.
r = d.cli("--json", "provision", "bob", "--email")
bob = (json.loads(r.stdout) if r.returncode == 0 else {}).get("email")
t.check(bob and watch_lines(bob) and "new account" in watch_lines(bob)[-1],
        "a freshly provisioned mailbox waits before its first login",
        watch_lines(bob or "?"))
t.check(wait_for(lambda: status_of(bob).get("state") == "idle",
                 timeout=30), "bob reaches IDLE", status_of(bob))
d.stop()
d.start()
lines = watch_lines(bob)
t.check(len(lines) >= 2 and "new account" not in lines[-1],
        "after a restart the never-mailed mailbox logs in at once",
        lines[-2:])
t.check(wait_for(lambda: status_of(bob).get("state") == "idle",
                 timeout=30), "and reaches IDLE again", status_of(bob))
d.stop()
t.done()
