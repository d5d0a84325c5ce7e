# bash completion for vigilctl: verbs, options, and the services of the
# status file of the run directory (-r DIR, else $VIGILD_RUN_DIR, else
# /run/vigild).

# The names are matched here, never handed to compgen -W (which expands
# $(...) and backquotes in its words) nor split unquoted (which would glob
# them): a status file is read as it is. Only a regular file is read, and
# only its first 64 KiB, so a FIFO or a device there cannot hang the shell.
_vigilctl_services() {
    local dir=$1 cur=$2 name _
    [[ -f $dir/status && -r $dir/status ]] || return
    while read -r name _; do
        [[ $name == "$cur"* ]] && COMPREPLY+=("$name")
    done < <(head -c 65536 -- "$dir/status")
}

_vigilctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local dir=${VIGILD_RUN_DIR:-/run/vigild} verb= at=0 i
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -r) dir=${COMP_WORDS[i + 1]}; ((i++)) ;;
            -*) ;;
            *) verb=${COMP_WORDS[i]}; at=$i; break ;;
        esac
    done
    if [[ $prev == -r ]]; then
        # -r takes an absolute path.
        [[ $cur == /* ]] || cur=/$cur
        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
        return
    fi
    # The word's place after the verb (1: the first argument).
    local n=$((COMP_CWORD - at))
    case $verb in
        '')
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W '-r -h --help -V --version' -- "$cur"))
            else
                COMPREPLY=($(compgen -W 'start stop restart signal reload shutdown poweroff
                    reboot halt list status wait monitor log reexec switch_root' -- "$cur"))
            fi
            ;;
        start | stop | restart) _vigilctl_services "$dir" "$cur" ;;
        reexec) ((n == 1)) && mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
        switch_root) ((n == 1)) && mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
        log) ((n == 1)) && _vigilctl_services "$dir" "$cur" ;;
        list) ((n == 1)) && COMPREPLY=($(compgen -W '--json' -- "$cur")) ;;
        status)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W '--raw --json' -- "$cur"))
            else
                _vigilctl_services "$dir" "$cur"
            fi
            ;;
        signal)
            case $n in
                1) _vigilctl_services "$dir" "$cur" ;;
                2) COMPREPLY=($(compgen -W 'HUP INT QUIT KILL USR1 USR2 ALRM TERM CONT STOP' -- "$cur")) ;;
            esac
            ;;
        wait)
            case $n in
                1) COMPREPLY=($(compgen -W 'up down' -- "$cur")) ;;
                2) _vigilctl_services "$dir" "$cur" ;;
            esac
            ;;
    esac
}

complete -F _vigilctl vigilctl
