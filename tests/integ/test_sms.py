#!/usr/bin/python3
"""The SMS channel end to end: the real agentidd and agentid against the
fake Twilio (tests/fakes/fake_twilio.py) and a gateway-app imitation, all on
127.0.0.1.  Signed webhooks, >= 1,000 mutated requests rejected, replays,
30038 and polling, revoke -> DELETE, 429/21422/unreadable answers, HTTP
limits (413, chunked cap, per-IP limit, deadline), and SIGKILL before the
answer -> the provider's retry delivers exactly once."""

import base64
import glob
import hashlib
import hmac
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Daemon, Tests, free_port, on_exit, wait_for, write_secret  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(os.path.dirname(HERE), "fakes", "fake_twilio.py")
SID = "AC" + "7" * 32
TOKEN = "tw-test-token-" + "x" * 18
GW_SECRET = "gw-test-secret-0123456789"
rng = random.Random(4242)

t = Tests()


# ---------------------------------------------------------------- helpers

def start_fake():
    p = subprocess.Popen(["/usr/bin/python3", FAKE, "--port", "0", "--sid", SID,
                          "--token", TOKEN], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)

    def stop():
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    on_exit(stop)
    line = p.stdout.readline()
    if not line.startswith("PORT "):
        raise RuntimeError("fake_twilio did not start: %r" % line)
    return p, int(line.split()[1])


def http_req(port, method, path, body=b"", headers=None, timeout=20):
    """One request on a fresh connection: (status, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body, headers or {})
        r = c.getresponse()
        return r.status, r.read()
    except (ConnectionError, http.client.HTTPException) as e:
        return "error: " + e.__class__.__name__, b""
    finally:
        c.close()


def fake(port, method, path, obj=None):
    body = json.dumps(obj).encode() if obj is not None else b""
    st, data = http_req(port, method, path, body,
                        {"Content-Type": "application/json"}, timeout=90)
    return st, (json.loads(data) if data else None)


def twilio_sig(token, url, params):
    s = url
    for name in sorted(set(k for k, _ in params)):
        for value in sorted(v for k, v in params if k == name):
            s += name + value
    return base64.b64encode(hmac.new(token.encode(), s.encode("utf-8"),
                                     hashlib.sha1).digest()).decode()


def sms_params(to, body, msid=None, frm="+15005550006"):
    msid = msid or "SM" + os.urandom(16).hex()
    return [("ToCountry", "US"), ("SmsMessageSid", msid), ("NumMedia", "0"),
            ("SmsSid", msid), ("SmsStatus", "received"), ("Body", body),
            ("To", to), ("NumSegments", "1"), ("MessageSid", msid),
            ("AccountSid", SID), ("From", frm), ("ApiVersion", "2010-04-01")]


def post_twilio(port, url, params, sig=None, raw=None, token=TOKEN,
                ctype="application/x-www-form-urlencoded"):
    body = raw if raw is not None else urllib.parse.urlencode(params).encode()
    h = {"Content-Type": ctype}
    s = sig if sig is not None else twilio_sig(token, url, params)
    if s is not False:
        h["X-Twilio-Signature"] = s
    return http_req(port, "POST", "/sms/twilio", body, h)[0]


def gw_sign(body, ts, secret=GW_SECRET):
    return hmac.new(secret.encode(), body + ts.encode(), hashlib.sha256).hexdigest()


def gw_event(to, text, eid=None, frm="+15550009999", recipient=True):
    payload = {"messageId": os.urandom(4).hex(), "message": text,
               "phoneNumber": frm, "sender": frm, "simNumber": 1,
               "receivedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime())}
    if recipient:
        payload["recipient"] = to
    return json.dumps({"deviceId": "ffffffffceb0b1db0000018e937c815b",
                       "event": "sms:received", "id": eid or os.urandom(10).hex(),
                       "payload": payload, "webhookId": "wh-test"}).encode()


def post_gw(port, body, ts=None, sig=None, ctype="application/json"):
    ts = ts if ts is not None else str(int(time.time()))
    h = {"Content-Type": ctype, "X-Timestamp": ts}
    s = sig if sig is not None else gw_sign(body, ts)
    if s is not False:
        h["X-Signature"] = s
    return http_req(port, "POST", "/sms/gateway", body, h)[0]


def stored(d):
    r = d.admin({"op": "status"})
    try:
        return r["channels"]["sms"]["webhook"]["stored"]
    except (KeyError, TypeError):
        return None


def db_count(d, sql, args=()):
    paths = [p for p in glob.glob(os.path.join(d.state, "*.db"))]
    if not paths:
        return None
    con = sqlite3.connect(paths[0], timeout=10)
    try:
        return con.execute(sql, args).fetchone()[0]
    finally:
        con.close()


def cli_wait(d, token, timeout=10, extra=()):
    return d.cli("wait", "--channel", "sms", "--timeout", str(timeout), *extra,
                 token=token, timeout=timeout + 30)


# ------------------------------------------------------------ twilio path

fproc, fport = start_fake()
wport = free_port()
public = "http://127.0.0.1:%d" % wport
hook = public + "/sms/twilio"
d = Daemon(start=False, conf={
    "phone": {"provider": "twilio"},
    "twilio": {"api_base": "http://127.0.0.1:%d" % fport, "account_sid": SID,
               "country": "US", "poll_interval": "1"},
    "webhook": {"listen": "127.0.0.1:%d" % wport, "public_url": public},
})
d.sections["twilio"]["auth_token_file"] = write_secret(
    os.path.join(d.dir, "twilio.token"), TOKEN)
d.write_conf()
d.start()

r = d.cli("provision", "alice", "--phone", "--json")
try:
    alice = json.loads(r.stdout)
except ValueError:
    alice = {}
t.check(r.returncode == 0 and str(alice.get("phone", "")).startswith("+1"),
        "provision --phone buys a number", r.stdout + r.stderr)
bob = d.provision("bob", phone=True)
A, B = alice.get("phone"), bob.get("phone")
ta, tb = alice.get("token"), bob.get("token")
t.check(A and B and A != B, "two agents, two numbers")
st, nums = fake(fport, "GET", "/_fake/numbers")
byphone = {n["phone_number"]: n for n in nums or []}
t.check(A in byphone and byphone[A]["sms_url"] == hook and
        byphone[A]["sms_method"] == "POST", "bought with SmsUrl=public_url/sms/twilio",
        byphone.get(A))
st, log = fake(fport, "GET", "/_fake/log")
t.check(any(e["path"].endswith("/AvailablePhoneNumbers/US/Local.json") and
            e["query"].get("SmsEnabled") == "true" for e in log or []),
        "searched Local.json with SmsEnabled=true")
t.check(all(e["auth"] for e in log or []), "every API call had Basic auth")

# -- HTTP surface
t.eq(http_req(wport, "GET", "/healthz")[0], 200, "GET /healthz is 200")
t.eq(http_req(wport, "GET", "/sms/twilio")[0], 405, "GET /sms/twilio is 405")
t.eq(http_req(wport, "POST", "/healthz", b"x")[0], 405, "POST /healthz is 405")
t.eq(http_req(wport, "POST", "/nowhere", b"a=1",
              {"Content-Type": "application/x-www-form-urlencoded"})[0], 404,
     "unknown path is 404")
t.eq(http_req(wport, "POST", "/sms/gateway", b"{}",
              {"Content-Type": "application/json"})[0], 404,
     "gateway route off when provider is twilio")
t.eq(post_twilio(wport, hook, sms_params(A, "x"), ctype="application/json"), 415,
     "JSON on /sms/twilio is 415")
t.eq(post_twilio(wport, hook, sms_params(A, "x"), sig=False), 403, "unsigned is 403")
big = b"Body=" + b"a" * (70 * 1024)
t.eq(post_twilio(wport, hook, [], sig="x", raw=big), 413, "70 KiB body is 413")

# chunked bodies have no Content-Length: the cap drops the connection
c = http.client.HTTPConnection("127.0.0.1", wport, timeout=20)
try:
    c.putrequest("POST", "/sms/twilio")
    c.putheader("Content-Type", "application/x-www-form-urlencoded")
    c.putheader("Transfer-Encoding", "chunked")
    c.putheader("X-Twilio-Signature", "x")
    c.endheaders()
    chunk = b"a" * 8192
    for _ in range(12):
        c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    c.send(b"0\r\n\r\n")
    st = c.getresponse().status
except (OSError, http.client.HTTPException) as e:
    st = "dropped"
c.close()
t.check(st == "dropped" or st == 413, "96 KiB chunked body is refused", st)

# per-IP connection limit: idle connections past it are closed at once
socks = []
for _ in range(80):
    s = socket.create_connection(("127.0.0.1", wport), timeout=5)
    socks.append(s)
time.sleep(0.3)
closed = 0
for s in socks:
    s.settimeout(0.05)
    try:
        if s.recv(1) == b"":
            closed += 1
    except socket.timeout:
        pass
    except OSError:
        closed += 1
for s in socks:
    s.close()
t.check(closed >= 10, "per-IP limit closes connections past it (%d of 80)" % closed)
t.check(wait_for(lambda: http_req(wport, "GET", "/healthz")[0] == 200, timeout=5),
        "healthz answers again once they are gone")

# -- a real delivery through the fake
before = stored(d)
st, dl = fake(fport, "POST", "/_fake/sms",
              {"To": A, "From": "+15550001234", "Body": "Your verification code is 482913"})
t.check(dl and dl.get("delivered") and dl["attempts"] == [200],
        "fake's signed webhook answered 200 first time", dl)
r = cli_wait(d, ta)
t.check(r.returncode == 0 and r.stdout.strip() == "482913",
        "agentid wait --channel sms prints the code", (r.returncode, r.stdout, r.stderr))
r = cli_wait(d, tb, timeout=0)
t.check(r.returncode == 1 and "482913" not in r.stdout, "the other agent gets nothing",
        (r.returncode, r.stdout))
t.eq(stored(d), (before or 0) + 1, "webhook stored counter +1")

# -- >= 1,000 mutated requests: all rejected, nothing stored
def mutations():
    base = sms_params(A, "Your code is 777777")
    good_sig = twilio_sig(TOKEN, hook, base)
    enc = urllib.parse.urlencode(base).encode()
    out = []
    # signature: every position changed, truncated, extended, other encodings
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for i in range(len(good_sig) - 1):
        for _ in range(6):
            c = rng.choice(alphabet.replace(good_sig[i], ""))
            out.append(("sig pos %d" % i, base, good_sig[:i] + c + good_sig[i + 1:], None))
    out += [("sig empty", base, "", None), ("sig truncated", base, good_sig[:-2], None),
            ("sig extended", base, good_sig + "A", None),
            ("sig lowercase", base, good_sig.lower(), None),
            ("sig hex", base, hmac.new(TOKEN.encode(), b"x", hashlib.sha1).hexdigest(), None),
            ("sig other token", base, twilio_sig("other-token", hook, base), None),
            ("sig sha256", base, base64.b64encode(hmac.new(
                TOKEN.encode(), hook.encode(), hashlib.sha256).digest()).decode(), None)]
    # each field: changed, dropped, duplicated, renamed; sent with the old signature
    for i, (k, v) in enumerate(base):
        variants = [
            ("field %s changed" % k, base[:i] + [(k, v + "1")] + base[i + 1:]),
            ("field %s emptied" % k, base[:i] + [(k, "")] + base[i + 1:]),
            ("field %s dropped" % k, base[:i] + base[i + 1:]),
            ("field %s duplicated" % k, base + [(k, v)]),
            ("field %s renamed" % k, base[:i] + [(k.lower(), v)] + base[i + 1:]),
            ("field %s space" % k, base[:i] + [(k, v + " ")] + base[i + 1:]),
        ]
        for j in range(len(v)):
            ch = chr(ord(v[j]) ^ 1)
            variants.append(("field %s char %d" % (k, j),
                             base[:i] + [(k, v[:j] + ch + v[j + 1:])] + base[i + 1:]))
        for name, params in variants:
            out.append((name, params, good_sig, None))
    out.append(("field added", base + [("Extra", "1")], good_sig, None))
    # URL: signed for URLs outside the configured set
    for u in [hook.replace("http://", "https://"), hook + "/", hook + "?x=1",
              hook.replace("127.0.0.1", "localhost"), hook.replace("/sms/twilio", "/sms/Twilio"),
              hook.replace("/sms/twilio", "/sms/gateway"), "http://127.0.0.1:%d/sms/twilio" % (wport + 1),
              hook.replace("http://", "HTTP://"), "http://evil.example/sms/twilio",
              "http://user@127.0.0.1:%d/sms/twilio" % wport]:
        out.append(("url %s" % u, base, twilio_sig(TOKEN, u, base), None))
    # body: byte flips after signing (skipped when they decode to the same pairs)
    want = urllib.parse.parse_qsl(enc.decode(), keep_blank_values=True)
    n = 0
    while n < 600:
        b = bytearray(enc)
        pos = rng.randrange(len(b))
        b[pos] ^= 1 << rng.randrange(8)
        try:
            same = urllib.parse.parse_qsl(b.decode(), keep_blank_values=True,
                                          errors="strict") == want
        except (UnicodeDecodeError, ValueError):
            same = False
        if same:
            continue
        out.append(("body flip %d" % n, base, good_sig, bytes(b)))
        n += 1
    for cut in range(1, 40):
        out.append(("body truncated %d" % cut, base, good_sig, enc[:-cut]))
    # correctly signed, but a foreign account
    bad_acct = [(k, "AC" + "8" * 32 if k == "AccountSid" else v) for k, v in base]
    out.append(("signed foreign AccountSid", bad_acct, twilio_sig(TOKEN, hook, bad_acct), None))
    no_acct = [(k, v) for k, v in base if k != "AccountSid"]
    out.append(("signed no AccountSid", no_acct, twilio_sig(TOKEN, hook, no_acct), None))
    # correctly signed, unknown To
    other = [(k, "+15559990000" if k == "To" else v) for k, v in base]
    out.append(("signed unknown To", other, twilio_sig(TOKEN, hook, other), None))
    return out


muts = mutations()
t.check(len(muts) >= 1000, "at least 1,000 mutations (%d)" % len(muts))
before = stored(d)
accepted = []
codes = {}
for name, params, sig, raw in muts:
    st = post_twilio(wport, hook, params, sig=sig, raw=raw)
    codes[st] = codes.get(st, 0) + 1
    if st not in (400, 403, 404):
        accepted.append((name, st))
t.check(not accepted, "all %d mutated requests rejected (%r)" % (len(muts), codes),
        accepted[:5])
t.eq(stored(d), before, "nothing stored by mutated requests")
r = d.agent(ta, {"op": "wait", "channel": "sms", "timeout": 0})
t.eq(r.get("error"), "timeout", "no code from mutated requests reached the agent")
t.check(d.alive(), "daemon alive after the mutations")

# -- replay one signed webhook 100 times
rp = sms_params(A, "Use 551177 to sign in")
msid = dict(rp)["MessageSid"]
stats = [post_twilio(wport, hook, rp) for _ in range(100)]
t.check(all(s == 200 for s in stats), "100 replays all answered 200",
        {s: stats.count(s) for s in set(stats)})
t.eq(db_count(d, "SELECT count(*) FROM messages WHERE provider_id = ?", (msid,)), 1,
     "replays stored one message")
r = d.agent(ta, {"op": "wait", "channel": "sms", "timeout": 5})
t.eq((r.get("secret") or {}).get("value"), "551177", "replayed code delivered")
r = d.agent(ta, {"op": "wait", "channel": "sms", "timeout": 0})
t.eq(r.get("error"), "timeout", "replayed code delivered once")

# -- 30038: Twilio filtered the OTP; polling sees it, the waiter hears it at once
st, m = fake(fport, "POST", "/_fake/message",
             {"To": B, "From": "+15550004321", "Body": "Your code is 909090",
              "Status": "failed", "ErrorCode": "30038"})
t0 = time.time()
r = d.agent(tb, {"op": "wait", "channel": "sms", "timeout": 20}, timeout=40)
t.eq(r.get("error"), "provider_filtered", "30038 -> provider_filtered")
t.check(time.time() - t0 < 15, "provider_filtered comes before the timeout")

# -- polling fallback: a message that never came by webhook
st, m = fake(fport, "POST", "/_fake/message",
             {"To": B, "From": "+15550004321", "Body": "Polled code 313131",
              "Status": "received"})
r = d.agent(tb, {"op": "wait", "channel": "sms", "timeout": 20}, timeout=40)
t.eq((r.get("secret") or {}).get("value"), "313131", "polling fallback delivers")

# -- SIGKILL while a webhook waits for its answer -> the retry delivers once
pid = d.proc.pid
os.kill(pid, signal.SIGSTOP)        # the kernel accepts; nobody answers
st, job = fake(fport, "POST", "/_fake/sms",
               {"To": A, "From": "+15550001234", "Body": "Crash code 664422",
                "Retries": "5", "Delay": "1.5", "Async": "1"})
time.sleep(0.5)
d.kill()                            # SIGKILL a stopped process works
d.start()
done = wait_for(lambda: fake(fport, "GET", "/_fake/deliveries")[1].get(job["sid"], {}).get("done"),
                timeout=30, step=0.2)
rec = fake(fport, "GET", "/_fake/deliveries")[1].get(job["sid"], {})
t.check(done and rec.get("delivered") and rec["attempts"][0] != 200,
        "first attempt unanswered, a retry was answered 200", rec)
r = d.agent(ta, {"op": "wait", "channel": "sms", "timeout": 10})
t.eq((r.get("secret") or {}).get("value"), "664422", "retried message delivered")
r = d.agent(ta, {"op": "wait", "channel": "sms", "timeout": 0})
t.eq(r.get("error"), "timeout", "retried message delivered exactly once")
# The committed-but-unanswered case: the same webhook again after a restart.
again = sms_params(A, "Restart code 112358")
t.eq(post_twilio(wport, hook, again), 200, "webhook stored before the kill")
d.kill()
d.start()
t.eq(post_twilio(wport, hook, again), 200, "its retry after a restart answers 200")
r = d.agent(ta, {"op": "wait", "channel": "sms", "timeout": 5})
t.eq((r.get("secret") or {}).get("value"), "112358", "code after restart delivered")
r = d.agent(ta, {"op": "wait", "channel": "sms", "timeout": 0})
t.eq(r.get("error"), "timeout", "and only once")

# After restarts the poller still knows the numbers (from the store).
fake(fport, "POST", "/_fake/message", {"To": A, "From": "+15550004321", "Body": "x 1234",
                                       "Status": "failed", "ErrorCode": "30038"})
r = d.agent(ta, {"op": "wait", "channel": "sms", "timeout": 20}, timeout=40)
t.eq(r.get("error"), "provider_filtered", "polling after a restart still sees 30038")

# -- revoke -> DELETE IncomingPhoneNumbers/{PN}.json
pn_sid = byphone.get(A, {}).get("sid", "?")
r = d.cli("revoke", "alice")
t.check(r.returncode == 0, "agentid revoke alice", r.stdout + r.stderr)
deleted = wait_for(lambda: any(
    e["method"] == "DELETE" and e["path"].endswith("/IncomingPhoneNumbers/%s.json" % pn_sid)
    for e in fake(fport, "GET", "/_fake/log")[1]), timeout=15)
t.check(deleted, "the fake saw DELETE IncomingPhoneNumbers/%s.json" % pn_sid)
t.check(A not in [n["phone_number"] for n in fake(fport, "GET", "/_fake/numbers")[1]],
        "the number is released at the fake")
t.eq(post_twilio(wport, hook, sms_params(A, "Late code 246810")), 404,
     "a webhook for the revoked number is 404")

# -- 429 with Retry-After is honoured
fake(fport, "POST", "/_fake/ratelimit", {"Count": "1", "RetryAfter": "1"})
r = d.cli("provision", "carol", "--phone", "--json")
t.check(r.returncode == 0 and '"+1' in r.stdout, "provision succeeds after one 429",
        r.stdout + r.stderr)
# -- Twilio's errors become clear CLI errors
fake(fport, "POST", "/_fake/ratelimit", {"Count": "10", "RetryAfter": "1"})
r = d.cli("provision", "dave", "--phone")
t.check(r.returncode != 0 and "20429" in (r.stdout + r.stderr),
        "persistent 429 is a clear error", r.stdout + r.stderr)
fake(fport, "POST", "/_fake/ratelimit", {"Count": "0"})
# -- a buy that happened but whose answer is unreadable is undone
held = len(fake(fport, "GET", "/_fake/numbers")[1])
fake(fport, "POST", "/_fake/garble", {"Count": "1"})
r = d.cli("provision", "erin", "--phone")
t.check(r.returncode != 0, "unreadable buy answer fails the provision", r.stdout + r.stderr)
t.eq(len(fake(fport, "GET", "/_fake/numbers")[1]), held,
     "the number bought behind the unreadable answer was released")
# -- a number taken meanwhile (21422): the next candidate is bought
auth = "Basic " + base64.b64encode(("%s:%s" % (SID, TOKEN)).encode()).decode()
st, page = http_req(fport, "GET", "/2010-04-01/Accounts/%s/AvailablePhoneNumbers/US/"
                    "Local.json?SmsEnabled=true&PageSize=1" % SID, b"",
                    {"Authorization": auth})
first = json.loads(page)["available_phone_numbers"][0]["phone_number"]
fake(fport, "POST", "/_fake/unavailable", {"PhoneNumber": first})
r = d.cli("provision", "frank", "--phone", "--json")
try:
    frank = json.loads(r.stdout)
except ValueError:
    frank = {}
t.check(r.returncode == 0 and str(frank.get("phone", "")).startswith("+1") and
        frank.get("phone") != first, "21422 on one number: another one is bought",
        r.stdout + r.stderr)
t.check(TOKEN not in d.log(), "the auth token never appears in the log")
t.check("482913" not in d.log() and "551177" not in d.log(), "no code appears in the log")
d.stop()

# ------------------------------------------------------------ gateway path

gport = free_port()
g = Daemon(start=False, conf={
    "phone": {"provider": "gateway"},
    "gateway": {"numbers": "+15550100001, +15550100002"},
    "webhook": {"listen": "127.0.0.1:%d" % gport, "public_url": "http://127.0.0.1:%d" % gport},
}, name="agentidd-gw")
g.sections["gateway"]["secret_file"] = write_secret(os.path.join(g.dir, "gw.secret"), GW_SECRET)
g.write_conf()
g.start()


def slowloris(result):
    """Headers, then a body byte every 2 s: the total-time deadline (15 s)
    must end it although the idle timeout (10 s) never fires."""
    s = socket.create_connection(("127.0.0.1", gport), timeout=30)
    t0 = time.time()
    s.sendall(b"POST /sms/gateway HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Type: application/json\r\nContent-Length: 100\r\n"
              b"X-Timestamp: 1\r\nX-Signature: 00\r\n\r\n")
    try:
        for _ in range(40):
            s.sendall(b" ")
            time.sleep(2)
    except OSError:
        pass
    result.append(time.time() - t0)
    s.close()

r = g.cli("provision", "gw1", "--phone", "--json")
try:
    gw1 = json.loads(r.stdout)
except ValueError:
    gw1 = {}
gw2 = g.provision("gw2", phone=True)
G1, G2 = gw1.get("phone"), gw2.get("phone")
t.check(sorted([G1, G2]) == ["+15550100001", "+15550100002"],
        "gateway hands out the configured numbers", (G1, G2))
r = g.admin({"op": "provision", "name": "gw3", "phone": True})
t.check(not r.get("ok"), "no third gateway number to hand out", r)
t.eq(post_gw(gport, gw_event(G1, "x"), ctype="application/x-www-form-urlencoded"), 415,
     "form on /sms/gateway is 415")
t.eq(http_req(gport, "POST", "/sms/twilio", b"a=1",
              {"Content-Type": "application/x-www-form-urlencoded"})[0], 404,
     "twilio route off when provider is gateway")
t.eq(post_gw(gport, gw_event(G1, "Your code is 123789")), 200, "signed gateway event is 200")
r = cli_wait(g, gw1.get("token"))
t.check(r.returncode == 0 and r.stdout.strip() == "123789",
        "gateway: agentid wait prints the code", (r.stdout, r.stderr))
r = g.agent(gw2["token"], {"op": "wait", "channel": "sms", "timeout": 0})
t.eq(r.get("error"), "timeout", "gateway: the other agent gets nothing")
ping = json.dumps({"deviceId": "d", "event": "system:ping", "id": "p1", "payload": {}}).encode()
t.eq(post_gw(gport, ping), 200, "other signed events are acknowledged")

before = stored(g)
body = gw_event(G1, "Your code is 858585")
ts = str(int(time.time()))
good = gw_sign(body, ts)
gm = []
for i in range(len(good)):
    c = rng.choice("0123456789abcdef".replace(good[i], ""))
    gm.append(("sig pos %d" % i, body, ts, good[:i] + c + good[i + 1:]))
gm += [("no sig", body, ts, False), ("empty sig", body, ts, ""),
       ("ts +301", body, str(int(ts) + 301), gw_sign(body, str(int(ts) + 301))),
       ("ts -301", body, str(int(ts) - 301), gw_sign(body, str(int(ts) - 301))),
       ("ts other", body, str(int(ts) + 1), good), ("ts junk", body, ts + "x", gw_sign(body, ts + "x")),
       ("other secret", body, ts, gw_sign(body, ts, "nope"))]
n = 0
while n < 150:
    b = bytearray(body)
    b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    if bytes(b) != body:
        gm.append(("body flip %d" % n, bytes(b), ts, good))
        n += 1
foreign = gw_event("+447700900123", "Your code is 858585")
gm.append(("signed foreign recipient", foreign, ts, gw_sign(foreign, ts)))
bad = []
for name, b, tstamp, s in gm:
    st = post_gw(gport, b, ts=tstamp, sig=s)
    if st not in (400, 403, 404):
        bad.append((name, st))
t.check(not bad, "all %d mutated gateway requests rejected" % len(gm), bad[:5])
t.eq(stored(g), before, "nothing stored by mutated gateway requests")
eid = "replay-" + os.urandom(6).hex()
rb = gw_event(G2, "Your code is 373737", eid=eid)
stats = [post_gw(gport, rb) for _ in range(20)]
t.check(all(s == 200 for s in stats), "gateway replays answered 200")
r = g.agent(gw2["token"], {"op": "wait", "channel": "sms", "timeout": 5})
t.eq((r.get("secret") or {}).get("value"), "373737", "gateway replayed code delivered")
r = g.agent(gw2["token"], {"op": "wait", "channel": "sms", "timeout": 0})
t.eq(r.get("error"), "timeout", "gateway replayed code delivered once")
g.restart()
slow = []
slow_thread = threading.Thread(target=slowloris, args=(slow,), daemon=True)
slow_thread.start()
r = g.admin({"op": "provision", "name": "gw4", "phone": True})
t.check(not r.get("ok"), "after a restart the held numbers are still taken", r)
r = g.cli("revoke", "gw1")
t.check(r.returncode == 0, "gateway revoke", r.stdout + r.stderr)
t.eq(post_gw(gport, gw_event(G1, "Your code is 999111")), 404,
     "gateway event for a revoked number is 404")
t.check(GW_SECRET not in g.log(), "the gateway secret never appears in the log")
r = g.admin({"op": "provision", "name": "gw5", "phone": True})
t.eq(r.get("phone"), G1, "a released gateway number is handed out again")
slow_thread.join(60)
t.check(slow and 14 < slow[0] < 30, "a trickling client is cut off by the deadline", slow)
t.check(g.alive(), "gateway daemon alive at the end")

t.done()
