#!/usr/bin/python3
"""A scripted MCP client conversation with `agentid mcp` connected to a real
agentidd: initialize and version negotiation, tools/list, tools/call of
every tool with codes injected through `agentid inject`, concurrency
(ping and cancellation while a wait blocks), and the JSON-RPC errors."""

import json
import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

t = lib.Tests()


class Mcp:
    """`agentid mcp` as a child, spoken to one JSON line at a time."""

    def __init__(self, d, token, *args):
        env = d.env(token)
        self.p = subprocess.Popen([lib.AGENTID, "mcp"] + list(args),
                                  env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        lib.on_exit(self.kill)
        self.buf = b""
        self.lines = []     # every line received, to look for leaks

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def send(self, msg):
        data = msg if isinstance(msg, bytes) else json.dumps(msg).encode()
        self.p.stdin.write(data + b"\n")
        self.p.stdin.flush()

    def recv(self, timeout=15):
        """The next message, or None when nothing came in time."""
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines.append(line.decode())
        return json.loads(line)

    def request(self, rid, method, params=None, timeout=15):
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.recv(timeout)

    def call(self, rid, tool, args=None, timeout=15):
        p = {"name": tool}
        if args is not None:
            p["arguments"] = args
        return self.request(rid, "tools/call", p, timeout)

    def initialize(self, version):
        return self.request(0, "initialize", {
            "protocolVersion": version, "capabilities": {},
            "clientInfo": {"name": "test_mcp", "version": "1"}})


def tool_data(resp):
    """(isError, decoded JSON of the text content or the text itself)."""
    try:
        res = resp["result"]
        text = res["content"][0]["text"]
    except (KeyError, IndexError, TypeError):
        return None, None
    try:
        return res.get("isError"), json.loads(text)
    except ValueError:
        return res.get("isError"), text


def err_code(resp):
    try:
        return resp["error"]["code"]
    except (KeyError, TypeError):
        return None


d = lib.Daemon()
alice = d.provision("alice")["token"]
bob = d.provision("bob")["token"]

# --- no token: a usage error, before any protocol ---------------------------
r = d.cli("mcp")
t.eq(r.returncode, 64, "mcp without a token exits 64")

m = Mcp(d, alice)

# --- initialize ---------------------------------------------------------------
r = m.initialize("2025-03-26")
t.check(r and r.get("id") == 0 and "result" in r, "initialize answers", r)
res = (r or {}).get("result", {})
t.eq(res.get("protocolVersion"), "2025-03-26",
     "initialize keeps a supported client version")
t.check("tools" in res.get("capabilities", {}),
        "initialize announces the tools capability", res)
t.eq(res.get("serverInfo", {}).get("name"), "agentid",
     "initialize names the server")
m.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
r = m.request(1, "ping")
t.check(r and r.get("id") == 1 and r.get("result") == {},
        "ping answers {} (and the notification got no answer)", r)

# --- tools/list ----------------------------------------------------------------
r = m.request(2, "tools/list")
tools = {x.get("name"): x for x in (r or {}).get("result", {}).get(
    "tools", [])}
t.eq(sorted(tools), ["get_identity", "list_pending", "wait_for_code",
                     "wait_for_link"], "tools/list names the four tools")
for name, tool in sorted(tools.items()):
    t.check(tool.get("inputSchema", {}).get("type") == "object" and
            tool.get("description"),
            "tool %s has a description and an object schema" % name)
props = tools.get("wait_for_code", {}).get("inputSchema", {}).get(
    "properties", {})
t.eq(sorted(props), ["channel", "from", "origin", "since", "timeout"],
     "wait_for_code takes the DESIGN filters")

# --- get_identity -----------------------------------------------------------------
is_err, data = tool_data(m.call(3, "get_identity"))
t.check(is_err is False and isinstance(data, dict) and
        data.get("agent") == "alice" and "email" in data and
        "phone" in data, "get_identity returns the agent's identity", data)

# --- wait_for_code: blocks, ping still answered, then the injected code ----------
m.call(10, "wait_for_code", {"timeout": 30, "channel": "sms"}, timeout=0)
r = m.request(11, "ping", timeout=5)
t.check(r and r.get("id") == 11,
        "ping is answered while a wait_for_code blocks", r)
time.sleep(0.3)
body = "Your Acme verification code is 482913. Do not share it."
inj = d.cli("inject", "alice", "--from", "+15550100", "--text", body)
t.eq(inj.returncode, 0, "agentid inject exits 0")
r = m.recv(timeout=20)
t.eq((r or {}).get("id"), 10, "the waiting call is answered")
is_err, data = tool_data(r)
t.check(is_err is False and isinstance(data, dict) and
        data.get("code") == "482913",
        "wait_for_code returns the injected code", r)
t.check(isinstance(data, dict) and data.get("channel") == "sms" and
        data.get("from") == "+15550100",
        "the result carries channel and sender", data)
t.check(r is not None and "Do not share" not in json.dumps(r) and
        "body" not in (data or {}) and "text" not in (data or {}),
        "the result carries no message body", r)

# Delivered once: a second wait sees nothing.
is_err, data = tool_data(m.call(12, "wait_for_code", {"timeout": 1},
                                timeout=30))
t.check(is_err is True and "timeout" in str(data),
        "a second wait_for_code times out as a tool error", data)

# Bob's code never reaches alice.
d.cli("inject", "bob", "--text", "Your code is 551177")
is_err, data = tool_data(m.call(13, "wait_for_code", {"timeout": 1},
                                timeout=30))
t.check(is_err is True, "alice does not get bob's code", data)
t.check(not any("551177" in line for line in m.lines),
        "bob's code appears nowhere in alice's session")

# --- wait_for_link and filters -------------------------------------------------------
d.cli("inject", "alice", "--channel", "email", "--from",
      "no-reply@example.com", "--subject", "Confirm your account",
      "--text", "Welcome! Confirm here: "
      "https://example.com/confirm?token=Zx81kq2\n")
is_err, data = tool_data(m.call(14, "wait_for_link",
                                {"channel": "email",
                                 "from": "example.com", "timeout": 10},
                                timeout=30))
t.check(is_err is False and isinstance(data, dict) and
        data.get("link") == "https://example.com/confirm?token=Zx81kq2",
        "wait_for_link returns the link", data)

# --- list_pending: metadata only ----------------------------------------------------------
d.cli("inject", "alice", "--from", "+15550199", "--text",
      "Use 907316 to sign in")
is_err, data = tool_data(m.call(15, "list_pending"))
secrets = data.get("secrets") if isinstance(data, dict) else None
t.check(is_err is False and isinstance(secrets, list) and len(secrets) >= 1,
        "list_pending lists the pending code", data)
t.check(not any("907316" in line for line in m.lines),
        "list_pending does not reveal the value", m.lines[-1:])
t.check(all("value" not in s and "code" not in s for s in secrets or []),
        "list_pending entries have no value field", secrets)
is_err, data = tool_data(m.call(16, "wait_for_code",
                                {"from": "+15550199", "timeout": 5},
                                timeout=30))
t.check(is_err is False and isinstance(data, dict) and
        data.get("code") == "907316",
        "the listed code can still be waited for", data)

# --- cancellation ------------------------------------------------------------------------
m.call(20, "wait_for_code", {"timeout": 30}, timeout=0)
m.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 20, "reason": "test"}})
r = m.request(21, "ping", timeout=5)
t.check(r and r.get("id") == 21, "ping after a cancellation", r)
r = m.recv(timeout=1.5)
t.check(r is None, "a cancelled call gets no answer", r)

# --- JSON-RPC errors ---------------------------------------------------------------------
m.send(b"{this is not json")
r = m.recv()
t.check(err_code(r) == -32700 and r.get("id") is None,
        "parse error is -32700 with id null", r)
m.send({"id": 30, "method": "ping"})
t.eq(err_code(m.recv()), -32600, "a message without jsonrpc is -32600")
m.send({"jsonrpc": "2.0", "id": 31})
t.eq(err_code(m.recv()), -32600, "a request without method is -32600")
m.send(b"[]")
t.eq(err_code(m.recv()), -32600, "an empty batch is -32600")
t.eq(err_code(m.request(32, "resources/list")), -32601,
     "an unknown method is -32601")
t.eq(err_code(m.call(33, "send_email", {})), -32602,
     "an unknown tool is -32602")
t.eq(err_code(m.call(34, "wait_for_code", {"timeout": "soon"})), -32602,
     "an argument of the wrong type is -32602")
t.eq(err_code(m.call(35, "wait_for_code", {"colour": "red"})), -32602,
     "an unknown argument is -32602")
t.eq(err_code(m.call(36, "wait_for_code", {"channel": "fax"})), -32602,
     "a bad channel is -32602")
t.eq(err_code(m.request(37, "initialize", {})), -32602,
     "initialize without protocolVersion is -32602")
r = m.request(38, "ping")
t.check(r and r.get("result") == {}, "the server still serves after errors")

# Hostile input: each bad line gets at most one error, and the server lives.
m.send(b"\xff\xfe not utf-8 \x00")
t.eq(err_code(m.recv()), -32700, "invalid UTF-8 is a parse error")
m.send(b"[" * 5000 + b"]" * 5000)
t.eq(err_code(m.recv()), -32700, "very deep nesting is a parse error")
m.send(b'{"jsonrpc":"2.0","id":39,"id":40,"method":"ping"}')
t.eq(err_code(m.recv()), -32700, "duplicate keys are a parse error")
m.send(b'{"jsonrpc":"2.0","id":' + b'"x' * 700000 + b'"}')
t.eq(err_code(m.recv()), -32700, "a line over 1 MiB is refused")
m.send({"jsonrpc": "2.0", "id": None, "method": "ping"})
t.eq(err_code(m.recv()), -32600, "a null id is -32600")
m.send({"jsonrpc": "2.0", "id": 41, "method": "tools/call",
        "params": "wait_for_code"})
t.eq(err_code(m.recv()), -32600, "unstructured params are -32600")
r = m.request(42, "ping")
t.check(r and r.get("id") == 42 and r.get("result") == {},
        "the server still serves after hostile input", r)

# --- end of input ends the server ---------------------------------------------------------
m.p.stdin.close()
try:
    rc = m.p.wait(10)
except subprocess.TimeoutExpired:
    rc = None
t.eq(rc, 0, "end of input ends agentid mcp with 0")

# --- version negotiation ---------------------------------------------------------------------
for want, got in (("2024-11-05", "2024-11-05"),
                  ("2025-06-18", "2025-06-18"),
                  ("1999-01-01", "2025-06-18")):
    m2 = Mcp(d, alice)
    r = m2.initialize(want)
    t.eq(((r or {}).get("result") or {}).get("protocolVersion"), got,
         "client version %s gets %s" % (want, got))
    if want == "2025-06-18":
        r = m2.call(1, "get_identity")
        sc = ((r or {}).get("result") or {}).get("structuredContent")
        t.check(isinstance(sc, dict) and sc.get("agent") == "alice",
                "2025-06-18 results carry structuredContent", r)
    m2.p.stdin.close()
    m2.p.wait(10)

# --- a bad token and a dead daemon are tool errors, not crashes ---------------------------------
m3 = Mcp(d, "aid_" + "A" * 43)
m3.initialize("2025-06-18")
is_err, data = tool_data(m3.call(1, "get_identity"))
t.check(is_err is True and "unauthorized" in str(data),
        "a bad token gives an unauthorized tool error", data)
m3.p.stdin.close()
m3.p.wait(10)

m4 = Mcp(d, alice, "--socket", os.path.join(d.dir, "nothing.sock"))
m4.initialize("2025-06-18")
is_err, data = tool_data(m4.call(1, "wait_for_code", {"timeout": 1}))
t.check(is_err is True and "unreachable" in str(data),
        "no daemon gives an unreachable tool error", data)
m4.p.stdin.close()
m4.p.wait(10)

t.check(d.alive(), "agentidd still runs")
t.done()
