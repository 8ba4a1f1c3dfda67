#!/usr/bin/python3
"""Crash safety under a mixed ingest: the real agentidd takes SMS from the
fake Twilio (signed webhooks, retried on failure, async) and email from a
real Dovecot (delivered over LMTP, read over IMAPS with IDLE) for three
agents, each with a mailbox and a number, while it is SIGKILLed at random
moments and restarted each time.

Phase "webhook": 160 SMS + 160 emails, 24 kills, no Twilio polling (so no
fallback can hide a webhook that was answered 200 and then lost); the
agents drain with `wait` at the end.  Every SMS the fake saw acknowledged
(a 2xx attempt) and every email Dovecot accepted reaches its owning agent
exactly once; nothing reaches another agent.
Phase "polling+waiters": fewer messages and kills, the polling fallback
racing the webhook for the same MessageSid (and re-reading phase 1's
messages), and every agent blocked in `wait` all along.  A secret is
committed as delivered before it is written to the agent (at most once,
DESIGN §3 rule 4), so a kill in between may lose it: allowed only for a
wait the kill cut, with the secret marked delivered at that kill.
Then, after a clean stop: PRAGMA integrity_check is ok, no provider id
twice, nothing left pending, no child of a killed daemon left running.

The schedule is random from a fixed seed, printed first; replay a failure
with AGENTID_CRASH_SEED=N.  AGENTID_CRASH_KILLS, AGENTID_CRASH_SMS and
AGENTID_CRASH_EMAIL change the size of phase 1 (phase 2 sends a third
of its messages with half its kills); AGENTID_CRASH_DEBUG=1 prints the kill times and cut waits.
Everything runs on 127.0.0.1."""

import email.utils
import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (Conn, Daemon, Tests, free_port, on_exit, wait_for,  # noqa: E402
                 write_secret)
from dovecot import Dovecot  # noqa: E402
import lib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(os.path.dirname(HERE), "fakes", "fake_twilio.py")
SID = "AC" + "c" * 32
TOKEN = "tw-crash-token-" + "z" * 20
DOMAIN = "agents.test"
AGENTS = ("crash-a", "crash-b", "crash-c")


def env_int(name, default):
    try:
        return int(os.environ.get(name, ""))
    except ValueError:
        return default


SEED = env_int("AGENTID_CRASH_SEED", 20261122)
KILLS = max(env_int("AGENTID_CRASH_KILLS", 24), 1)
N_SMS = max(env_int("AGENTID_CRASH_SMS", 160), 1)
N_EMAIL = max(env_int("AGENTID_CRASH_EMAIL", 160), 1)
# The fake retries each webhook this often, this far apart: a message
# posted while the daemon is down is answered after it is back.
RETRIES, DELAY = 5, 1.5
rng = random.Random(SEED)
T0 = time.time()
print("# seed %d (replay: AGENTID_CRASH_SEED=%d); %d kills, %d SMS, "
      "%d emails" % (SEED, SEED, KILLS, N_SMS, N_EMAIL), flush=True)

t = Tests()


def note(msg):
    print("# [%6.1fs] %s" % (time.time() - T0, msg), flush=True)


# ------------------------------------------------------------ servers

tmp = tempfile.mkdtemp(prefix="agentid-crash-")
if not os.environ.get("AGENTID_KEEP"):
    on_exit(lambda: subprocess.run(["rm", "-rf", tmp]))
os.chmod(tmp, 0o755)            # dovecot's auth (uid dovecot) reads below
# Every restart runs the same build, even if bin/ is rebuilt meanwhile.
for b in ("AGENTIDD", "AGENTID"):
    src = getattr(lib, b)
    dst = os.path.join(tmp, os.path.basename(src))
    subprocess.run(["cp", src, dst], check=True)
    setattr(lib, b, dst)
dv = Dovecot(os.path.join(tmp, "dovecot"))
dv.start()
on_exit(dv.stop)

fproc = subprocess.Popen(["/usr/bin/python3", FAKE, "--port", "0", "--sid",
                          SID, "--token", TOKEN], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)


def stop_fake():
    if fproc.poll() is None:
        fproc.terminate()
        try:
            fproc.wait(5)
        except subprocess.TimeoutExpired:
            fproc.kill()
            fproc.wait()


on_exit(stop_fake)
line = fproc.stdout.readline()
if not line.startswith("PORT "):
    raise RuntimeError("fake_twilio did not start: %r" % line)
fport = int(line.split()[1])


def fake(method, path, obj=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", fport, timeout=timeout)
    try:
        c.request(method, path, json.dumps(obj).encode() if obj else b"",
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        return r.status, (json.loads(data) if data else None)
    finally:
        c.close()


wport = free_port()
public = "http://127.0.0.1:%d" % wport
d = Daemon(start=False, conf={
    "daemon": {"log_level": "info"},
    "phone": {"provider": "twilio"},
    # poll_interval is set per phase below.
    "twilio": {"api_base": "http://127.0.0.1:%d" % fport,
               "account_sid": SID, "country": "US", "poll_interval": "0"},
    "webhook": {"listen": "127.0.0.1:%d" % wport, "public_url": public},
    "mail": {"provider": "dovecot", "domain": DOMAIN,
             "imap_host": "localhost", "imap_port": str(dv.imaps_port),
             "imap_tls": "implicit", "ca_file": dv.ca_file,
             "poll_interval": "1"},
    "dovecot": {"passwd_file": dv.passwd_file},
})
d.sections["twilio"]["auth_token_file"] = write_secret(
    os.path.join(d.dir, "twilio.token"), TOKEN)
d.write_conf()
d.start()
DB = os.path.join(d.state, "agentid.db")

agents = {}                     # name -> {"token", "email", "phone"}
for name in AGENTS:
    r = d.cli("provision", name, "--email", "--phone", "--json")
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
    if r.returncode != 0 or not (j.get("token") and j.get("email") and
                                 j.get("phone")):
        t.check(False, "provision %s --email --phone" % name,
                r.stdout + r.stderr)
        t.done()
    agents[name] = j
t.check(len({a["phone"] for a in agents.values()}) == len(AGENTS) and
        len({a["email"] for a in agents.values()}) == len(AGENTS),
        "%d agents, each with its own mailbox and number" % len(AGENTS))
t.check(all(dv.user_visible(a["email"]) for a in agents.values()),
        "dovecot sees every mailbox")
note("setup done")

# ------------------------------------------------------------ helpers

def children_of(pid):
    """Pids whose parent is pid (the parser child and any others)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        # The command may hold spaces and parens: the ppid follows the
        # last ')'.
        fields = st[st.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid):
            out.append(int(p))
    return out


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rfind(")") + 2:][:1] not in ("Z", "X")


orphans = set()                 # children of killed daemons, to check


def kill_daemon():
    if d.proc is not None:
        orphans.update(children_of(d.proc.pid))
    d.kill()


def end_orphans():
    for pid in orphans:
        if pid_alive(pid):
            try:
                os.kill(pid, 9)
            except OSError:
                pass


on_exit(end_orphans)


def deliveries():
    try:
        return fake("GET", "/_fake/deliveries")[1] or {}
    except (OSError, http.client.HTTPException, ValueError):
        return {}


def stored_count():
    try:
        c = sqlite3.connect("file:%s?mode=ro" % DB, uri=True, timeout=10)
        try:
            return c.execute("SELECT count(*) FROM messages").fetchone()[0]
        finally:
            c.close()
    except sqlite3.Error:
        return -1


def by_channel():
    """(SMS, email) messages in the store; (-1, -1) when unreadable."""
    try:
        c = sqlite3.connect("file:%s?mode=ro" % DB, uri=True, timeout=10)
        try:
            n = dict(c.execute("SELECT channel, count(*) FROM messages "
                               "GROUP BY channel").fetchall())
        finally:
            c.close()
    except sqlite3.Error:
        return (-1, -1)
    return (n.get("sms", 0), n.get("email", 0))


def diagnose(P, mails, sms):
    """On a loss: what the store says, for the report (no values)."""
    try:
        c = sqlite3.connect("file:%s?mode=ro" % DB, uri=True, timeout=10)
        try:
            for m in mails[:8]:
                print("# %smissing email ref %d (pad %d, %s): %r" % (
                    P, m["i"], m["pad"], m["agent"], c.execute(
                        "SELECT m.id, m.provider_id, m.received_at, s.id, "
                        "s.state, s.agent_id, s.received_at, s.expires_at, "
                        "s.delivered_at FROM messages m LEFT JOIN secrets s "
                        "ON s.message_id = m.id WHERE m.subject = ?",
                        ("Your sign-in code (ref %d)" % m["i"],)).fetchall()),
                    flush=True)
            for m in sms[:8]:
                print("# %smissing sms from %s (%s): %r" % (
                    P, m["from"], m["agent"], c.execute(
                        "SELECT m.id, m.received_at, s.id, s.state, "
                        "s.agent_id, s.delivered_at FROM messages m LEFT "
                        "JOIN secrets s ON s.message_id = m.id WHERE "
                        "m.sender = ?", (m["from"],)).fetchall()), flush=True)
            for q in ("SELECT channel, state, count(*) FROM secrets GROUP BY "
                      "channel, state",
                      "SELECT m.channel, count(*) FROM messages m WHERE NOT "
                      "EXISTS (SELECT 1 FROM secrets s WHERE s.message_id = "
                      "m.id) GROUP BY m.channel",
                      "SELECT count(*), min(length(body)), max(length(body)) "
                      "FROM messages m WHERE channel = 'email' AND NOT EXISTS "
                      "(SELECT 1 FROM secrets s WHERE s.message_id = m.id)"):
                print("# %sstore: %s -> %r" % (P, q, c.execute(q).fetchall()),
                      flush=True)
        finally:
            c.close()
    except sqlite3.Error as e:
        print("# %sstore unreadable: %s" % (P, e), flush=True)
    # The daemon's own account of the mail path (it never logs values).
    marks = ("not parsed", "quarantined", "rejected", "parser",
             "UIDVALIDITY", "not stored", "cursor")
    lines = [ln for ln in d.log().splitlines() if any(k in ln for k in marks)]
    print("# %s%d log lines about the mail path; the last ones:" % (
        P, len(lines)), flush=True)
    for ln in lines[-15:]:
        print("#   " + ln[:300], flush=True)


def secret_state(m):
    """(state, delivered_at) of the secret from message m, found by its
    unique subject (email) or sender (SMS); None when there is none."""
    if "pad" in m:
        q, arg = "m.subject = ?", "Your sign-in code (ref %d)" % m["i"]
    else:
        q, arg = "m.sender = ? AND m.channel = 'sms'", m["from"]
    try:
        c = sqlite3.connect("file:%s?mode=ro" % DB, uri=True, timeout=10)
        try:
            return c.execute("SELECT s.state, s.delivered_at FROM messages "
                             "m JOIN secrets s ON s.message_id = m.id "
                             "WHERE " + q, (arg,)).fetchone()
        finally:
            c.close()
    except sqlite3.Error:
        return None


SMS_TEXTS = ("Your verification code is %s",
             "Your verification code is %s. Do not share it.",
             "Use code %s to sign in")
owner = {}                      # every code sent so far -> its agent
seen_total = {}                 # every code received so far -> count
mail_no = [0]
used_from = set()


def mail_text(m):
    to = agents[m["agent"]]["email"]
    return ("From: Service %d <noreply@service%d.example>\r\n"
            "To: %s\r\nSubject: Your sign-in code (ref %d)\r\n"
            "Date: %s\r\n"
            "Message-ID: <crash-%d-%d@service.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8"
            "\r\n\r\nYour one-time code is %s.\r\nIt expires in 10 minutes."
            "\r\n%s" % (m["i"] % 7, m["i"] % 7, to, m["i"],
                        email.utils.formatdate(usegmt=True), SEED, m["i"],
                        m["code"],
                        "padding line, nothing to see here\r\n" * m["pad"]))


class Waiter:
    """One agent's client that keeps a `wait` open all through a phase,
    as a real agent would.  A wait whose connection the daemon's death
    cut (sent, never answered) is counted: a secret committed as
    delivered in that instant never reached the agent (delivery is at
    most once by design: DESIGN §3 rule 4)."""

    def __init__(self, name):
        self.name = name
        self.got = []
        self.cut = 0
        self.why = []
        self.errors = []
        self.stop = False
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        tok = agents[self.name]["token"]
        while not self.stop:
            try:
                c = Conn(d.agent_sock, timeout=15)
            except OSError:
                time.sleep(0.02)    # the daemon is down
                continue
            try:
                r = c.call({"op": "wait", "kind": "any", "channel": "any",
                            "since": 0, "timeout": 1, "token": tok})
            except (OSError, ValueError) as e:
                self.cut += 1
                self.why.append("%.3f %s" % (time.time() - T0, e))
                continue
            finally:
                c.close()
            if r.get("ok"):
                self.got.append((r.get("secret") or {}).get("value"))
            elif r.get("error") != "timeout":
                self.errors.append(r)


def phase(label, n_sms, n_email, nkills, poll, live):
    """Send n_sms + n_email messages while killing the daemon nkills
    times, then check every acknowledged one arrived exactly once."""
    P = label + ": "
    note(P + "%d SMS, %d emails, %d kills, twilio polling %s, %s" % (
        n_sms, n_email, nkills, "every %ss" % poll if poll else "off",
        "agents waiting all along" if live else "agents drain at the end"))
    d.sections["twilio"]["poll_interval"] = str(poll)
    d.write_conf()
    d.stop()
    d.start()
    # Every message carries its own code; the owner is chosen at random.
    fresh = [c for c in rng.sample(range(100000, 1000000),
                                   n_sms + n_email + 200)
             if "%06d" % c not in owner]
    codes = ["%06d" % c for c in fresh[:n_sms + n_email]]
    sms = [{"code": codes[i], "agent": rng.choice(AGENTS)}
           for i in range(n_sms)]
    mails = [{"code": codes[n_sms + i], "agent": rng.choice(AGENTS),
              "pad": rng.choice((0, 0, 10, 200, 2000))}
             for i in range(n_email)]
    for m in sms:
        m["text"] = rng.choice(SMS_TEXTS) % m["code"]
        m["from"] = "+1555%07d" % rng.randrange(10 ** 7)
        while m["from"] in used_from:       # secret_state() needs it unique
            m["from"] = "+1555%07d" % rng.randrange(10 ** 7)
        used_from.add(m["from"])
        m["gap"] = rng.uniform(0, 0.03)
    for m in mails:
        m["gap"] = rng.uniform(0, 0.03)
        m["i"] = mail_no[0]
        mail_no[0] += 1
    for m in sms + mails:
        owner[m["code"]] = m["agent"]
    sms_codes = {m["code"] for m in sms}
    mail_codes = {m["code"] for m in mails}
    before_dv = {a["email"]: dv.count(a["email"]) for a in agents.values()}
    before_st = stored_count()
    before_ch = by_channel()

    # The feeders are paced by the kill loop: in cycle k (between kill
    # k-1 and kill k) they may send up to (k+1)/nkills of their
    # messages, so the ingest spans every kill whatever the speed.
    lock = threading.Lock()
    cycle = [0]
    fed = {"sms": 0, "email": 0}
    errors = []
    sids = {}                   # MessageSid -> sms item

    def allowed(n):
        with lock:
            k = cycle[0]
        return n if k >= nkills - 1 else -(-(k + 1) * n // nkills)

    def feed_sms():
        for i, m in enumerate(sms):
            while i >= allowed(n_sms):
                time.sleep(0.005)
            time.sleep(m["gap"])
            try:
                st, job = fake("POST", "/_fake/sms", {
                    "To": agents[m["agent"]]["phone"], "From": m["from"],
                    "Body": m["text"], "Retries": str(RETRIES),
                    "Delay": str(DELAY), "Async": "1"})
            except (OSError, http.client.HTTPException, ValueError) as e:
                st, job = str(e), None
            if st != 202 or not job or not job.get("sid"):
                errors.append("sms %d: fake answered %r" % (i, st))
                continue
            with lock:
                sids[job["sid"]] = m
                fed["sms"] += 1

    def feed_email():
        for i, m in enumerate(mails):
            while i >= allowed(n_email):
                time.sleep(0.005)
            time.sleep(m["gap"])
            try:
                dv.deliver(agents[m["agent"]]["email"], mail_text(m))
            except Exception as e:          # LMTP refusal or I/O error
                errors.append("email %d: %s" % (i, e))
                continue
            with lock:
                fed["email"] += 1

    waiters = [Waiter(n) for n in AGENTS] if live else []
    feeders = [threading.Thread(target=feed_sms, daemon=True),
               threading.Thread(target=feed_email, daemon=True)]
    for th in feeders:
        th.start()
    kills = []                  # (uptime, fed sms, fed email) per kill
    kill_times = []
    died = []                   # exits we did not cause
    start_fail = None
    for k in range(nkills):
        # A quarter of the kills come right after a start (catch-up,
        # first IMAP login); the others anywhere in a busy second.
        up = rng.uniform(0, 0.1) if rng.random() < 0.25 else \
            rng.uniform(0.15, 0.9)
        down = rng.choice((0, 0, 0.05, 0.3))
        time.sleep(up)
        if not d.alive():
            died.append(k)
        with lock:
            snap = (up, fed["sms"], fed["email"]) + by_channel()
        kill_times.append(time.time())
        kill_daemon()
        kills.append(snap)
        with lock:
            cycle[0] = k + 1
        time.sleep(down)
        try:
            d.start(timeout=20)
        except RuntimeError as e:
            start_fail = str(e)[-2000:]
            break
    note(P + "kill loop done: %d kills" % len(kills))
    if not t.check(start_fail is None, P + "the daemon restarts after "
                   "every SIGKILL", start_fail):
        for w in waiters:
            w.stop = True
        t.done()
    for th in feeders:
        th.join(120)
    t.check(not any(th.is_alive() for th in feeders) and not errors,
            P + "the feeders sent every message", errors[:5])
    with lock:
        cycle[0] = nkills
    # A kill counts as "during the ingest" when messages were still being
    # sent; separately, the store must have taken SMS and email in most
    # stretches between kills (the webhook and the IMAP watchers were
    # both at work when the kills came).
    during = busy_sms = busy_mail = 0
    prev = before_ch
    for u, fs, fe, ss, se in kills:
        if fs < n_sms or fe < n_email:
            during += 1
        busy_sms += ss > prev[0]
        busy_mail += se > prev[1]
        prev = (ss, se)
    t.check(len(kills) >= min(20, nkills) and during >= min(20, nkills - 1),
            P + "SIGKILL at %d random moments, %d of them while messages "
            "were still being sent" % (len(kills), during),
            [(round(k[0], 3),) + k[1:] for k in kills])
    t.check(busy_sms >= nkills // 2 and busy_mail >= nkills // 2,
            P + "the store took SMS in %d and email in %d of the %d "
            "stretches between kills" % (busy_sms, busy_mail, len(kills)),
            [(round(k[0], 3),) + k[1:] for k in kills])
    t.check(not died, P + "the daemon never died by itself", died)
    note(P + "fed %d SMS, %d emails" % (fed["sms"], fed["email"]))

    # Every webhook job ends: answered 2xx or out of retries.
    finished = wait_for(lambda: all(deliveries().get(s, {}).get("done")
                                    for s in list(sids)),
                        timeout=(RETRIES + 1) * DELAY + 30, step=0.25)
    recs = deliveries()
    t.check(finished, P + "every fake webhook delivery finished",
            sum(1 for s in sids if not recs.get(s, {}).get("done")))
    acked = {s for s in sids if recs.get(s, {}).get("delivered")}
    failed = {s for s in sids if recs.get(s, {}).get("done") and
              s not in acked}
    retried = sum(1 for s in acked if len(recs[s]["attempts"]) > 1)
    note(P + "SMS: %d acknowledged (%d after a failed attempt), %d never "
         "acknowledged" % (len(acked), retried, len(failed)))
    print("# %sSMS whose every attempt failed (not expected): %d" %
          (P, len(failed)), flush=True)
    t.check(retried > 0, P + "some webhooks failed at a kill and were "
            "retried (%d)" % retried)
    want_mail = {}
    for m in mails:
        a = agents[m["agent"]]["email"]
        want_mail[a] = want_mail.get(a, 0) + 1
    t.check(all(dv.count(a) - before_dv[a] == n
                for a, n in want_mail.items()),
            P + "Dovecot holds every email (%d)" % n_email,
            {a: (dv.count(a) - before_dv[a], n)
             for a, n in want_mail.items()})

    expected = {sids[s]["code"] for s in acked} | mail_codes
    unacked = {sids[s]["code"] for s in failed}
    # The store must hold at least every expected message; then the IMAP
    # watchers and the Twilio poller get another full round so that a
    # late duplicate has its chance to show.
    t.check(wait_for(lambda: stored_count() - before_st >= len(expected),
                     timeout=45, step=0.25),
            P + "the store caught up (%d new messages, %d expected)" %
            (stored_count() - before_st, len(expected)))
    time.sleep(2 + 2 * poll)
    for w in waiters:
        w.stop = True
    for w in waiters:
        w.th.join(30)
    note(P + "store caught up: %d new messages" %
         (stored_count() - before_st))

    got = {n: [] for n in AGENTS}
    cut = {n: 0 for n in AGENTS}
    bad = []
    if os.environ.get("AGENTID_CRASH_DEBUG"):
        print("# kills at %r" % ["%.3f" % (kt - T0) for kt in kill_times])
        for w in waiters:
            print("# %s cut: %r" % (w.name, w.why))
    for w in waiters:
        got[w.name] += w.got
        cut[w.name] = w.cut
        bad += w.errors[:3]
    for name in AGENTS:
        tok = agents[name]["token"]
        for _ in range(n_sms + n_email + 10):
            try:
                r = d.agent(tok, {"op": "wait", "kind": "any",
                                  "channel": "any", "since": 0,
                                  "timeout": 2}, timeout=30)
            except (OSError, ValueError) as e:
                bad.append("%s: %s" % (name, e))
                break
            if not r.get("ok"):
                if r.get("error") != "timeout":
                    bad.append("%s: %r" % (name, r))
                break
            got[name].append((r.get("secret") or {}).get("value"))
    t.check(not bad, P + "every wait answered with a secret or a timeout",
            bad[:5])
    allgot = [(a, c) for a, cs in got.items() for c in cs]
    note(P + "%d secrets received%s" % (len(allgot), (
        " (%d while the kills went on, %d waits cut by a kill)" %
        (sum(len(w.got) for w in waiters), sum(cut.values())))
        if live else ""))

    seen = {}
    for a, c in allgot:
        seen[c] = seen.get(c, 0) + 1
        seen_total[c] = seen_total.get(c, 0) + 1
    dups = sorted(c for c, n in seen_total.items() if n > 1)
    t.check(not dups, P + "no code delivered twice",
            "%d codes twice or more, e.g. %r" % (
                len(dups), [(c, seen_total[c], owner.get(c))
                            for c in dups[:5]]))
    wrong = [(a, c, owner.get(c)) for a, c in allgot
             if c in owner and owner[c] != a]
    t.check(not wrong, P + "no code reached another agent", wrong[:5])
    alien = [(a, c) for a, c in allgot if c not in owner]
    t.check(not alien, P + "nothing but the sent codes was delivered",
            alien[:5])
    miss_sms = sorted(c for c in expected & sms_codes if c not in seen)
    miss_mail = sorted(c for c in mail_codes if c not in seen)
    if not live:
        t.check(not miss_sms, P + "every acknowledged SMS delivered (%d)" %
                len(expected & sms_codes),
                "%d missing, e.g. %r" % (len(miss_sms), miss_sms[:5]))
        t.check(not miss_mail, P + "every email delivered (%d)" % n_email,
                "%d missing, e.g. %r" % (len(miss_mail), miss_mail[:5]))
    else:
        # A secret is committed as delivered, then written to the agent:
        # only a wait the kill cut in that instant may lose one, never
        # more than one per cut wait.
        lost = {n: 0 for n in AGENTS}
        for c in miss_sms + miss_mail:
            lost[owner[c]] += 1
        t.check(all(lost[n] <= cut[n] for n in AGENTS),
                P + "nothing lost but what a cut wait was handed at the "
                "kill (lost %r, cut waits %r)" % (lost, cut),
                (miss_sms + miss_mail)[:10])
        rows = [(m["code"], secret_state(m)) for m in sms + mails
                if m["code"] in miss_sms or m["code"] in miss_mail]
        odd = [(c, r) for c, r in rows if not (
            r and r[0] == "delivered" and r[1] is not None and
            any(kt - 2 <= r[1] <= kt + 1 for kt in kill_times))]
        t.check(not odd, P + "each of the %d lost codes was marked "
                "delivered within a second of a SIGKILL" % len(rows), odd)
        t.check(len(expected - set(seen)) <= len(expected) // 20,
                P + "%d of %d acknowledged messages reached their agent" %
                (len(expected & set(seen)), len(expected)))
    if miss_sms or miss_mail:
        diagnose(P, [m for m in mails if m["code"] in miss_mail],
                 [m for m in sms if m["code"] in miss_sms])
    print("# %sunacknowledged SMS delivered anyway: %d of %d" %
          (P, sum(1 for c in unacked if c in seen), len(unacked)),
          flush=True)
    return len(kills), len(expected)


# ------------------------------------------------------------ the phases
# 1: the webhook alone (no polling fallback to mask a lost webhook), all
#    agents drain at the end: every acknowledged message exactly once.
# 2: the polling fallback races the webhook for the same MessageSid (and
#    re-reads phase 1's messages), and the agents wait all along.
# First one email to each mailbox, with no kill: the freshly provisioned
# mailboxes wait ~2 s before their first login (Dovecot may not know a
# brand-new user yet), and each watcher should be known to work before
# the kills start.
for name in AGENTS:
    addr = agents[name]["email"]
    warm = {"code": "%06d" % rng.randrange(100000, 1000000), "agent": name,
            "pad": 0, "i": mail_no[0]}
    mail_no[0] += 1
    owner[warm["code"]] = name
    dv.deliver(addr, mail_text(warm))
    r = d.agent(agents[name]["token"], {"op": "wait", "kind": "code",
                                        "since": 0, "timeout": 30},
                timeout=60)
    got_warm = (r.get("secret") or {}).get("value")
    seen_total[got_warm] = seen_total.get(got_warm, 0) + 1
    t.eq(got_warm, warm["code"], "%s: a first email arrives" % name)
k1, e1 = phase("webhook", N_SMS, N_EMAIL, KILLS, 0, False)
k2, e2 = phase("polling+waiters", max(N_SMS // 3, 1), max(N_EMAIL // 3, 1),
               max(KILLS // 2, 2), 1, True)

# ------------------------------------------------------------ the store
d.stop()
t.check(not orphans or wait_for(lambda: not any(pid_alive(p) for p in
                                                orphans), timeout=10),
        "no child outlives a SIGKILLed daemon (%d children seen)" %
        len(orphans), [p for p in orphans if pid_alive(p)])
try:
    c = sqlite3.connect(DB, timeout=10)
    try:
        ic = [r[0] for r in c.execute("PRAGMA integrity_check")]
        dup_ids = c.execute(
            "SELECT count(*) FROM (SELECT channel, provider_id FROM "
            "messages GROUP BY channel, provider_id HAVING count(*) > 1)"
        ).fetchone()[0]
        nmsg = c.execute("SELECT count(*) FROM messages").fetchone()[0]
        pending = c.execute("SELECT count(*) FROM secrets WHERE state = "
                            "'pending'").fetchone()[0]
    finally:
        c.close()
except sqlite3.Error as e:
    ic, dup_ids, nmsg, pending = ["error: %s" % e], None, None, None
t.eq(ic, ["ok"], "PRAGMA integrity_check is ok after %d kills" % (k1 + k2))
t.eq(dup_ids, 0, "no provider message id stored twice")
t.check(nmsg is not None and e1 + e2 <= nmsg <= len(owner),
        "the store holds %s messages (%d acknowledged, %d sent)" %
        (nmsg, e1 + e2, len(owner)))
t.eq(pending, 0, "no secret left pending after the drains")
elapsed = time.time() - T0
note("done in %.1f s" % elapsed)
t.check(elapsed < 240, "the run is bounded (%.0f s)" % elapsed)
t.done()
