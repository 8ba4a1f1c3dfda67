"""Shared harness for the integration tests: start the real agentidd in a
temporary directory, talk to it as a plain socket client, run the real
agentid binary, and print one PASS/FAIL line per check for tests/run.

Everything listens on Unix sockets in the temp dir or on 127.0.0.1."""

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("AGENTID_BIN") or os.path.join(ROOT, "bin")
AGENTIDD = os.path.join(BIN, "agentidd")
AGENTID = os.path.join(BIN, "agentid")

_cleanups = []


def _run_cleanups():
    while _cleanups:
        try:
            _cleanups.pop()()
        except Exception:
            pass


atexit.register(_run_cleanups)


def on_exit(fn):
    """Run fn when the test exits, newest first."""
    _cleanups.append(fn)


class Tests:
    """One PASS/FAIL line per check; done() exits 1 if any failed."""

    def __init__(self):
        self.failed = 0
        self.count = 0

    def check(self, cond, name, why=""):
        self.count += 1
        if cond:
            print("PASS " + name, flush=True)
        else:
            self.failed += 1
            print("FAIL " + name + (": " + str(why) if why else ""),
                  flush=True)
        return bool(cond)

    def eq(self, got, want, name):
        return self.check(got == want, name, "got %r want %r" % (got, want))

    def done(self):
        _run_cleanups()
        sys.exit(1 if self.failed else 0)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_secret(path, value):
    """A secret file as the daemon wants it: 0600, one line."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)
    return path


def call(path, req, timeout=30):
    """One request on a fresh connection; returns the decoded response."""
    c = Conn(path, timeout)
    try:
        return c.call(req)
    finally:
        c.close()


class Conn:
    """A persistent JSON-lines connection to a socket."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, req):
        data = req if isinstance(req, bytes) else \
            (json.dumps(req) + "\n").encode()
        self.sock.sendall(data)

    def recv(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the daemon")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, req):
        self.send(req)
        return self.recv()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Daemon:
    """A real agentidd in its own temp dir.

    conf: {"section": {"key": "value"}} merged over the defaults here.
    """

    def __init__(self, conf=None, start=True, name="agentidd"):
        self.dir = tempfile.mkdtemp(prefix="agentid-test-")
        on_exit(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self.state = os.path.join(self.dir, "state")
        self.agent_sock = os.path.join(self.dir, "agent.sock")
        self.admin_sock = os.path.join(self.dir, "admin.sock")
        self.logfile = os.path.join(self.dir, name + ".log")
        self.conffile = os.path.join(self.dir, "agentidd.conf")
        self.sections = {
            "daemon": {
                "state_dir": self.state,
                "agent_socket": self.agent_sock,
                "admin_socket": self.admin_sock,
                "log_level": "debug",
            },
            "webhook": {"listen": ""},
        }
        for sec, kv in (conf or {}).items():
            self.sections.setdefault(sec, {}).update(kv)
        self.write_conf()
        self.proc = None
        on_exit(self.stop)
        if start:
            self.start()

    def write_conf(self):
        with open(self.conffile, "w") as f:
            for sec, kv in self.sections.items():
                f.write("[%s]\n" % sec)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
                f.write("\n")

    def env(self, token=None):
        e = dict(os.environ)
        e["AGENTID_SOCKET"] = self.agent_sock
        e["AGENTID_ADMIN_SOCKET"] = self.admin_sock
        e.pop("AGENTID_TOKEN", None)
        if token:
            e["AGENTID_TOKEN"] = token
        return e

    def start(self, timeout=10, wrapper=None):
        log = open(self.logfile, "a")
        argv = [AGENTIDD, "-f", "-c", self.conffile]
        if wrapper:
            argv = wrapper + argv
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("agentidd exited %d:\n%s" %
                                   (self.proc.returncode, self.log()))
            try:
                r = call(self.admin_sock, {"op": "status"}, timeout=2)
                if r.get("ok"):
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("agentidd did not start:\n" + self.log())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self):
        """SIGKILL: no cleanup at all, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def admin(self, req):
        return call(self.admin_sock, req)

    def agent(self, token, req, timeout=90):
        r = dict(req)
        r["token"] = token
        return call(self.agent_sock, r, timeout=timeout)

    def conn(self, timeout=90):
        return Conn(self.agent_sock, timeout)

    def provision(self, name, **kw):
        req = {"op": "provision", "name": name}
        req.update(kw)
        r = self.admin(req)
        if not r.get("ok"):
            raise RuntimeError("provision %s: %r" % (name, r))
        return r

    def inject(self, name, text, **kw):
        req = {"op": "inject", "name": name, "text": text}
        req.update(kw)
        return self.admin(req)

    def cli(self, *args, token=None, input=None, timeout=120, env=None):
        e = self.env(token)
        if env:
            e.update(env)
        return subprocess.run([AGENTID] + list(args), env=e, input=input,
                              capture_output=True, text=True,
                              timeout=timeout)


def wait_for(pred, timeout=10, step=0.05):
    """Poll pred() until true or timeout; returns its last value."""
    deadline = time.time() + timeout
    v = pred()
    while not v and time.time() < deadline:
        time.sleep(step)
        v = pred()
    return v
