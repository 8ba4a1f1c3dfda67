#!/bin/sh
# Sign-up loop with `agentid wait`: ask the site for a code, wait for it,
# and ask again (at most three times) when none arrives.
#
#   export AGENTID_TOKEN=aid_...       # from `agentid provision`
#   examples/wait.sh
#
# request_code and submit_code stand for your agent's own steps (a
# browser action, an HTTP call); replace them.  Exit codes of agentid wait:
# 0 got it, 1 nothing in time, 69 no daemon, 77 bad or revoked token.

set -u

request_code() {
	echo "(asking the site to send a code to $1)" >&2
}

submit_code() {
	# The code is passed on standard input, not as an argument, so it
	# does not show in the process list.
	read -r code
	echo "(typing the ${#code}-character code into the site)" >&2
}

# Where should the site send it?  whoami prints "agent", "email", "phone".
phone=$(agentid whoami | awk '$1 == "phone" { print $2 }') || exit
[ -n "$phone" ] && [ "$phone" != "-" ] || phone="(no phone number)"

for attempt in 1 2 3; do
	# Only what arrives from now on counts: an older code is stale.
	since=$(date +%s)
	request_code "$phone"
	code=$(agentid wait --kind code --channel sms --since "$since" \
	    --timeout 120)
	rc=$?
	case $rc in
	0)
		printf '%s\n' "$code" | submit_code
		exit 0 ;;
	1)
		echo "no code after attempt $attempt; asking again" >&2 ;;
	*)
		echo "agentid wait failed with exit code $rc" >&2
		exit "$rc" ;;
	esac
done
echo "the site never sent a code" >&2
exit 1
