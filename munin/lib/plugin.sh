# -*- sh -*-
# Watchpost's stand-in for munin's plugin.sh: the shell helpers that stock
# munin plugins source from $MUNIN_LIBDIR/plugins/plugin.sh, written for
# hosts where munin itself is not installed. Same function names, same
# output, POSIX sh plus "local" (dash, bash, busybox).

# clean_fieldname NAME: a field name munin accepts (no dots, no leading
# digit, never "root").
clean_fieldname () {
    echo "$@" | sed -e 's/^[^A-Za-z_]/_/' -e 's/[^A-Za-z0-9_]/_/g' -e 's/^root$/__root/'
}

# _wp_threshold KIND FIELD [VAR]: the value of $VAR, else $FIELD_KIND,
# else $KIND, the first that is set and not empty.
_wp_threshold () {
    if [ -n "${3:-}" ]; then
        eval "_wp_t=\${$3:-}"
        if [ -n "$_wp_t" ]; then echo "$_wp_t"; return; fi
    fi
    eval "_wp_t=\${${2}_${1}:-}"
    if [ -n "$_wp_t" ]; then echo "$_wp_t"; return; fi
    eval "_wp_t=\${${1}:-}"
    if [ -n "$_wp_t" ]; then echo "$_wp_t"; fi
}

get_warning () { _wp_threshold warning "$1" "${2:-}"; }
get_critical () { _wp_threshold critical "$1" "${2:-}"; }

print_warning () {
    _wp_o=$(get_warning "$@")
    if [ -n "$_wp_o" ]; then echo "${1}.warning ${_wp_o}"; fi
}

print_critical () {
    _wp_o=$(get_critical "$@")
    if [ -n "$_wp_o" ]; then echo "${1}.critical ${_wp_o}"; fi
}

# adjust_threshold RANGE TOTAL: "10%:90%" of TOTAL in absolute numbers.
adjust_threshold () {
    if [ -n "$1" ] && [ -n "$2" ]; then
        echo "$1" | awk -v total="$2" 'BEGIN { FS = ":"; OFS = ":" }
            $1 ~ /%$/ { $1 = total * substr($1, 1, length($1) - 1) / 100 }
            $2 ~ /%$/ { $2 = total * substr($2, 1, length($2) - 1) / 100 }
            { print }'
    fi
}

print_thresholds () {
    print_warning "$1" "${2:-}"
    print_critical "$1" "${3:-}"
}

print_adjusted_thresholds () {
    _wp_t=$(get_warning "$1" "${3:-}")
    if [ -n "$_wp_t" ]; then echo "$1.warning $(adjust_threshold "$_wp_t" "$2")"; fi
    _wp_t=$(get_critical "$1" "${4:-}")
    if [ -n "$_wp_t" ]; then echo "$1.critical $(adjust_threshold "$_wp_t" "$2")"; fi
    unset _wp_t
}

# is_multigraph [ARG]: returns when the node runs multigraph plugins
# (always, under Watchpost); otherwise answers for the plugin and exits.
is_multigraph () {
    case "${MUNIN_CAP_MULTIGRAPH:-0}:${1:-}" in
    1:*) return ;;
    *:autoconf) echo 'no (no multigraph support)'; exit 0 ;;
    *:config)
        echo 'graph_title This plugin needs multigraph support'
        echo 'multigraph.label No multigraph here'
        echo 'multigraph.info This plugin needs a node that runs multigraph plugins.'
        exit 0 ;;
    *:) echo 'multigraph.value 0'; exit 0 ;;
    esac
}

# is_dirtyconfig: exits 1 when the master accepts values with the config
# (the caller's "|| exit 0" idiom then prints them), 0 otherwise.
is_dirtyconfig () {
    case "${MUNIN_CAP_DIRTYCONFIG:-0}" in
    1) exit 1 ;;
    *) exit 0 ;;
    esac
}
