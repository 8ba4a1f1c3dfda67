#!/bin/bash
# make install PREFIX=... DESTDIR=... puts every file where the man pages
# and the systemd unit say, and the installed binaries run.
set -u
B=${B:-build}
BIN=${BIN:-bin}
dest=$(mktemp -d /tmp/agentid-install-XXXXXX)
trap 'rm -rf "$dest"' EXIT
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }
check() { if eval "$2"; then pass "$1"; else fail "$1" "$2"; fi; }

out=$(make -s --no-print-directory install B="$B" BIN="$BIN" \
    PREFIX=/usr DESTDIR="$dest" 2>&1)
rc=$?
check "make install succeeds" '[ $rc -eq 0 ] || { echo "$out"; false; }'
p=$dest/usr
check "agentidd installed 0755" '[ "$(stat -c %a $p/bin/agentidd)" = 755 ]'
check "agentid installed 0755" '[ "$(stat -c %a $p/bin/agentid)" = 755 ]'
for m in man1/agentid.1 man5/agentidd.conf.5 man8/agentidd.8; do
	check "man page $m installed" "[ -s $p/share/man/$m ]"
done
check "systemd unit installed" "[ -s $p/lib/systemd/system/agentidd.service ]"
check "example config installed" "[ -s $p/share/doc/agentid/agentidd.conf ]"
check "bash completion installed" \
    "[ -s $p/share/bash-completion/completions/agentid ]"
check "installed agentidd runs" "$p/bin/agentidd -h | grep -q usage"
check "installed agentid runs" "$p/bin/agentid --help | grep -q provision"
check "the unit starts the installed binary" \
    "grep -q '^ExecStart=.*agentidd' $p/lib/systemd/system/agentidd.service"
cfg=$(mktemp -d /tmp/agentid-cfg-XXXXXX)
sed "s|/var/lib/agentid|$cfg/state|" "$p/share/doc/agentid/agentidd.conf" \
    > "$cfg/agentidd.conf"
check "the example config passes agentidd -n" \
    "$p/bin/agentidd -n -c $cfg/agentidd.conf | grep -q 'configuration OK'"
rm -rf "$cfg"
check "man pages render without warnings" \
    "! man --warnings -l $p/share/man/man1/agentid.1 2>&1 >/dev/null | grep -q ."
