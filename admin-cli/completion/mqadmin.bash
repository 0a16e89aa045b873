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
    # Split at spaces only: bash's own words break "--output=json" and URLs
    # at '=' and ':'.
    local line=${COMP_LINE:0:COMP_POINT}
    local -a words out
    read -ra words <<<"$line"
    [[ -z $line || $line == *[[:space:]] ]] && words+=("")
    local cur=${words[${#words[@]} - 1]}
    local prog=${words[0]/#\~/$HOME}
    local IFS=$'\n'
    out=($("$prog" __complete "${words[@]:1}" 2>/dev/null))
    if [[ ${out[0]} == ":files" ]]; then
        [[ $cur == --*=* ]] && cur=${cur#*=}
        COMPREPLY=($(compgen -f -- "$cur"))
        compopt -o filenames 2>/dev/null
        return 0
    fi
    # bash replaces only the part of the word after its last '=' or ':'
    local typed=${cur%"${cur##*[=:]}"}
    COMPREPLY=("${out[@]#"$typed"}")
    # "retention.ms=" wants its value right after the '='
    if [[ ${#COMPREPLY[@]} -eq 1 && ${out[0]} == *= ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -F _mqadmin mqadmin
