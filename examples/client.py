#!/usr/bin/env python3
"""A complete agentid agent client with the Python standard library only.

It says hello on the agent socket with the agent's token, prints the email
address and phone number the agent owns, then waits for the newest code (or
link) that matches and prints it.  The protocol is newline-delimited JSON,
one request and one response per line (docs/protocol.md).

    export AGENTID_TOKEN=aid_...            # from `agentid provision`
    python3 examples/client.py --kind code --from github --timeout 120

Exit codes follow agentid(1): 0 got it, 1 nothing arrived in time,
69 daemon unreachable, 76 protocol error, 77 unauthorized or revoked.
"""

import argparse
import json
import os
import socket
import sys

EXIT = {"timeout": 1, "pending_approval": 1, "provider_filtered": 1,
        "unauthorized": 77, "revoked": 77, "busy": 69}


class AgentSocket:
    """One connection to agentidd's agent socket."""

    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def call(self, request):
        self.sock.sendall((json.dumps(request) + "\n").encode())
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the daemon closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def close(self):
        self.sock.close()


def fail(resp):
    print("client.py: %s: %s" % (resp.get("error"), resp.get("message")),
          file=sys.stderr)
    sys.exit(EXIT.get(resp.get("error"), 76))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--socket", default=os.environ.get(
        "AGENTID_SOCKET", "/run/agentid/agent.sock"))
    ap.add_argument("--kind", choices=("code", "link", "any"),
                    default="code")
    ap.add_argument("--channel", choices=("sms", "email", "any"),
                    default="any")
    ap.add_argument("--from", dest="sender", help="sender contains this")
    ap.add_argument("--origin", help="domain the code or link is for")
    ap.add_argument("--timeout", type=int, default=60)
    args = ap.parse_args()

    # The token comes from the environment, never from the command line
    # (every user can read a process's command line).
    token = os.environ.get("AGENTID_TOKEN")
    if not token:
        print("client.py: set AGENTID_TOKEN", file=sys.stderr)
        sys.exit(64)

    try:
        conn = AgentSocket(args.socket, args.timeout + 15)
    except OSError as e:
        print("client.py: %s: %s" % (args.socket, e), file=sys.stderr)
        sys.exit(69)
    try:
        # hello binds this connection to the agent; later requests on it
        # need no token.
        me = conn.call({"op": "hello", "token": token, "v": 1})
        if not me.get("ok"):
            fail(me)
        print("agent %s: email %s, phone %s" % (
            me["agent"], me.get("email") or "-", me.get("phone") or "-"),
            file=sys.stderr)

        # Now is the moment to make the site send its code.
        req = {"op": "wait", "kind": args.kind, "channel": args.channel,
               "timeout": args.timeout}
        if args.sender:
            req["from"] = args.sender
        if args.origin:
            req["origin"] = args.origin
        resp = conn.call(req)
        if not resp.get("ok"):
            fail(resp)
        secret = resp["secret"]
        print("%s from %s (%s)" % (secret["kind"], secret["from"],
                                   secret["channel"]), file=sys.stderr)
        print(secret["value"])
    except (OSError, ValueError, KeyError) as e:
        print("client.py: protocol error: %s" % e, file=sys.stderr)
        sys.exit(76)
    finally:
        conn.close()


if __name__ == "__main__":
    main()
