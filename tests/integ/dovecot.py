"""A real Dovecot for the integration tests, on 127.0.0.1 only.

Dovecot(tmpdir, passwd_file) writes a self-contained dovecot.conf in
tmpdir (free ports; IMAP with STARTTLS, IMAPS and LMTP listeners; a
passwd-file passdb/userdb reading the file the daemon's dovecot provider
writes; maildir storage and logs inside tmpdir), makes a throw-away test
CA with openssl and a server certificate signed by it, starts dovecot in
the foreground as our child and stops it by pid.  deliver() hands a
message to a mailbox over LMTP.  Python standard library only.

Not a test itself (no "test_" prefix, not executable)."""

import os
import signal
import smtplib
import socket
import subprocess
import time

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _run(argv, cwd):
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (argv[0], r.stderr.strip()))


def make_ca(dirpath, name, cn):
    """A self-signed EC P-256 CA: returns (cert path, key path)."""
    key = os.path.join(dirpath, name + ".key")
    crt = os.path.join(dirpath, name + ".pem")
    _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
          "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
          "-days", "2", "-subj", "/CN=" + cn,
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dirpath)
    return crt, key


def make_server_cert(dirpath, ca_crt, ca_key, sans):
    """A server certificate for sans (e.g. ["DNS:localhost"]) signed by
    the CA: returns (cert path, key path)."""
    key = os.path.join(dirpath, "server.key")
    csr = os.path.join(dirpath, "server.csr")
    crt = os.path.join(dirpath, "server.pem")
    ext = os.path.join(dirpath, "server.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=%s\n" % ",".join(sans))
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt",
          "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
          "-subj", "/CN=agentid test server"], dirpath)
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey",
          ca_key, "-CAcreateserial", "-out", crt, "-days", "2", "-extfile",
          ext], dirpath)
    return crt, key


CONF = """\
# Generated for one test run; everything under {d}, 127.0.0.1 only.
instance_name = agentid-test-{imap}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
debug_log_path = {d}/dovecot.log
auth_verbose = yes
auth_verbose_passwords = no
listen = 127.0.0.1
protocols = imap lmtp
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{d}/mail/%Lu/Maildir
mail_max_userip_connections = 50
default_process_limit = {procs}
default_client_limit = {clients}
default_vsz_limit = 512M
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {passwd}
}}
userdb {{
  driver = passwd-file
  args = {passwd}
  default_fields = uid={uid} gid={gid} home={d}/mail/%Lu
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
  # One login process proxies many TLS clients (1,000-mailbox benchmark).
  service_count = 0
  process_min_avail = 1
  client_limit = {clients}
}}
service imap {{
  process_limit = {procs}
  # Each imap process holds one inotify instance for IDLE, and uid 65534
  # may have only fs.inotify.max_user_instances (128) of them; past that
  # dovecot polls every 30 s.  Several sessions per process avoid it.
  client_limit = 25
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
service auth {{
  client_limit = {clients}
}}
# Where inotify is exhausted (fs.inotify.max_user_instances is per uid,
# and every instance on the machine runs mail as 65534), IDLE falls back
# to stat()ing the mailbox this often instead of every 30 s.
mailbox_idle_check_interval = 1 secs
protocol imap {{
  imap_idle_notify_interval = {idle_notify}
{imap_extra}}}
"""


class Dovecot:
    """One Dovecot instance.  Attributes: dir, imap_port (plain and
    STARTTLS), imaps_port, lmtp_port, ca_file (the CA that signed the
    server certificate), other_ca (an unrelated CA), passwd_file, log.
    idle=False leaves IDLE out of the CAPABILITY answer; idle_notify is
    how often an IDLE session gets "* OK Still here" (Dovecot's
    imap_idle_notify_interval)."""

    def __init__(self, tmpdir, passwd_file=None, sans=("DNS:localhost",),
                 max_users=64, idle=True, idle_notify="2 mins"):
        self.dir = tmpdir
        os.makedirs(tmpdir, exist_ok=True)
        for sub in ("run", "state", "mail"):
            os.makedirs(os.path.join(tmpdir, sub), exist_ok=True)
        self.passwd_file = passwd_file or os.path.join(tmpdir, "users")
        self.log = os.path.join(tmpdir, "dovecot.log")
        self.ca_file, cakey = make_ca(tmpdir, "ca", "agentid test CA")
        self.other_ca, _ = make_ca(tmpdir, "otherca", "unrelated test CA")
        self.cert, self.key = make_server_cert(tmpdir, self.ca_file, cakey,
                                               list(sans))
        self.imap_port = _free_port()
        self.imaps_port = _free_port()
        self.lmtp_port = _free_port()
        # Mail belongs to nobody; auth reads the passwd-file as group
        # dovecot, so the file is root:dovecot 0640 (the daemon keeps
        # owner, group and mode when it rewrites it).
        uid = gid = 65534
        os.chown(os.path.join(tmpdir, "mail"), uid, gid)
        if not os.path.exists(self.passwd_file):
            fd = os.open(self.passwd_file, os.O_WRONLY | os.O_CREAT, 0o640)
            os.close(fd)
        try:
            import grp
            os.chown(self.passwd_file, 0, grp.getgrnam("dovecot").gr_gid)
        except (KeyError, PermissionError):
            pass
        os.chmod(self.passwd_file, 0o640)
        os.chmod(tmpdir, 0o755)
        self.conf = os.path.join(tmpdir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(d=tmpdir, cert=self.cert, key=self.key,
                                passwd=self.passwd_file, uid=uid, gid=gid,
                                imap=self.imap_port, imaps=self.imaps_port,
                                lmtp=self.lmtp_port,
                                idle_notify=idle_notify,
                                procs=max(100, 2 * max_users + 50),
                                clients=max(1000, 4 * max_users + 100),
                                imap_extra="" if idle else
                                # A server without IDLE: clients must poll.
                                "  imap_capability = IMAP4rev1 "
                                "LITERAL+ SASL-IR LOGIN-REFERRALS ID "
                                "ENABLE UIDPLUS\n"))
        self.proc = None

    def start(self, timeout=10):
        errlog = open(os.path.join(self.dir, "dovecot.stderr"), "a")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdout=errlog, stderr=errlog,
                                     stdin=subprocess.DEVNULL)
        errlog.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dovecot exited %d: %s" % (
                    self.proc.returncode, self.read_log(tail=True)))
            if all(self._listening(p) for p in
                   (self.imap_port, self.imaps_port, self.lmtp_port)):
                return self
            time.sleep(0.02)
        raise RuntimeError("dovecot did not start: " +
                           self.read_log(tail=True))

    @staticmethod
    def _listening(port):
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            return False

    def stop(self):
        """SIGTERM by pid and wait; dovecot waits ~1 s for its children."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def read_log(self, tail=False):
        out = ""
        for name in ("dovecot.log", "dovecot.stderr"):
            try:
                with open(os.path.join(self.dir, name),
                          errors="replace") as f:
                    out += f.read()
            except OSError:
                pass
        return out[-4000:] if tail else out

    def notify_trouble(self):
        """Dovecot's warnings that IDLE fell back to polling."""
        return [x for x in self.read_log().splitlines()
                if "notify" in x.lower() and ("warning" in x.lower() or
                                              "error" in x.lower())]

    def user_visible(self, address, timeout=5):
        """Wait until dovecot's userdb knows address (it re-reads the
        passwd-file by itself, at most about once a second)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = subprocess.run([DOVEADM, "-c", self.conf, "user", address],
                               capture_output=True, timeout=10)
            if r.returncode == 0:
                return True
            time.sleep(0.1)
        return False

    def deliver(self, rcpt, message, sender="noreply@service.example"):
        """Deliver message (str or bytes, any line ends) to rcpt over LMTP;
        raises on a refusal."""
        if isinstance(message, str):
            message = message.encode()
        message = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=60) as c:
            refused = c.sendmail(sender, [rcpt], message)
        if refused:
            raise RuntimeError("LMTP refused %r" % (refused,))

    def count(self, address):
        """Messages in address's INBOX (maildir new + cur)."""
        base = os.path.join(self.dir, "mail", address.lower(), "Maildir")
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(base, sub)))
            except OSError:
                pass
        return n


if __name__ == "__main__":
    # Smoke: start, add a user with doveadm pw, deliver, stop.
    import sys
    import tempfile
    d = Dovecot(tempfile.mkdtemp(prefix="dovecot-smoke-"))
    d.start()
    try:
        h = subprocess.run([DOVEADM, "pw", "-s", "SHA512-CRYPT", "-p", "pw"],
                           capture_output=True, text=True).stdout.strip()
        with open(d.passwd_file, "a") as f:
            f.write("smoke@example.test:%s::::::\n" % h)
        print("visible", d.user_visible("smoke@example.test"))
        d.deliver("smoke@example.test", "Subject: hi\n\nhello\n")
        print("count", d.count("smoke@example.test"))
    finally:
        d.stop()
    print(d.read_log(tail=True), file=sys.stderr)
