#!/usr/bin/python3
"""[dovecot] maildir: the daemon watches each mailbox's Maildir/new with
inotify and kicks the IMAP watcher when Dovecot files a message.

Proved without timing assertions: the Dovecot here offers no IDLE and
the daemon polls only every 600 s, so mail that reaches the agent within
the wait's 60 s can only have come through the kick.  A control daemon
without the key gets nothing in the same setup.  The watches themselves
are read from /proc/<pid>/fdinfo (inotify lines name the watched inode):
a mailbox whose Maildir does not exist when it is watched gets its watch
once Dovecot makes the directory, and revoke drops it.  Latency is
printed, not asserted."""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import AGENTIDD, Daemon, Tests, on_exit, wait_for  # noqa: E402
from dovecot import Dovecot  # noqa: E402

DOMAIN = "agents.test"
t = Tests()

tmp = tempfile.mkdtemp(prefix="agentid-maildir-")
if not os.environ.get("AGENTID_KEEP"):
    on_exit(lambda: subprocess.run(["rm", "-rf", tmp]))
os.chmod(tmp, 0o755)            # dovecot's auth (uid dovecot) reads below
# No IDLE in CAPABILITY: the watcher can only poll (or be kicked).
dv = Dovecot(os.path.join(tmp, "dovecot"), idle=False)
dv.start()
on_exit(dv.stop)
print("# dovecot dir: " + dv.dir)

# dovecot.py: mail_location = maildir:<dir>/mail/%Lu/Maildir.  Our
# addresses are lower case, so %u is the same thing.
PATTERN = os.path.join(dv.dir, "mail", "%u", "Maildir")

_seq = [0]


def message(to, subject, body):
    _seq[0] += 1
    return ("From: Example Service <noreply@service.example>\r\n"
            "To: %s\r\nSubject: %s\r\n"
            "Date: Sun, 22 Nov 2026 08:00:00 +0000\r\n"
            "Message-ID: <%d.%f@service.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; "
            "charset=utf-8\r\n\r\n%s\r\n" %
            (to, subject, _seq[0], time.time(), body))


def conf(maildir):
    c = {
        "mail": {"provider": "dovecot", "domain": DOMAIN,
                 "imap_host": "localhost",
                 "imap_port": str(dv.imaps_port),
                 "imap_tls": "implicit", "ca_file": dv.ca_file,
                 # Far beyond every wait below: only a kick can help.
                 "poll_interval": "600"},
        "dovecot": {"passwd_file": dv.passwd_file},
    }
    if maildir:
        c["dovecot"]["maildir"] = maildir
    return c


def provision(d, name):
    r = d.cli("--json", "provision", name, "--email")
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
    t.check(r.returncode == 0 and j.get("token") and j.get("email"),
            "provision %s --email" % name, r.stdout + r.stderr)
    return j.get("token"), j.get("email")


def wait_cli(d, token, kind, timeout=60):
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


def polled(d, address):
    """The watcher logged in and finished its first poll."""
    st = mbox_status(d, address)
    return st.get("state") == "poll" and (st.get("last_ok") or 0) > 0


def newdir(address, server=None):
    return os.path.join((server or dv).dir, "mail", address, "Maildir",
                        "new")


def watched_inodes(d):
    """Inodes the daemon's inotify instances watch (from fdinfo)."""
    pid = d.proc.pid
    out = set()
    fddir = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(fddir)
    except OSError:
        return out
    for fd in fds:
        try:
            if os.readlink(os.path.join(fddir, fd)) != "anon_inode:inotify":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if not line.startswith("inotify "):
                        continue
                    for field in line.split():
                        if field.startswith("ino:"):
                            out.add(int(field[4:], 16))
        except OSError:
            continue
    return out


def watches_new(d, address, server=None):
    try:
        ino = os.stat(newdir(address, server)).st_ino
    except OSError:
        return False
    return ino in watched_inodes(d)


# ------------------------------------------------- the kick path
d = Daemon(conf(PATTERN), name="agentidd-maildir")
t.check("maildir watch on" in d.log(), "the daemon says the maildir "
        "watch is on", d.log()[-500:])
ta, alice = provision(d, "alice")
# The first IMAP login waits ~2 s for a new mailbox; Dovecot makes the
# Maildir only then (or on the first delivery).
t.check(not os.path.exists(os.path.dirname(newdir(alice))),
        "alice's Maildir does not exist when she is first watched")
# Until it does, its deepest existing ancestor is watched, so the
# Maildir is picked up the moment Dovecot makes it (no timer).
maildirs = os.path.join(dv.dir, "mail")
t.check(os.stat(maildirs).st_ino in watched_inodes(d),
        "meanwhile the deepest existing ancestor (mail/) is watched",
        watched_inodes(d))
t.check(dv.user_visible(alice), "dovecot sees alice")
t.check(wait_for(lambda: polled(d, alice), timeout=30),
        "no IDLE offered: the watcher polls (every 600 s)",
        mbox_status(d, alice))
t.check(wait_for(lambda: watches_new(d, alice), timeout=15),
        "the watch is added once the Maildir appears",
        (os.path.exists(newdir(alice)), watched_inodes(d)))
t.check(wait_for(lambda: os.stat(maildirs).st_ino not in watched_inodes(d),
                 timeout=5),
        "and the ancestor's watch is dropped (nobody else waits on it)",
        watched_inodes(d))

t0 = time.time()
dv.deliver(alice, message(alice, "Your sign-in code",
                          "Your verification code is 482913.\r\n"))
rc, out = wait_cli(d, ta, "code")
lat = time.time() - t0
t.eq((rc, out), (0, "482913"), "no IDLE, poll_interval 600: the code "
     "still arrives (kicked by the maildir watch)")
print("# delivery -> agent via maildir kick: %.3f s" % lat)

lats = []
for i, code in enumerate(("731905", "650213", "246810")):
    t0 = time.time()
    dv.deliver(alice, message(alice, "Code %d" % i,
                              "Your code is %s.\r\n" % code))
    rc, out = wait_cli(d, ta, "code")
    lats.append(time.time() - t0)
    t.eq((rc, out), (0, code), "kicked again: message %d arrives" % (i + 2))
print("# later deliveries -> agent: %s s" %
      ", ".join("%.3f" % x for x in lats))

# ------------------------------------------------- revoke drops the watch
tb, bob = provision(d, "bob")
t.check(dv.user_visible(bob), "dovecot sees bob")
t.check(wait_for(lambda: polled(d, bob) and watches_new(d, bob),
                 timeout=30), "bob's Maildir is watched",
        (mbox_status(d, bob), os.path.exists(newdir(bob))))
bob_ino = os.stat(newdir(bob)).st_ino
r = d.cli("revoke", "bob")
t.eq(r.returncode, 0, "revoke bob")
t.check(wait_for(lambda: bob_ino not in watched_inodes(d), timeout=15),
        "revoke removes bob's inotify watch", watched_inodes(d))
t.check("maildir: stopped watching " + bob in d.log(),
        "the daemon logs that it stopped watching bob's Maildir")
t.check(watches_new(d, alice), "alice's watch survives bob's revoke",
        watched_inodes(d))
dv.deliver(alice, message(alice, "After revoke", "Your code is 135791.\r\n"))
rc, out = wait_cli(d, ta, "code")
t.eq((rc, out), (0, "135791"), "alice is still kicked after bob's revoke")

# A Maildir that goes away and comes back is watched again.
mdir = os.path.dirname(newdir(alice))
old_ino = os.stat(newdir(alice)).st_ino
subprocess.run(["rm", "-rf", newdir(alice)], check=True)
t.check(wait_for(lambda: old_ino not in watched_inodes(d), timeout=10),
        "a deleted new/ is no longer watched", watched_inodes(d))
os.mkdir(newdir(alice))
os.chown(newdir(alice), 65534, 65534)
t.check(wait_for(lambda: watches_new(d, alice), timeout=15),
        "a re-created new/ is watched again", watched_inodes(d))
dv.deliver(alice, message(alice, "After re-create",
                          "Your code is 918273.\r\n"))
rc, out = wait_cli(d, ta, "code")
t.eq((rc, out), (0, "918273"), "mail into the re-created new/ is kicked")

# Dovecot files a message while it holds <Maildir>/dovecot-uidlist.lock,
# and an IMAP sync that meets the lock sleeps 100-200 ms in Dovecot.  So
# a kick waits while the lock is there and goes out when it goes away.
# Here the lock is ours and the message is dropped into new/ by hand
# (tmp/, then rename: an MDA's way); Dovecot's IMAP side takes it.
lock = os.path.join(mdir, "dovecot-uidlist.lock")
with open(lock, "w") as f:
    f.write("%d\n" % os.getpid())
os.chown(lock, 65534, 65534)
name = "%d.M1P%d.agentid-test" % (time.time(), os.getpid())
with open(os.path.join(mdir, "tmp", name), "w") as f:
    f.write(message(alice, "Held", "Your code is 275031.\r\n"))
os.chown(os.path.join(mdir, "tmp", name), 65534, 65534)
os.rename(os.path.join(mdir, "tmp", name), os.path.join(mdir, "new", name))
waits = "maildir: %s: Dovecot holds the uidlist lock; the kick waits" % alice
t.check(wait_for(lambda: waits in d.log(), timeout=10),
        "a kick waits while dovecot-uidlist.lock exists", d.log()[-600:])
os.unlink(lock)
gone = "maildir: %s: the uidlist lock is gone; kicking" % alice
t.check(wait_for(lambda: gone in d.log(), timeout=10),
        "and goes out when the lock goes away (not on the 2 s timer)",
        d.log()[-600:])
rc, out = wait_cli(d, ta, "code")
t.eq((rc, out), (0, "275031"), "the message filed under the lock arrives")

t.check(d.alive(), "the daemon is alive")
log = d.log()
names = []
for sub in ("new", "cur"):
    try:
        names += os.listdir(os.path.join(mdir, sub))
    except OSError:
        pass
t.check(names and all(n.split(",")[0] not in log for n in names),
        "no Maildir file name in the daemon's log", len(names))
t.check(all(c not in log for c in ("482913", "731905", "650213", "246810",
                                    "135791", "918273", "275031")),
        "no code in the daemon's log")
if os.environ.get("AGENTID_KEEP"):
    with open(os.path.join(tmp, "agentidd-maildir.log"), "w") as f:
        f.write(log)
d.stop()

# ------------------------------------------------- with IDLE, as deployed
# The kicks end IDLE early (DONE, fetch, IDLE again).  Only arrival is
# checked; the latencies are printed for comparison with Dovecot's own
# IDLE push, which comes 500 ms after the delivery.
# This daemon's pattern uses %d and %n: a symlink tree <links>/<domain>/
# <local part> points at Dovecot's <mail>/<address> (dangling until
# Dovecot makes the directory).
dvi = Dovecot(os.path.join(tmp, "dovecot-idle"))
dvi.start()
on_exit(dvi.stop)
links = os.path.join(tmp, "links")
os.makedirs(os.path.join(links, DOMAIN))
os.symlink(os.path.join(dvi.dir, "mail", "dan@" + DOMAIN),
           os.path.join(links, DOMAIN, "dan"))
ci = conf(os.path.join(links, "%d", "%n", "Maildir"))
ci["mail"]["imap_port"] = str(dvi.imaps_port)
ci["mail"]["ca_file"] = dvi.ca_file
ci["dovecot"]["passwd_file"] = dvi.passwd_file
di = Daemon(ci, name="agentidd-maildir-idle")
td, dan = provision(di, "dan")
t.check(dvi.user_visible(dan), "dovecot (IDLE) sees dan")
t.check(wait_for(lambda: mbox_status(di, dan).get("state") == "idle" and
                 watches_new(di, dan, dvi), timeout=30),
        "IDLE and the maildir watch together (pattern with %d and %n)",
        mbox_status(di, dan))
lats = []
ok = True
for i in range(5):
    code = "%06d" % (554400 + i)
    t0 = time.time()
    dvi.deliver(dan, message(dan, "Code %d" % i, "Your code is %s.\r\n" %
                             code))
    rc, out = wait_cli(di, td, "code")
    lats.append(time.time() - t0)
    ok = ok and (rc, out) == (0, code)
t.check(ok, "with IDLE and the watch, every code arrives")
print("# with IDLE + maildir kick, delivery -> agent: %s s" %
      ", ".join("%.3f" % x for x in lats))
t.check(di.alive(), "the IDLE daemon is alive")
di.stop()
dvi.stop()

# ------------------------------------------------- control: key unset
# Same server, same 600 s poll, no [dovecot] maildir: nothing arrives in
# the few seconds the kicked daemon never needed, so the kick above was
# what delivered.
dc = Daemon(conf(None), name="agentidd-nomaildir")
t.check("maildir watch on" not in dc.log(), "without the key there is "
        "no maildir watch")
tc, carol = provision(dc, "carol")
t.check(dv.user_visible(carol), "dovecot sees carol")
t.check(wait_for(lambda: polled(dc, carol), timeout=30),
        "control: the watcher polls", mbox_status(dc, carol))
t.eq(len(watched_inodes(dc)), 0, "control: no inotify watch")
dv.deliver(carol, message(carol, "Code", "Your code is 112233.\r\n"))
rc, out = wait_cli(dc, tc, "code", timeout=3)
t.eq(rc, 1, "control: without the watch the next poll (600 s) is the "
     "only way in, so nothing arrives yet")
dc.stop()

# The key is checked with the rest of the configuration (agentidd -n).
def check_conf(maildir):
    c = Daemon(conf(maildir), start=False, name="agentidd-check")
    r = subprocess.run([AGENTIDD, "-n", "-c", c.conffile],
                       capture_output=True, text=True, timeout=20)
    return r.returncode, r.stdout + r.stderr


rc, out = check_conf(PATTERN)
t.eq(rc, 0, "agentidd -n accepts an absolute pattern with %u")
rc, out = check_conf("/var/vmail/%d/%n/Maildir")
t.eq(rc, 0, "agentidd -n accepts %d and %n")
rc, out = check_conf("relative/%u/Maildir")
t.check(rc != 0 and "maildir must be an absolute path" in out,
        "a relative [dovecot] maildir is refused", out[-300:])
rc, out = check_conf("/var/vmail/%x/Maildir")
t.check(rc != 0 and "[dovecot] maildir: only" in out,
        "an unknown %-escape in [dovecot] maildir is refused", out[-300:])

t.done()
