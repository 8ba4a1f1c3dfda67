# bash completion for agentid(1).  Install as
# /usr/share/bash-completion/completions/agentid (make install does).
# Verbs and options follow "agentid --help" and agentid(1).

_agentid()
{
	local cur prev verb i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}

	local verbs="provision list show revoke token audit approve deny
	    status inject whoami wait mcp extract help"
	local common="--socket --json --help"

	# The verb is the first word that is not an option or its value.
	verb=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--socket|--token-file) ((i++)) ;;
		-*) ;;
		*) verb=${COMP_WORDS[i]}; break ;;
		esac
	done

	# Values of options.
	case $prev in
	--socket|--token-file)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--kind)
		COMPREPLY=($(compgen -W "code link any" -- "$cur")); return ;;
	--channel)
		if [ "$verb" = inject ]; then
			COMPREPLY=($(compgen -W "sms email" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "sms email any" -- "$cur"))
		fi
		return ;;
	--uid)
		COMPREPLY=($(compgen -u -- "$cur")); return ;;
	--since)
		COMPREPLY=($(compgen -W "now 5m 10m 1h" -- "$cur")); return ;;
	--timeout)
		COMPREPLY=($(compgen -W "30 60 120 300" -- "$cur")); return ;;
	--from|--origin|--subject|--text|--agent)
		return ;;
	esac

	if [ -z "$verb" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$common --token-file" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
		fi
		return
	fi

	local opts=
	case $verb in
	provision) opts="--email --phone --uid" ;;
	token) opts="--rotate" ;;
	audit) opts="--agent --verify" ;;
	inject) opts="--channel --from --subject --text" ;;
	whoami|mcp) opts="--token-file" ;;
	wait) opts="--kind --channel --from --origin --since --timeout
	    --token-file" ;;
	extract) opts="--sms --email" ;;
	help)
		COMPREPLY=($(compgen -W "$verbs" -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts $common" -- "$cur"))
	elif [ "$verb" = extract ] || [ "$verb" = inject ]; then
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _agentid agentid
