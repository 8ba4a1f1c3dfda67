#!/usr/bin/python3
"""make demo: the whole flow on loopback, step by step.

Starts a private Dovecot (IMAPS with a throw-away CA) and the fake Twilio
on 127.0.0.1, runs agentidd in a temporary directory, provisions an agent
with a mailbox and a phone number, sends it an SMS and an email, shows the
agent receiving the code and the link, then revokes it.  Exits non-zero
when any step fails; removes everything it started."""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integ"))
from lib import Daemon, on_exit, write_secret, _run_cleanups  # noqa: E402
from dovecot import Dovecot  # noqa: E402

FAKE = os.path.join(HERE, "fakes", "fake_twilio.py")
SID = "AC" + "d" * 32
TOKEN = "demo-twilio-auth-token-0123456789"
BOLD, DIM, GREEN, RED, OFF = (("\033[1m", "\033[2m", "\033[32m", "\033[31m",
                               "\033[0m") if sys.stdout.isatty() else
                              ("",) * 5)
step_no = [0]


def step(title):
    step_no[0] += 1
    print("\n%s%d. %s%s" % (BOLD, step_no[0], title, OFF), flush=True)


def show(cmd, out):
    print("%s$ %s%s" % (DIM, cmd, OFF))
    for line in out.rstrip("\n").splitlines():
        print("  " + line)
    sys.stdout.flush()


def fail(why):
    print("\n%sdemo failed: %s%s" % (RED, why, OFF), flush=True)
    _run_cleanups()
    sys.exit(1)


def ok(what):
    print("  %s✔ %s%s" % (GREEN, what, OFF), flush=True)


def start_fake_twilio():
    p = subprocess.Popen(["/usr/bin/python3", FAKE, "--port", "0", "--sid",
                          SID, "--token", TOKEN], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    on_exit(lambda: (p.terminate(), p.wait(5)))
    line = p.stdout.readline()
    if not line.startswith("PORT "):
        fail("the fake Twilio did not start")
    return int(line.split()[1])


def fake(port, method, path, obj=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, json.dumps(obj) if obj else None,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data else None)


def main():
    tmp = tempfile.mkdtemp(prefix="agentid-demo-")
    on_exit(lambda: subprocess.run(["rm", "-rf", tmp]))
    os.chmod(tmp, 0o755)

    step("Start a private Dovecot (IMAPS, LMTP) and a fake Twilio on 127.0.0.1")
    dv = Dovecot(os.path.join(tmp, "dovecot"))
    dv.start()
    on_exit(dv.stop)
    tw = start_fake_twilio()
    ok("dovecot: IMAPS on 127.0.0.1:%d, LMTP on 127.0.0.1:%d (test CA)" %
       (dv.imaps_port, dv.lmtp_port))
    ok("fake Twilio REST API on 127.0.0.1:%d" % tw)

    step("Start agentidd in a temporary directory")
    hook = 0
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    hook = s.getsockname()[1]
    s.close()
    secret = write_secret(os.path.join(tmp, "twilio.token"), TOKEN)
    d = Daemon(conf={
        "daemon": {"log_level": "info"},
        "webhook": {"listen": "127.0.0.1:%d" % hook,
                    "public_url": "http://127.0.0.1:%d" % hook},
        "phone": {"provider": "twilio"},
        "twilio": {"api_base": "http://127.0.0.1:%d" % tw,
                   "account_sid": SID, "auth_token_file": secret},
        "mail": {"provider": "dovecot", "domain": "agents.test",
                 "imap_host": "localhost", "imap_port": str(dv.imaps_port),
                 "imap_tls": "implicit", "ca_file": dv.ca_file,
                 "poll_interval": "5"},
        "dovecot": {"passwd_file": dv.passwd_file},
    })
    show("cat agentidd.conf", open(d.conffile).read())
    ok("agentidd is up (pid %d)" % d.proc.pid)

    step("Provision an agent with a mailbox and a phone number")
    r = d.cli("provision", "shopper", "--email", "--phone", "--json")
    if r.returncode != 0:
        fail("provision: " + r.stderr)
    prov = json.loads(r.stdout)
    shown = dict(prov, token=prov["token"][:10] + "…")
    show("agentid provision shopper --email --phone --json",
         json.dumps(shown, indent=2, ensure_ascii=False))
    token = prov["token"]
    if not prov.get("email") or not prov.get("phone"):
        fail("no mailbox or number: %r" % shown)
    ok("the token is shown once; the store keeps only its SHA-256")

    step("The agent waits for a code; the site sends an SMS (through Twilio)")
    res = {}

    def wait(key, *args):
        res[key] = d.cli("wait", *args, token=token, timeout=90)

    th = threading.Thread(target=wait, args=(
        "sms", "--kind", "code", "--channel", "sms", "--timeout", "60"))
    th.start()
    time.sleep(0.5)
    body = "Your Acme verification code is 318-204. Don't share it."
    st, _ = fake(tw, "POST", "/_fake/sms", {"To": prov["phone"],
                                            "From": "+18005550199",
                                            "Body": body})
    print("  Twilio → POST /sms/twilio (signed): %r" % body)
    th.join(90)
    r = res.get("sms")
    if r is None or r.returncode != 0 or r.stdout.strip() != "318204":
        fail("the agent did not get the SMS code: %r" %
             (r and (r.stdout + r.stderr)))
    show("AGENTID_TOKEN=aid_… agentid wait --kind code --channel sms",
         r.stdout)
    ok("the agent holds the code it would type: 318204")

    step("The agent waits for a link; the site sends a confirmation email")
    th = threading.Thread(target=wait, args=(
        "email", "--kind", "link", "--channel", "email", "--timeout", "60"))
    th.start()
    time.sleep(0.5)
    link = "https://shop.example.com/confirm?token=Zx81kQ2"
    msg = ("From: Example Shop <hello@shop.example.com>\r\n"
           "To: %s\r\nSubject: Confirm your email address\r\n"
           "Message-ID: <demo.%d@shop.example.com>\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/html; charset=utf-8\r\n\r\n"
           "<html><body><p>Welcome! Please confirm your address.</p>"
           "<p><a href=\"%s\">Confirm my email</a></p>"
           "<p><a href=\"https://shop.example.com/unsubscribe\">"
           "Unsubscribe</a></p></body></html>\r\n" %
           (prov["email"], int(time.time()), link.replace("&", "&amp;")))
    if not dv.user_visible(prov["email"], 10):
        fail("dovecot does not know the new mailbox")
    dv.deliver(prov["email"], msg, sender="hello@shop.example.com")
    print("  LMTP → %s: \"Confirm your email address\"" % prov["email"])
    th.join(90)
    r = res.get("email")
    if r is None or r.returncode != 0 or r.stdout.strip() != link:
        fail("the agent did not get the link: %r" %
             (r and (r.stdout + r.stderr)))
    show("AGENTID_TOKEN=aid_… agentid wait --kind link --channel email",
         r.stdout)
    ok("the confirmation link, not the unsubscribe link")

    step("Another agent gets nothing; a second wait finds nothing")
    other = json.loads(d.cli("provision", "other", "--json").stdout)
    r = d.cli("wait", "--timeout", "1", token=other["token"])
    show("AGENTID_TOKEN=<other> agentid wait --timeout 1",
         r.stderr + "(exit %d)" % r.returncode)
    if r.returncode != 1:
        fail("the other agent got something")
    r = d.cli("wait", "--timeout", "1", token=token)
    if r.returncode != 1:
        fail("a delivered code was delivered twice")
    ok("one delivery, to the owner only")

    step("What the admin sees")
    show("agentid show shopper", d.cli("show", "shopper").stdout)
    show("agentid audit --agent shopper",
         d.cli("audit", "--agent", "shopper").stdout)

    step("Revoke the agent: token off, number and mailbox released")
    r = d.cli("revoke", "shopper")
    show("agentid revoke shopper", r.stdout + r.stderr)
    if r.returncode != 0:
        fail("revoke failed")
    r = d.cli("whoami", token=token)
    show("AGENTID_TOKEN=aid_… agentid whoami", r.stderr +
         "(exit %d)" % r.returncode)
    if r.returncode != 77:
        fail("the revoked token still works")
    _, log = fake(tw, "GET", "/_fake/log")
    deletes = [e for e in log or [] if e.get("method") == "DELETE"]
    if not deletes:
        fail("Twilio never saw the number released")
    ok("Twilio saw DELETE %s" % deletes[-1].get("path"))
    with open(dv.passwd_file) as f:
        if prov["email"] in f.read():
            fail("the mailbox is still in the passwd-file")
    ok("mailbox %s removed from Dovecot's passwd-file" % prov["email"])
    r = d.cli("audit", "--verify")
    show("agentid audit --verify", r.stdout + r.stderr)
    if r.returncode != 0:
        fail("the audit chain does not verify")

    print("\n%sdemo complete: every step worked.%s Cleaning up." %
          (GREEN + BOLD, OFF))
    _run_cleanups()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:     # a crash is a failed step, cleaned up
        fail("%s: %s" % (e.__class__.__name__, e))
