#!/usr/bin/python3
"""A real SMTP server for the tests (aiosmtpd, from Debian's
python3-aiosmtpd): it listens on loopback only, stores each message it
accepts in the spool directory and prints READY when it serves.

    smtp_sink.py --listen 127.0.0.1:PORT --spool DIR
                 [--tls CERT KEY] [--auth USER:PASS]
                 [--reject-rcpt] [--reject-data]

Each accepted message becomes DIR/<ns>-<n>.eml (written under a temporary
name, then renamed), starting with X-Envelope-From and X-Envelope-To
lines.  --tls offers STARTTLS and requires it before MAIL; --auth
advertises AUTH PLAIN/LOGIN (after STARTTLS) and requires it.  The
--reject-* switches answer 550 to RCPT or 554 to DATA, so a client can be
shown not to count a refusal as sent.  Use /usr/bin/python3: aiosmtpd is
a Debian package."""

import argparse
import logging
import os
import signal
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, spool, reject_rcpt, reject_data):
        self.spool = spool
        self.reject_rcpt = reject_rcpt
        self.reject_data = reject_data
        self.n = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if self.reject_rcpt:
            return "550 5.1.1 mailbox unavailable (test sink)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.reject_data:
            return "554 5.6.0 message refused (test sink)"
        with self.lock:
            self.n += 1
            name = "%d-%d.eml" % (time.time_ns(), self.n)
        tmp = os.path.join(self.spool, "." + name + ".tmp")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        with open(tmp, "wb") as f:
            f.write(b"X-Envelope-From: %s\r\n" %
                    envelope.mail_from.encode())
            f.write(b"X-Envelope-To: %s\r\n" %
                    ", ".join(envelope.rcpt_tos).encode())
            f.write(data)
        os.rename(tmp, os.path.join(self.spool, name))
        return "250 2.0.0 stored"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and
              auth_data.login == user.encode() and
              auth_data.password == password.encode())
        # handled=False: aiosmtpd 1.4 then answers 535 itself on failure
        # (with handled=True it sends nothing and the client sees a drop).
        return AuthResult(success=ok, handled=False)
    return check


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--spool", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--auth")
    ap.add_argument("--reject-rcpt", action="store_true")
    ap.add_argument("--reject-data", action="store_true")
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    if host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("smtp_sink: loopback only")
    os.makedirs(a.spool, exist_ok=True)
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)

    kw = {}
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        kw.update(tls_context=ctx, require_starttls=True)
    if a.auth:
        user, password = a.auth.split(":", 1)
        kw.update(authenticator=authenticator(user, password),
                  auth_required=True, auth_require_tls=bool(a.tls))
    else:
        kw.update(auth_require_tls=True)
    ctl = Controller(Sink(a.spool, a.reject_rcpt, a.reject_data),
                     hostname=host, port=int(port), ready_timeout=10, **kw)
    ctl.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("READY", flush=True)
    while not stop.wait(0.5):
        pass
    ctl.stop()


if __name__ == "__main__":
    main()
