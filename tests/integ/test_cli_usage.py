#!/usr/bin/python3
"""agentid's usage text against its man pages, its exit codes for bad usage
and for a missing daemon, and `agentid extract` on a few inline samples.

The man pages are roff source; they are compared after removing font
escapes, so "\\-\\-email" in the page matches "--email" in --help."""

import json
import os
import re
import socket
import subprocess
import sys
import select
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lib  # noqa: E402

t = lib.Tests()
MAN = os.path.join(lib.ROOT, "man")
COMMON = {"--json", "--socket", "--help"}


def run(*args, env=None, input=None, timeout=30):
    e = dict(os.environ)
    for k in ("AGENTID_TOKEN", "AGENTID_SOCKET", "AGENTID_ADMIN_SOCKET"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([lib.AGENTID] + list(args), env=e, input=input,
                          capture_output=True, text=True, timeout=timeout)


def roff_text(path):
    """The roff source with escapes turned into plain text."""
    with open(path) as f:
        s = f.read()
    s = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\e", "", s)
    return s.replace("\\-", "-").replace("\\(em", "--")


def options_in(text):
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))


# --- the verbs of agentid --help and of agentid.1 -------------------------
top = run("--help")
t.eq(top.returncode, 0, "agentid --help exits 0")
help_verbs = re.findall(r"^  ([a-z]+)\b", top.stdout, re.M)
t.check(len(help_verbs) >= 15, "agentid --help lists the verbs",
        help_verbs)
for want in ("provision", "list", "show", "revoke", "token", "audit",
             "approve", "deny", "status", "inject", "whoami", "wait", "mcp",
             "extract"):
    t.check(want in help_verbs, "--help lists verb " + want)

man1 = roff_text(os.path.join(MAN, "agentid.1"))
# A verb's entry in the page: ".TP" then ".B verb ..." in a verb section.
sections = re.split(r"^\.SH ", man1, flags=re.M)
verb_sections = [s for s in sections
                 if s.startswith(("ADMIN VERBS", "AGENT VERBS",
                                  "VERBS FOR ANYONE"))]
t.eq(len(verb_sections), 3, "agentid.1 has the three verb sections")
man_entries = {}
for sec in verb_sections:
    for m in re.finditer(r"^\.TP\n\.B ([a-z]+)(.*)$", sec, re.M):
        man_entries[m.group(1)] = m.group(2)
man_verbs = set(man_entries)
for v in help_verbs:
    t.check(v in man_verbs, "verb %s of --help is in agentid.1" % v)
for v in sorted(man_verbs):
    t.check(v in help_verbs, "verb %s of agentid.1 is in --help" % v)

# --- each verb's options ----------------------------------------------------
for v in help_verbs:
    r = run(v, "--help")
    t.eq(r.returncode, 0, "agentid %s --help exits 0" % v)
    h = run("help", v)
    t.check(h.returncode == 0 and h.stdout == r.stdout,
            "agentid help %s is agentid %s --help" % (v, v))
    opts = options_in(r.stdout)
    t.check(COMMON <= opts, "%s --help shows the common options" % v,
            opts)
    missing = sorted(o for o in opts if o not in man1)
    t.check(not missing, "every option of %s --help is in agentid.1" % v,
            missing)
    usage = r.stdout.splitlines()[0] if r.stdout else ""
    got = options_in(usage) - COMMON
    want = options_in(man_entries.get(v, "")) - COMMON
    t.eq(sorted(got), sorted(want),
         "%s: options in the usage line match agentid.1" % v)
for word in ("AGENTID_TOKEN", "AGENTID_SOCKET", "AGENTID_ADMIN_SOCKET",
             "--token-file"):
    t.check(word in man1, "agentid.1 documents " + word)
for code in ("0", "1", "64", "69", "76", "77"):
    t.check(re.search(r"^\.SH EXIT STATUS(?:.|\n)*^\.B %s$" % code, man1,
                      re.M), "agentid.1 documents exit code " + code)
    t.check(re.search(r"\b%s\b" % code, top.stdout),
            "--help names exit code " + code)

# --- usage errors exit 64 --------------------------------------------------
tok = {"AGENTID_TOKEN": "aid_not_a_real_token"}
for args, env, name in [
        ((), None, "no verb"),
        (("frobnicate",), None, "unknown verb"),
        (("list", "--bogus"), None, "unknown option"),
        (("list", "extra"), None, "extra operand"),
        (("show",), None, "missing operand"),
        (("provision", "Bad_Name"), None, "bad agent name"),
        (("provision", "alice", "--uid"), None, "option without value"),
        (("token", "alice"), None, "token without --rotate"),
        (("wait",), None, "wait without a token"),
        (("wait", "--kind", "weird"), tok, "wait with a bad kind"),
        (("wait", "--timeout", "soon"), tok, "wait with a bad timeout"),
        (("wait", "--since", "yesterday"), tok, "wait with a bad since"),
        (("whoami", "--token"), tok, "a token on the command line"),
        (("extract", "--sms", "--email"), None, "extract --sms --email"),
        (("help", "frobnicate"), None, "help for an unknown verb"),
        (("inject", "alice", "--channel", "fax", "--text", "x"), None,
         "inject with a bad channel"),
]:
    r = run(*args, env=env)
    t.eq(r.returncode, 64, "exit 64: " + name)
    t.check(r.stderr.startswith("agentid: "), "usage error on stderr: " +
            name, r.stderr[:200])

# --- no daemon: exit 69 ----------------------------------------------------
tmp = tempfile.mkdtemp(prefix="agentid-usage-")
lib.on_exit(lambda: __import__("shutil").rmtree(tmp, ignore_errors=True))
missing = os.path.join(tmp, "missing.sock")
dead = os.path.join(tmp, "dead.sock")
s = socket.socket(socket.AF_UNIX)
s.bind(dead)            # a socket file nobody listens on
s.close()
for args, env, name in [
        (("list", "--socket", missing), None, "list, no socket file"),
        (("status",), {"AGENTID_ADMIN_SOCKET": missing},
         "status via AGENTID_ADMIN_SOCKET"),
        (("status", "--socket", dead), None, "status, nobody listening"),
        (("whoami", "--socket", missing), tok, "whoami, no socket file"),
        (("wait", "--timeout", "1"), dict(tok, AGENTID_SOCKET=missing),
         "wait via AGENTID_SOCKET"),
]:
    r = run(*args, env=env)
    t.eq(r.returncode, 69, "exit 69: " + name)
    t.check(re.match(r"agentid: [a-z]+: ", r.stderr),
            "error names the verb: " + name, r.stderr[:200])
    t.check("aid_not_a_real_token" not in r.stderr + r.stdout,
            "token not echoed: " + name)

# --token-file: only the first line is the token.
tf = os.path.join(tmp, "token")
with open(tf, "w") as f:
    f.write("aid_from_file\nsecond line\n")
r = run("whoami", "--token-file", tf, "--socket", missing)
t.eq(r.returncode, 69, "whoami --token-file reads the file, then exit 69")
r = run("whoami", "--token-file", os.path.join(tmp, "nope"))
t.eq(r.returncode, 64, "whoami with a missing token file exits 64")

# --- against a real daemon ---------------------------------------------------
d = lib.Daemon()
r = d.cli("provision", "alice", "--json")
try:
    prov = json.loads(r.stdout)
except ValueError:
    prov = {}
t.eq(r.returncode, 0, "provision --json exits 0")
t.check(all(k in prov for k in ("name", "token", "email", "phone")),
        "provision --json has name, token, email, phone", r.stdout[:300])
t.check(prov.get("email", 1) is None and prov.get("phone", 1) is None,
        "provision --json: email and phone null when absent")
alice = prov.get("token", "")
t.check(alice.startswith("aid_"), "provision prints an aid_ token")
r = d.cli("provision", "bob")
t.check(r.returncode == 0 and re.search(r"^token\s+aid_", r.stdout, re.M),
        "provision prints the token for people", r.stdout)
t.check("aid_" not in r.stderr, "the token is not on stderr")
t.eq(d.cli("provision", "alice").returncode, 1,
     "provision of an existing name exits 1")
t.eq(d.cli("show", "nobody").returncode, 1, "show of no agent exits 1")
r = d.cli("list")
t.check(r.returncode == 0 and r.stdout.startswith("NAME") and
        re.search(r"^alice\s+active", r.stdout, re.M),
        "list prints an aligned table", r.stdout)
r = d.cli("list", "--json")
t.check(r.returncode == 0 and json.loads(r.stdout).get("ok") is True and
        len(json.loads(r.stdout).get("agents", [])) == 2,
        "list --json prints the daemon's answer", r.stdout[:300])
r = d.cli("whoami", token=alice)
t.check(r.returncode == 0 and re.search(r"^agent\s+alice$", r.stdout, re.M),
        "whoami with AGENTID_TOKEN", r.stdout + r.stderr)
with open(tf, "w") as f:
    f.write(alice + "\n")
r = d.cli("whoami", "--token-file", tf)
t.check(r.returncode == 0 and "alice" in r.stdout,
        "whoami with --token-file", r.stderr)
t.eq(d.cli("whoami", token="aid_" + "B" * 43).returncode, 77,
     "whoami with a wrong token exits 77")
r = d.cli("wait", "--timeout", "1", token=alice)
t.eq(r.returncode, 1, "wait that times out exits 1")
t.check(r.stdout == "" and r.stderr.count("\n") == 1 and
        r.stderr.startswith("agentid: wait: timeout") and
        "waiting for" not in r.stderr,
        "no countdown when stderr is not a terminal", r.stderr)
d.cli("inject", "alice", "--from", "+15550100", "--text",
      "Your Acme code is 482913")
r = d.cli("wait", "--json", "--timeout", "5", token=alice)
try:
    sec = json.loads(r.stdout)
except ValueError:
    sec = {}
t.check(r.returncode == 0 and sec.get("value") == "482913" and
        sec.get("kind") == "code" and r.stdout.count("\n") == 1,
        "wait --json prints the secret object", r.stdout + r.stderr)
t.eq(r.stderr, "", "wait --json prints nothing on stderr")

# On a terminal, wait shows what it waits for and counts down on stderr.
import pty  # noqa: E402
master, slave = pty.openpty()
p = subprocess.Popen([lib.AGENTID, "wait", "--kind", "code", "--from",
                      "Acme", "--timeout", "20"], env=d.env(alice),
                     stdout=subprocess.PIPE, stderr=slave)
os.close(slave)
lib.on_exit(lambda: p.poll() is None and p.kill())
seen = b""
deadline = time.time() + 10
while b"left" not in seen and time.time() < deadline:
    if select.select([master], [], [], 0.5)[0]:
        try:
            seen += os.read(master, 4096)
        except OSError:
            break
d.cli("inject", "alice", "--from", "Acme", "--text", "Code: 771204")
out, _ = p.communicate(timeout=30)
try:
    while select.select([master], [], [], 0.2)[0]:
        chunk = os.read(master, 4096)
        if not chunk:
            break
        seen += chunk
except OSError:
    pass
os.close(master)
t.check(b'waiting for a code from "Acme"' in seen and b"s left" in seen,
        "wait on a terminal shows what it waits for and a countdown",
        seen[-200:])
t.check(p.returncode == 0 and out.decode() == "771204\n",
        "wait on a terminal prints the bare value on stdout", out)
t.check(b"771204" not in seen, "the code is not written to stderr")

big = "x" * (70 * 1024)
r = d.cli("inject", "alice", "--text", big)
t.check(r.returncode == 64 and "too large" in r.stderr,
        "inject of a message over the line limit exits 64", r.stderr)
r = d.cli("inject", "alice", input="Your code is 300200\n")
t.check(r.returncode == 0 and "1 codes" in r.stdout,
        "inject reads the message from stdin", r.stdout + r.stderr)
t.eq(d.cli("audit", "--verify").returncode, 0, "audit --verify exits 0")
r = d.cli("status")
t.check(r.returncode == 0 and re.search(r"^agents\s+2$", r.stdout, re.M),
        "status prints for people", r.stdout)
t.eq(d.cli("revoke", "alice").returncode, 0, "revoke exits 0")
t.eq(d.cli("whoami", token=alice).returncode, 77,
     "a revoked token exits 77")
d.stop()

# --- extract ----------------------------------------------------------------


def extract(text, *args):
    r = run("extract", *args, input=text)
    try:
        out = json.loads(r.stdout) if r.stdout.strip() else None
    except ValueError:
        out = None
    return r, out


def shape_ok(out):
    if not isinstance(out, dict) or sorted(out) != ["codes", "links"]:
        return False
    return all(sorted(c) == ["confidence", "origin", "rule", "value"]
               for c in out["codes"]) and \
        all(sorted(l) == ["confidence", "rule", "url"] for l in out["links"])


r, out = extract("Your Acme verification code is 482913. "
                 "Do not share it.\n")
t.eq(r.returncode, 0, "extract: an SMS with a code exits 0")
t.check(shape_ok(out), "extract: output has exactly the documented keys",
        r.stdout[:300])
t.check(out and out["codes"] and out["codes"][0]["value"] == "482913",
        "extract: finds the SMS code", r.stdout[:300])
t.check(r.stdout.count("\n") == 1, "extract: prints one line")

r, out = extract("See you at the meeting tomorrow!\n")
t.eq(r.returncode, 1, "extract: nothing found exits 1")
t.check(out == {"codes": [], "links": []}, "extract: empty result printed",
        r.stdout[:300])

r, out = extract("123456 is your login code for @example.com #123456\n",
                 "--sms")
t.check(r.returncode == 0 and out and out["codes"] and
        out["codes"][0]["value"] == "123456",
        "extract --sms: WebOTP-style message", r.stdout[:300])

mail = ("From: Example <no-reply@example.com>\r\n"
        "To: agent@agents.test\r\n"
        "Subject: Confirm your account\r\n"
        "Message-ID: <1@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Welcome! Confirm your email address:\r\n"
        "https://example.com/confirm?token=Zx81kq2\r\n")
r, out = extract(mail)
t.eq(r.returncode, 0, "extract: an email with a link exits 0 (auto-detect)")
t.check(out and any(l["url"] == "https://example.com/confirm?token=Zx81kq2"
                    for l in out["links"]),
        "extract: finds the confirmation link", r.stdout[:300] +
        r.stderr[:300])
r2, out2 = extract(mail, "--email")
t.check(r2.returncode == 0 and out2 == out,
        "extract --email gives the same result", r2.stdout[:300])

path = os.path.join(tmp, "sms.txt")
with open(path, "w") as f:
    f.write("Your code: 7731-0042\n")
r = run("extract", "--sms", path)
t.check(r.returncode in (0, 1) and r.stdout.startswith('{"codes":'),
        "extract reads FILE", r.stdout[:200] + r.stderr[:200])
r = run("extract", os.path.join(tmp, "nope.txt"))
t.eq(r.returncode, 64, "extract of a missing FILE exits 64")

# --- the other man pages ------------------------------------------------------
man8 = roff_text(os.path.join(MAN, "agentidd.8"))
if os.path.exists(lib.AGENTIDD):
    r = subprocess.run([lib.AGENTIDD, "-h"], capture_output=True,
                       text=True, timeout=10)
    flags = set(re.findall(r"^\s+(-[a-z])\b", r.stdout, re.M))
    t.check(len(flags) >= 4, "agentidd -h lists its options", r.stdout)
else:
    flags = set()
    t.check(False, "agentidd binary exists", lib.AGENTIDD)
for f in sorted(flags | {"-c", "-n", "-f", "-h"}):
    t.check(re.search(r"^\.BI? %s\b" % re.escape(f), man8, re.M),
            "agentidd.8 documents " + f)
t.check("configuration OK" in man8, "agentidd.8 says what -n prints")
for sig in ("SIGTERM", "SIGHUP"):
    t.check(sig in man8, "agentidd.8 documents " + sig)

man5 = roff_text(os.path.join(MAN, "agentidd.conf.5"))
with open(os.path.join(lib.ROOT, "common", "config.c")) as f:
    keys = re.findall(r'^\s*\{ "([a-z]+)", "([a-z_]+)", K_', f.read(), re.M)
t.check(len(keys) > 30, "config keys found in common/config.c", len(keys))
conf_sections = {m.group(1): m.group(2) for m in
                 re.finditer(r"^\.SH \[([a-z]+)\]\n((?:(?!^\.SH ).*\n)*)",
                             man5, re.M)}
for sec, key in keys:
    body = conf_sections.get(sec, "")
    t.check(re.search(r"^\.B %s$" % key, body, re.M),
            "agentidd.conf.5 documents [%s] %s" % (sec, key))

# --- bash completion knows the verbs ------------------------------------------
comp = os.path.join(lib.ROOT, "contrib", "agentid.bash")
with open(comp) as f:
    ctext = f.read()
for v in help_verbs:
    t.check(re.search(r"\b%s\b" % v, ctext),
            "bash completion knows verb " + v)
r = subprocess.run(["bash", "-c", "source %s && complete -p agentid" % comp],
                   capture_output=True, text=True, timeout=10)
t.check(r.returncode == 0 and "agentid" in r.stdout,
        "bash completion loads", r.stderr[:200])

t.done()
