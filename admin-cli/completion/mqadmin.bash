# bash completion for mqadmin.
#
#   source admin-cli/completion/mqadmin.bash        # this shell
#   cp admin-cli/completion/mqadmin.bash \
#      /usr/share/bash-completion/completions/mqadmin   # everyone
#
# The candidates come from mqadmin itself (`mqadmin __complete WORD...`), so
# they always match the installed binary: commands, options, option values,
# and topic names read from the broker (--url or MQ_ADMIN_URL, 2 s timeout).
_mqadmin()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local IFS=$'\n'
    local -a out
    out=($("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
    if [[ ${out[0]} == ":files" ]]; then
        [[ $cur == "=" ]] && cur=""
        COMPREPLY=($(compgen -f -- "$cur"))
        compopt -o filenames 2>/dev/null
        return 0
    fi
    COMPREPLY=("${out[@]}")
    # "retention.ms=" wants its value right after the '='
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -F _mqadmin mqadmin
