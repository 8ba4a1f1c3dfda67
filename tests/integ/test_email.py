#!/usr/bin/python3
"""The email channel end to end against a real Dovecot on 127.0.0.1 (TLS
from a CA this test makes): provision --email writes the passwd-file,
mail delivered over LMTP reaches the agent as a link or a code, bad
certificates never see a LOGIN, hostile mail does not hurt the daemon,
SIGKILL mid-batch loses and duplicates nothing, agents stay apart."""

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Daemon, Tests, on_exit, wait_for, write_secret  # noqa: E402
from dovecot import Dovecot  # noqa: E402

DOMAIN = "agents.test"
t = Tests()

tmp = tempfile.mkdtemp(prefix="agentid-email-")
if not os.environ.get("AGENTID_KEEP"):
    on_exit(lambda: subprocess.run(["rm", "-rf", tmp]))
os.chmod(tmp, 0o755)            # dovecot's auth (uid dovecot) reads below
dv = Dovecot(os.path.join(tmp, "dovecot"))
dv.start()
on_exit(dv.stop)
print("# dovecot dir: " + dv.dir)

_seq = [0]


def message(to, subject, body, extra_headers="", ctype="text/plain; "
            "charset=utf-8"):
    _seq[0] += 1
    return ("From: Example Service <noreply@service.example>\r\n"
            "To: %s\r\nSubject: %s\r\n"
            "Date: Sun, 22 Nov 2026 08:00:00 +0000\r\n"
            "Message-ID: <%d.%f@service.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: %s\r\n%s\r\n%s\r\n" %
            (to, subject, _seq[0], time.time(), ctype, extra_headers, body))


def mail_conf(host="localhost", ca=None, port=None, tls="implicit"):
    return {
        "mail": {"provider": "dovecot", "domain": DOMAIN,
                 "imap_host": host,
                 "imap_port": str(port or dv.imaps_port),
                 "imap_tls": tls, "ca_file": ca or dv.ca_file,
                 "poll_interval": "2"},
        "dovecot": {"passwd_file": dv.passwd_file},
        "daemon": {"body_retention": "3600"},
    }


def provision(d, name):
    r = d.cli("--json", "provision", name, "--email")
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
    t.check(r.returncode == 0 and j.get("token") and j.get("email"),
            "provision %s --email" % name, r.stdout + r.stderr)
    return j.get("token"), j.get("email")


def wait_cli(d, token, kind, timeout=30):
    r = d.cli("wait", "--kind", kind, "--timeout", str(timeout),
              token=token, timeout=timeout + 30)
    return r.returncode, r.stdout.strip()


def mbox_status(d, address):
    r = d.admin({"op": "status"})
    for m in ((r.get("channels") or {}).get("email") or {}).get(
            "imap", {}).get("mailboxes", []):
        if m.get("address") == address:
            return m
    return {}


# ------------------------------------------------------------ happy path
# The parser child obeys a test-only crash header when this is set.
os.environ["AGENTID_PARSER_TEST_CRASH"] = "1"
d = Daemon(mail_conf())
ta, alice = provision(d, "alice")
t.eq(alice, "alice@" + DOMAIN, "address is NAME@domain")
with open(dv.passwd_file) as f:
    lines = f.read()
t.check(re.search(r"^alice@agents\.test:\{SHA512-CRYPT\}\$6\$[./0-9A-Za-z]+"
                  r"\$[./0-9A-Za-z]{86}::::::$", lines, re.M),
        "passwd-file line is address:{SHA512-CRYPT}hash::::::")
t.check(dv.user_visible(alice), "dovecot sees the new user")

link = "https://github.com/users/confirm?token=Zx81-ab_" + "q" * 20
t0 = time.time()
dv.deliver(alice, message(alice, "Confirm your email address",
                          "Hello,\r\n\r\nPlease confirm your address:\r\n"
                          "%s\r\n\r\nThanks\r\n" % link))
rc, out = wait_cli(d, ta, "link")
t.eq((rc, out), (0, link), "wait --kind link prints the confirmation link")
print("# delivery -> agent: %.2f s (includes first login)" %
      (time.time() - t0))
st = mbox_status(d, alice)
t.check(st.get("state") == "idle", "the watcher is in IDLE", st)

t0 = time.time()
dv.deliver(alice, message(alice, "Your sign-in code",
                          "Your verification code is 482913.\r\n"
                          "It expires in 10 minutes.\r\n"))
rc, out = wait_cli(d, ta, "code")
t.eq((rc, out), (0, "482913"), "wait --kind code prints the code")
print("# delivery -> agent over IDLE: %.3f s" % (time.time() - t0))


def db():
    c = sqlite3.connect("file:%s/agentid.db?mode=ro" % d.state, uri=True,
                        timeout=10)
    return c


def stored(address):
    """Messages committed for address's identity."""
    c = db()
    try:
        return c.execute(
            "SELECT count(*) FROM messages m JOIN identities i ON "
            "m.identity_id = i.id WHERE i.address = ?",
            (address,)).fetchone()[0]
    finally:
        c.close()


# --------------------------------------------- two agents stay apart
tb, bob = provision(d, "bob")
t.check(dv.user_visible(bob), "dovecot sees bob")
dv.deliver(bob, message(bob, "Code for bob", "Your code is 731905.\r\n"))
rc, out = wait_cli(d, tb, "code")
t.eq((rc, out), (0, "731905"), "bob gets his own code")
rc, out = wait_cli(d, ta, "code", timeout=2)
t.eq(rc, 1, "alice does not get bob's code")
r = d.agent(ta, {"op": "list", "since": 0})
t.check(r.get("ok") and all(s.get("subject") != "Code for bob"
                            for s in r.get("secrets", [])),
        "alice's list does not show bob's mail", r)
r = d.agent(tb, {"op": "list", "since": 0})
t.check(r.get("ok") and all("Confirm" not in (s.get("subject") or "")
                            for s in r.get("secrets", [])),
        "bob's list does not show alice's mail", r)

# A name already taken in the passwd-file gets a suffix.
with open(dv.passwd_file, "a") as f:
    f.write("carol@agents.test:{PLAIN}someone-else::::::\n")
tc, carol = provision(d, "carol")
t.eq(carol, "carol-2@" + DOMAIN, "taken address gets a suffix")

# Revoke removes only that line.
r = d.cli("revoke", "carol")
t.eq(r.returncode, 0, "revoke carol")
ok = wait_for(lambda: "carol-2@agents.test:" not in open(dv.passwd_file)
              .read(), timeout=15)
text = open(dv.passwd_file).read()
t.check(ok and "carol@agents.test:{PLAIN}someone-else" in text and
        "alice@agents.test:" in text and "bob@agents.test:" in text,
        "revoke removes carol's line and keeps the others", text)

# STARTTLS, and plain IMAP (allowed to loopback only), reach the same mail.
for label, conf in (("STARTTLS", mail_conf(port=dv.imap_port,
                                           tls="starttls")),
                    ("plain to loopback", mail_conf(host="127.0.0.1",
                                                    port=dv.imap_port,
                                                    tls="none"))):
    name = "stls" if label == "STARTTLS" else "plain"
    dd = Daemon(conf, name="agentidd-" + name)
    tok, addr = provision(dd, name)
    dv.user_visible(addr)
    dv.deliver(addr, message(addr, "Code", "Your code: 135791\r\n"))
    rc, out = wait_cli(dd, tok, "code")
    t.eq((rc, out), (0, "135791"), "%s: the code arrives" % label)
    dd.stop()

# A server without IDLE is polled every poll_interval (2 s here).
dv2 = Dovecot(os.path.join(tmp, "dovecot-noidle"), idle=False)
dv2.start()
on_exit(dv2.stop)
conf = mail_conf(port=dv2.imaps_port, ca=dv2.ca_file)
conf["dovecot"]["passwd_file"] = dv2.passwd_file
dd = Daemon(conf, name="agentidd-noidle")
tok, addr = provision(dd, "poller")
dv2.user_visible(addr)
t.check(wait_for(lambda: mbox_status(dd, addr).get("state") == "poll",
                 timeout=20), "no IDLE offered: the watcher polls",
        mbox_status(dd, addr))
t0 = time.time()
dv2.deliver(addr, message(addr, "Code", "Your code: 864213\r\n"))
rc, out = wait_cli(dd, tok, "code")
t.eq((rc, out), (0, "864213"), "polling: the code arrives")
t.check(time.time() - t0 < 6, "polling: within poll_interval + a bit "
        "(%.1f s)" % (time.time() - t0))
dd.stop()
dv2.stop()

# ------------------------------------------------- hostile mail
hostile = [
    ("bad boundary", message(alice, "boundary", "--\"\r\nx\r\n--\"--\r\n",
                             ctype='multipart/mixed; boundary="\\""')),
    ("deep nesting", "".join(
        'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' %
        (i, i) for i in range(3000)).join(
        ["From: x@service.example\r\nTo: %s\r\nSubject: deep\r\n"
         "MIME-Version: 1.0\r\n" % alice, "\r\nleaf 111222\r\n"])),
    ("invalid charsets", message(
        alice, "=?x-bogus-charset?Q?=FF=FE?= =?utf-8?B?////?=",
        "caf\xe9 \udcff code? no\r\n".encode("utf-8", "surrogateescape")
        .decode("latin-1"),
        ctype='text/plain; charset="x-no-such-charset-\xff"')),
    ("parser crash", message(alice, "crash", "Code: 123987\r\n",
                             extra_headers="X-Agentid-Test-Crash: segv\r\n")),
    ("26 MB, over the cap", "From: x@service.example\r\nTo: %s\r\n"
     "Subject: too big\r\nContent-Type: text/plain\r\n\r\n" % alice +
     ("B" * 998 + "\r\n") * (26 * 1024 * 1024 // 1000)),
    ("20 MB", "From: x@service.example\r\nTo: %s\r\nSubject: huge\r\n"
     "Content-Type: text/plain\r\n\r\n" % alice +
     ("A" * 998 + "\r\n") * (20 * 1024 * 1024 // 1000)),
]
before = stored(alice)
for name, msg in hostile:
    body = msg.encode("latin-1", "replace") if isinstance(msg, str) else msg
    dv.deliver(alice, body)
t.check(wait_for(lambda: stored(alice) >= before + len(hostile),
                 timeout=120),
        "hostile messages are recorded (the cursor moves past them)",
        "%d of %d" % (stored(alice) - before, len(hostile)))
t.check(d.alive(), "the daemon lives after hostile mail")
dv.deliver(alice, message(alice, "Your code", "Code: 650213\r\n"))
rc, out = wait_cli(d, ta, "code")
t.eq((rc, out), (0, "650213"), "the next normal message is delivered")
em = d.admin({"op": "status"}).get("channels", {}).get("email", {})
t.check(em.get("rejected", 0) >= 2,
        "bad boundary and deep nesting rejected before parsing", em)
t.check(em.get("oversize") == 1, "the 26 MB message is recorded, not "
        "fetched", em)
t.check(em.get("quarantined") == 1 and em.get("parser_crashes") == 2,
        "the message that crashed the parser twice is quarantined", em)
r = d.agent(ta, {"op": "list", "since": 0})
t.check(r.get("ok") and all(s.get("subject") != "crash"
                            for s in r.get("secrets", [])),
        "nothing from the quarantined message reaches the agent", r)

# ------------------------------------------------- bad certificates
def login_attempts(address):
    """Log lines of an IMAP login by address: imap-login's own lines, a
    passdb lookup made for a client (it names the client's IP), or an
    imap session.  (LMTP deliveries and doveadm lookups do not count.)"""
    return sum(1 for line in dv.read_log().splitlines()
               if ("imap-login" in line and address in line) or
               "(%s,127.0.0.1" % address in line or
               "imap(%s)" % address in line)


t.check(login_attempts(alice) > 0, "a real login shows in Dovecot's log")


for label, conf in (("wrong CA", mail_conf(ca=dv.other_ca)),
                    ("wrong host name", mail_conf(host="127.0.0.1"))):
    name = "wca" if label == "wrong CA" else "whost"
    dd = Daemon(conf, name="agentidd-" + name)
    tok, addr = provision(dd, name)
    dv.user_visible(addr)
    dv.deliver(addr, message(addr, "Your code", "Code: 909090\r\n"))
    got = wait_for(lambda: (mbox_status(dd, addr).get("errors") or 0) >= 2,
                   timeout=20)
    st = mbox_status(dd, addr)
    t.check(got and "certificate" in (st.get("last_error") or ""),
            "%s: certificate error, retried with backoff" % label, st)
    t.check(st.get("retry_at", 0) > 0 and st.get("state") == "down",
            "%s: a retry is scheduled" % label, st)
    r = dd.cli("status")
    t.check("certificate" in r.stdout, "%s: error visible in "
            "`agentid status`" % label, r.stdout[-500:])
    r = dd.cli("--json", "show", name)
    try:
        ids = json.loads(r.stdout)["agent"]["identities"]
        werr = ids[0]["watch"]["last_error"] or ""
    except (ValueError, KeyError, IndexError, TypeError):
        werr = ""
    t.check("certificate" in werr, "%s: error visible in `agentid show "
            "--json`" % label, r.stdout[-800:])
    t.eq(login_attempts(addr), 0, "%s: no LOGIN reached Dovecot" % label)
    rc, out = wait_cli(dd, tok, "code", timeout=1)
    t.eq(rc, 1, "%s: nothing delivered" % label)
    dd.stop()
t.check("no auth attempts" in dv.read_log(),
        "the watcher did connect (Dovecot saw sessions without auth)")

# ---------------------------------------- SIGKILL in the middle of a batch
N = 40
d.kill()
codes = ["%06d" % (300000 + i * 7919 % 100000) for i in range(N)]
base = stored(alice)
for i, code in enumerate(codes):
    dv.deliver(alice, message(alice, "Batch %d" % i,
                              "Your one-time code is %s.\r\n" % code +
                              ("padding line for size\r\n" * 2000)))
d.start()
k = wait_for(lambda: stored(alice) - base >= 3, timeout=30, step=0.005)
d.kill()
k = stored(alice) - base
t.check(0 < k < N, "daemon killed mid-batch (%d of %d stored)" % (k, N))
d.start()
t.check(wait_for(lambda: stored(alice) - base >= N, timeout=60),
        "after restart every message is stored")
time.sleep(1)
t.eq(stored(alice) - base, N, "no message stored twice")
got = []
for i in range(N + 1):
    rc, out = wait_cli(d, ta, "code", timeout=0)
    if rc != 0:
        break
    got.append(out)
t.eq(sorted(got), sorted(codes), "every batch code delivered exactly once")
c = db()
dup = c.execute("SELECT count(*) FROM (SELECT provider_id FROM messages "
                "GROUP BY provider_id HAVING count(*) > 1)").fetchone()[0]
c.close()
t.eq(dup, 0, "no provider id twice in the store")
t.check(d.alive(), "the daemon is alive at the end")
# ------------------------------------------------- UIDVALIDITY change
# Dovecot renumbers a maildir whose uidlist and index are gone: every UID
# restarts, UIDVALIDITY changes.  Nothing may be delivered twice.
d.stop()
old_uv = None
c = db()
old_uv = c.execute("SELECT c.uidvalidity FROM imap_cursors c JOIN "
                   "identities i ON c.identity_id = i.id WHERE i.address "
                   "= ?", (alice,)).fetchone()[0]
c.close()
mdir = os.path.join(dv.dir, "mail", alice, "Maildir")
for fn in os.listdir(mdir):
    if fn.startswith("dovecot-uidlist") or fn.startswith("dovecot.index"):
        os.unlink(os.path.join(mdir, fn))
before = stored(alice)
d.start()
t.check(wait_for(lambda: mbox_status(d, alice).get("uidvalidity") not in
                 (None, old_uv) and mbox_status(d, alice).get("state") ==
                 "idle", timeout=30),
        "UIDVALIDITY changed and the watcher re-scanned",
        (old_uv, mbox_status(d, alice)))
t.eq(stored(alice), before, "re-scan after a UIDVALIDITY change stores "
     "nothing twice")
cnt = d.admin({"op": "status"}).get("counters", {})
t.check(cnt.get("duplicates", 0) >= dv.count(alice) - 1,
        "the re-scanned messages were recognised as replays", cnt)
rc, out = wait_cli(d, ta, "any", timeout=1)
t.eq(rc, 1, "re-scan delivers nothing again")
dv.deliver(alice, message(alice, "After renumbering", "Code: 246810\r\n"))
rc, out = wait_cli(d, ta, "code")
t.eq((rc, out), (0, "246810"), "new mail after a UIDVALIDITY change arrives")
t.check("UIDVALIDITY changed" in d.log(), "the change is logged")

for line in dv.notify_trouble()[:3]:
    print("# dovecot: " + line)
log = d.log()
t.check(all(c not in log for c in codes + ["482913", "650213"]) and
        link not in log, "no code or link in the daemon's log")
if os.environ.get("AGENTID_KEEP"):
    with open(os.path.join(tmp, "agentidd.log"), "w") as f:
        f.write(log)
d.stop()

# ------------------------------------------ misbehaving IMAP servers
# The agent socket must answer in milliseconds whatever the server does.
def bad_server(mode):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    held = []

    def run():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            held.append(c)
            try:
                if mode == "garbage":
                    c.sendall(os.urandom(4096))
                elif mode == "close":
                    c.close()
                elif mode == "imapjunk":
                    c.sendall(b"* OK hello\r\n")
                    c.recv(4096)
                    c.sendall(b"\x00\xff junk {99999999}\r\nxx")
                    c.close()
                # "silent": keep the connection, never answer
            except OSError:
                pass

    th = threading.Thread(target=run, daemon=True)
    th.start()

    def stop():
        ls.close()
        for c in held:
            try:
                c.close()
            except OSError:
                pass
    on_exit(stop)
    return ls.getsockname()[1]


for mode, tls, want in (("garbage", "implicit", "TLS handshake"),
                        ("close", "implicit", "TLS handshake"),
                        ("imapjunk", "none", ""),
                        ("silent", "implicit", None)):
    port = bad_server(mode)
    pf = os.path.join(tmp, "users-" + mode)
    conf = mail_conf(host="127.0.0.1", port=port, tls=tls)
    conf["dovecot"]["passwd_file"] = pf
    db_ = Daemon(conf, name="agentidd-" + mode)
    tok, addr = provision(db_, "m" + mode)
    time.sleep(2.5)     # the first login waits ~2 s; let it hit the server
    slow = 0.0
    for i in range(20):
        t0 = time.time()
        r = db_.agent(tok, {"op": "whoami"}, timeout=5)
        slow = max(slow, time.time() - t0)
        time.sleep(0.05)
    t.check(r.get("ok") and slow < 0.5, "%s server: the agent socket "
            "stays responsive (worst %.3f s)" % (mode, slow))
    if want is not None:
        ok = wait_for(lambda: (mbox_status(db_, addr).get("errors") or 0)
                      >= 1, timeout=20)
        st = mbox_status(db_, addr)
        t.check(ok and want in (st.get("last_error") or "") and
                st.get("state") == "down",
                "%s server: error recorded, retry scheduled" % mode, st)
    t.check(db_.alive(), "%s server: the daemon lives" % mode)
    t0 = time.time()
    db_.stop()
    t.check(time.time() - t0 < 5, "%s server: the daemon stops promptly "
            "(%.1f s)" % (mode, time.time() - t0))

# ------------------------------------------------------------- mailcow
FAKE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "fakes", "fake_mailcow.py")
KEY = "mc-test-key-" + "k" * 20
mc = subprocess.Popen(["/usr/bin/python3", FAKE, "--port", "0", "--key", KEY,
                       "--domain", DOMAIN, "--passwd-file", dv.passwd_file],
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                      text=True)


def stop_mc():
    if mc.poll() is None:
        mc.terminate()
        mc.wait(5)


on_exit(stop_mc)
mcport = int(mc.stdout.readline().split()[1])
mcbase = "http://127.0.0.1:%d" % mcport


def mc_get(path):
    with urllib.request.urlopen(mcbase + path, timeout=10) as r:
        return json.loads(r.read())


def mc_conf(key_file, domain=DOMAIN):
    c = mail_conf()
    c["mail"]["provider"] = "mailcow"
    c["mail"]["domain"] = domain
    c["mailcow"] = {"api_base": mcbase, "api_key_file": key_file}
    del c["dovecot"]
    return c


keyfile = write_secret(os.path.join(tmp, "mailcow.key"), KEY)
dm = Daemon(mc_conf(keyfile), name="agentidd-mailcow")
tdana, dana = provision(dm, "dana")
t.eq(dana, "dana@" + DOMAIN, "mailcow: address is NAME@domain")
req = [x for x in mc_get("/_fake/log")
       if x["path"] == "/api/v1/add/mailbox"]
b = req[-1]["body"] if req else {}
t.check(req and req[-1]["key_ok"] and req[-1]["method"] == "POST" and
        req[-1]["content_type"] == "application/json" and
        b.get("local_part") == "dana" and b.get("domain") == DOMAIN and
        b.get("password") == 32 and b.get("password_match") and
        b.get("active") == "1", "mailcow: add/mailbox request shape", req)
t.check(dv.user_visible(dana), "mailcow: the mailbox exists in Dovecot")
link2 = "https://accounts.example.org/verify/3f9a1c77e2b4?u=dana"
dv.deliver(dana, message(dana, "Verify your account",
                         "Click to verify: %s\r\n" % link2))
rc, out = wait_cli(dm, tdana, "link", timeout=40)
t.eq((rc, out), (0, link2), "mailcow: mail reaches the agent over IMAP")

# A taken name: mailcow answers object_exists, we add a suffix.
r = urllib.request.Request(
    mcbase + "/api/v1/add/mailbox", method="POST",
    headers={"X-API-Key": KEY, "Content-Type": "application/json"},
    data=json.dumps({"local_part": "erin", "domain": DOMAIN,
                     "password": "p" * 12, "password2": "p" * 12,
                     "quota": "10"}).encode())
urllib.request.urlopen(r, timeout=10).read()
terin, erin = provision(dm, "erin")
t.eq(erin, "erin-2@" + DOMAIN, "mailcow: object_exists -> suffix")

r = dm.cli("revoke", "dana")
t.eq(r.returncode, 0, "mailcow: revoke dana")
t.check(wait_for(lambda: "dana@" + DOMAIN not in mc_get(
    "/_fake/mailboxes"), timeout=15), "mailcow: revoke deletes the mailbox")
dels = [x for x in mc_get("/_fake/log")
        if x["path"] == "/api/v1/delete/mailbox"]
t.check(dels and dels[-1]["body"] == ["dana@" + DOMAIN] and
        dels[-1]["key_ok"], "mailcow: delete/mailbox request shape", dels)
dm.stop()

# Errors come back to the admin in mailcow's words.
badkey = write_secret(os.path.join(tmp, "bad.key"), "wrong-key")
dm = Daemon(mc_conf(badkey), name="agentidd-mailcow-badkey")
r = dm.cli("provision", "frank", "--email")
t.check(r.returncode != 0 and "401" in r.stdout + r.stderr and
        "authentication failed" in r.stdout + r.stderr,
        "mailcow: a wrong API key is reported (HTTP 401)", r.stdout +
        r.stderr)
dm.stop()
dm = Daemon(mc_conf(keyfile, domain="nowhere.test"),
            name="agentidd-mailcow-domain")
r = dm.cli("provision", "gina", "--email")
t.check(r.returncode != 0 and "domain_not_found" in r.stdout + r.stderr,
        "mailcow: danger domain_not_found is reported", r.stdout + r.stderr)
t.check(all(KEY not in x for x in (dm.log(), r.stdout, r.stderr)),
        "mailcow: the API key is never printed")
dm.stop()

t.done()
