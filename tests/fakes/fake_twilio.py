#!/usr/bin/python3
"""A fake Twilio REST API for tests, speaking Twilio's wire format.

Loopback only.  Usage: fake_twilio.py [--port N] [--sid AC...] [--token T]
Prints "PORT <n>" on stdout once listening (port 0 picks a free one).

REST (HTTP Basic auth sid:token, form-encoded requests, JSON answers):
  GET    /2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/{cc}/Local.json
  POST   /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json      -> 201
  GET    /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json[?PhoneNumber=]
  DELETE /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers/{PN}.json -> 204
  GET    /2010-04-01/Accounts/{sid}/Messages.json?To=&DateSent>=&PageSize=
Errors use Twilio's body {"code","message","more_info","status"}: 20003
(401, bad auth), 20404 (404), 21422 (number not available), 21452 (no
numbers), 20429 (429 with Retry-After).

Control (no auth; JSON or form bodies):
  POST /_fake/sms         To, From, Body[, MessageSid, Retries, Delay, Async]
                          deliver an inbound SMS to the number's SmsUrl as
                          Twilio does: signed form POST, retried on non-2xx
  POST /_fake/message     To, From, Body, Status, ErrorCode[, DateSent]
                          add a message for Messages.json polling only
  POST /_fake/ratelimit   Count[, RetryAfter]: the next Count API calls get 429
  POST /_fake/unavailable PhoneNumber: buying it fails with 21422
  POST /_fake/garble      Count: the next Count buys succeed but are answered
                          with an unreadable body (client must clean up)
  GET  /_fake/log         every API request seen (method, path, query, form)
  GET  /_fake/deliveries  webhook deliveries with each attempt's status
  GET  /_fake/numbers     numbers currently bought
"""
import argparse
import base64
import email.utils
import hashlib
import hmac
import http.client
import http.server
import json
import secrets
import sys
import threading
import time
import urllib.parse

API = "/2010-04-01"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def sid(prefix):
    return prefix + secrets.token_hex(16)


def rfc2822(t):
    return email.utils.formatdate(t, usegmt=False).replace("-0000", "+0000")


def twilio_signature(token, url, params):
    s = url
    for name in sorted(set(k for k, _ in params)):
        for value in sorted(v for k, v in params if k == name):
            s += name + value
    mac = hmac.new(token.encode(), s.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


class State:
    def __init__(self, account, token):
        self.account = account
        self.token = token
        self.lock = threading.Lock()
        self.available = ["+1555010%04d" % i for i in range(1, 200)]
        self.available += ["+1415555%04d" % i for i in range(1, 50)]
        self.unavailable = set()
        self.numbers = {}           # PN sid -> resource
        self.messages = []          # newest last
        self.log = []
        self.deliveries = {}        # MessageSid -> record
        self.ratelimit = 0
        self.retry_after = 1
        self.garble_buys = 0        # buys done, but answered with junk


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTwilio/1.0"

    def log_message(self, fmt, *args):
        pass

    # -- plumbing --
    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def error(self, status, code, message):
        self.send_json(status, {
            "code": code, "message": message,
            "more_info": "https://www.twilio.com/docs/errors/%d" % code,
            "status": status})

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def form(self, raw):
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            obj = json.loads(raw or b"{}")
            return [(str(k), str(v)) for k, v in obj.items()]
        return urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True)

    def auth_ok(self):
        st = self.server.state
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        except Exception:
            return False
        return (hmac.compare_digest(user, st.account) and
                hmac.compare_digest(pw, st.token))

    def dispatch(self, method):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        try:
            raw = self.read_body()
            form = self.form(raw) if raw else []
        except Exception:
            self.error(400, 20001, "Bad request body")
            return
        if url.path.startswith("/_fake/"):
            self.control(method, url.path, dict(form))
            return
        with st.lock:
            st.log.append({"method": method, "path": url.path,
                           "query": {k: v[0] for k, v in query.items()},
                           "form": dict(form), "time": time.time(),
                           "auth": self.auth_ok()})
            limited = st.ratelimit > 0
            if limited:
                st.ratelimit -= 1
        prefix = API + "/Accounts/" + st.account + "/"
        if not self.auth_ok() or not url.path.startswith(prefix):
            self.send_json(401, {
                "code": 20003, "detail": "Your AccountSid or AuthToken was incorrect.",
                "message": "Authenticate",
                "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
            return
        if limited:
            self.send_json(429, {"code": 20429, "message": "Too Many Requests",
                                 "more_info": "https://www.twilio.com/docs/errors/20429",
                                 "status": 429},
                           {"Retry-After": str(st.retry_after)})
            return
        rest = url.path[len(prefix):]
        parts = rest.split("/")
        if (method == "GET" and len(parts) == 3 and parts[0] == "AvailablePhoneNumbers"
                and parts[2] == "Local.json"):
            self.search(parts[1], query)
        elif method == "POST" and rest == "IncomingPhoneNumbers.json":
            self.buy(dict(form))
        elif method == "GET" and rest == "IncomingPhoneNumbers.json":
            self.list_numbers(query)
        elif (method == "DELETE" and len(parts) == 2 and parts[0] == "IncomingPhoneNumbers"
              and parts[1].endswith(".json")):
            self.release(parts[1][:-5])
        elif method == "GET" and rest == "Messages.json":
            self.list_messages(query)
        else:
            self.error(404, 20404, "The requested resource %s was not found" % url.path)

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # -- REST --
    def search(self, cc, query):
        st = self.server.state
        area = query.get("AreaCode", [""])[0]
        size = int(query.get("PageSize", ["50"])[0])
        with st.lock:
            owned = {n["phone_number"] for n in st.numbers.values()}
            nums = [n for n in st.available if n not in owned and
                    (not area or n.startswith("+1" + area))][:size]
        if cc != "US":
            nums = []
        self.send_json(200, {
            "available_phone_numbers": [{
                "friendly_name": "(%s) %s-%s" % (n[2:5], n[5:8], n[8:]),
                "phone_number": n, "lata": "722", "locality": "Testville",
                "rate_center": "TESTVILLE", "latitude": "37.0", "longitude": "-122.0",
                "region": "CA", "postal_code": "94000", "iso_country": cc,
                "address_requirements": "none", "beta": False,
                "capabilities": {"voice": True, "SMS": True, "MMS": True}}
                for n in nums],
            "uri": self.path})

    def number_resource(self, pn_sid):
        st = self.server.state
        return st.numbers[pn_sid]

    def buy(self, form):
        st = self.server.state
        pn = form.get("PhoneNumber")
        if not pn:
            self.error(400, 21452, "You must provide an area_code or a phone_number")
            return
        with st.lock:
            owned = {n["phone_number"] for n in st.numbers.values()}
            if pn in st.unavailable or pn in owned or pn not in st.available:
                bad = True
            else:
                bad = False
                now = time.time()
                s = sid("PN")
                res = {
                    "sid": s, "account_sid": st.account, "phone_number": pn,
                    "friendly_name": form.get("FriendlyName", pn),
                    "sms_url": form.get("SmsUrl", ""),
                    "sms_method": form.get("SmsMethod", "POST"),
                    "sms_fallback_url": "", "voice_url": None,
                    "capabilities": {"voice": True, "sms": True, "mms": True},
                    "status": "in-use", "address_requirements": "none",
                    "date_created": rfc2822(now), "date_updated": rfc2822(now),
                    "api_version": "2010-04-01", "beta": False,
                    "uri": "%s/Accounts/%s/IncomingPhoneNumbers/%s.json" % (API, st.account, s)}
                st.numbers[s] = res
        if bad:
            self.error(400, 21422, "PhoneNumber requested is not available")
            return
        with st.lock:
            garble = st.garble_buys > 0
            if garble:
                st.garble_buys -= 1
        if garble:
            # The number IS bought; the client cannot tell from the answer.
            body = b"<html>upstream error</html>"
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_json(201, res)

    def list_numbers(self, query):
        st = self.server.state
        want = query.get("PhoneNumber", [None])[0]
        with st.lock:
            nums = [n for n in st.numbers.values() if not want or n["phone_number"] == want]
        self.send_json(200, {"incoming_phone_numbers": nums, "page": 0,
                             "page_size": 50, "next_page_uri": None, "uri": self.path})

    def release(self, pn_sid):
        st = self.server.state
        with st.lock:
            found = st.numbers.pop(pn_sid, None)
        if found is None:
            self.error(404, 20404, "The requested resource %s was not found" % self.path)
            return
        self.send_json(204, None)

    def list_messages(self, query):
        st = self.server.state
        to = query.get("To", [None])[0]
        # Twilio's "DateSent>=DAY" is the key "DateSent>" (sent as DateSent%3E=DAY).
        since = query.get("DateSent>", [None])[0]
        size = int(query.get("PageSize", ["50"])[0])
        page = int(query.get("Page", ["0"])[0])
        with st.lock:
            msgs = [m for m in reversed(st.messages) if not to or m["to"] == to]
        if since:
            day = time.mktime(time.strptime(since, "%Y-%m-%d")) - time.timezone
            msgs = [m for m in msgs if m["_t"] >= day]
        chunk = msgs[page * size:(page + 1) * size]
        nxt = None
        if (page + 1) * size < len(msgs):
            q = {"To": to or "", "PageSize": size, "Page": page + 1,
                 "PageToken": "PA" + secrets.token_hex(8)}
            if since:
                q["DateSent>"] = since
            nxt = "%s/Accounts/%s/Messages.json?%s" % (
                API, st.account, urllib.parse.urlencode(q))
        self.send_json(200, {
            "messages": [{k: v for k, v in m.items() if not k.startswith("_")} for m in chunk],
            "page": page, "page_size": size, "next_page_uri": nxt,
            "first_page_uri": None, "previous_page_uri": None, "uri": self.path})

    # -- control --
    def control(self, method, path, form):
        st = self.server.state
        if method == "GET" and path == "/_fake/log":
            with st.lock:
                self.send_json(200, list(st.log))
        elif method == "GET" and path == "/_fake/deliveries":
            with st.lock:
                self.send_json(200, json.loads(json.dumps(st.deliveries)))
        elif method == "GET" and path == "/_fake/numbers":
            with st.lock:
                self.send_json(200, list(st.numbers.values()))
        elif method == "POST" and path == "/_fake/ratelimit":
            with st.lock:
                st.ratelimit = int(form.get("Count", "1"))
                st.retry_after = int(form.get("RetryAfter", "1"))
            self.send_json(200, {"ok": True})
        elif method == "POST" and path == "/_fake/garble":
            with st.lock:
                st.garble_buys = int(form.get("Count", "1"))
            self.send_json(200, {"ok": True})
        elif method == "POST" and path == "/_fake/unavailable":
            with st.lock:
                st.unavailable.add(form["PhoneNumber"])
            self.send_json(200, {"ok": True})
        elif method == "POST" and path == "/_fake/message":
            m = self.add_message(form)
            self.send_json(201, {k: v for k, v in m.items() if not k.startswith("_")})
        elif method == "POST" and path == "/_fake/sms":
            self.fake_sms(form)
        else:
            self.send_json(404, {"error": "no such control endpoint"})

    def add_message(self, form, status=None):
        st = self.server.state
        t = float(form.get("DateSent") or time.time())
        code = form.get("ErrorCode")
        m = {
            "sid": form.get("MessageSid") or sid("SM"), "account_sid": st.account,
            "api_version": "2010-04-01", "direction": form.get("Direction", "inbound"),
            "from": form.get("From", "+15005550006"), "to": form.get("To", ""),
            "body": form.get("Body", ""), "status": status or form.get("Status", "received"),
            "num_segments": "1", "num_media": "0", "price": None, "price_unit": "USD",
            "error_code": int(code) if code else None,
            "error_message": "OTP Message Body Filtered" if code == "30038" else None,
            "messaging_service_sid": None,
            "date_created": rfc2822(t), "date_sent": rfc2822(t), "date_updated": rfc2822(t),
            "uri": None, "_t": t}
        if m["error_code"] == 30038:
            m["body"] = ""   # Twilio redacts the filtered body
        m["uri"] = "%s/Accounts/%s/Messages/%s.json" % (API, st.account, m["sid"])
        with st.lock:
            st.messages.append(m)
        return m

    def fake_sms(self, form):
        st = self.server.state
        to = form.get("To", "")
        with st.lock:
            res = next((n for n in st.numbers.values() if n["phone_number"] == to), None)
        if res is None or not res.get("sms_url"):
            self.send_json(404, {"error": "no bought number with an SmsUrl", "to": to})
            return
        host = urllib.parse.urlsplit(res["sms_url"]).hostname or ""
        if host not in LOOPBACK:
            self.send_json(400, {"error": "SmsUrl is not loopback; refusing"})
            return
        m = self.add_message(form, status="received")
        params = [
            ("ToCountry", "US"), ("ToState", "CA"), ("SmsMessageSid", m["sid"]),
            ("NumMedia", "0"), ("ToCity", "TESTVILLE"), ("FromZip", ""),
            ("SmsSid", m["sid"]), ("FromState", "CA"), ("SmsStatus", "received"),
            ("FromCity", ""), ("Body", m["body"]), ("FromCountry", "US"),
            ("To", to), ("ToZip", "94000"), ("NumSegments", "1"),
            ("MessageSid", m["sid"]), ("AccountSid", st.account),
            ("From", m["from"]), ("ApiVersion", "2010-04-01")]
        retries = min(int(form.get("Retries", "1")), 5)
        delay = min(float(form.get("Delay", "0.2")), 10.0)
        rec = {"sid": m["sid"], "url": res["sms_url"], "attempts": [], "done": False,
               "delivered": False}
        with st.lock:
            st.deliveries[m["sid"]] = rec
        job = threading.Thread(target=deliver, daemon=True,
                               args=(st, rec, res["sms_url"], params, retries, delay))
        job.start()
        if form.get("Async") in ("1", "true", "True"):
            self.send_json(202, {"sid": m["sid"]})
            return
        job.join(60)
        with st.lock:
            self.send_json(200, json.loads(json.dumps(rec)))


def deliver(st, rec, url, params, retries, delay):
    """POST the signed webhook; retry on non-2xx or no answer (bounded)."""
    sig = twilio_signature(st.token, url, params)
    body = urllib.parse.urlencode(params).encode()
    u = urllib.parse.urlsplit(url)
    idem = secrets.token_hex(16)
    for attempt in range(1 + retries):
        status = None
        try:
            c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=15)
            path = u.path + ("?" + u.query if u.query else "")
            c.request("POST", path, body, {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": sig, "I-Twilio-Idempotency-Token": idem,
                "User-Agent": "TwilioProxy/1.1"})
            r = c.getresponse()
            r.read()
            status = r.status
            c.close()
        except OSError as e:
            status = "error: %s" % e.__class__.__name__
        with st.lock:
            rec["attempts"].append(status)
            if isinstance(status, int) and 200 <= status < 300:
                rec["delivered"] = True
        if rec["delivered"]:
            break
        time.sleep(delay)
    with st.lock:
        rec["done"] = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--sid", default="AC" + "0" * 32)
    ap.add_argument("--token", default="fake-auth-token")
    a = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.state = State(a.sid, a.token)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
