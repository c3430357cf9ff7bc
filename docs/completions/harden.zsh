#compdef harden

autoload -U is-at-least

_harden() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_harden_commands" \
"*::: :->harden" \
&& ret=0
    case $state in
    (harden)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:harden-command-$line[1]:"
        case $line[1] in
            (plan)
_arguments "${_arguments_options[@]}" : \
'*-p+[Playbook file, or the name of an embedded one (baseline); repeatable. Default\: the embedded baseline]:PLAYBOOK:_default' \
'*--playbook=[Playbook file, or the name of an embedded one (baseline); repeatable. Default\: the embedded baseline]:PLAYBOOK:_default' \
'--format=[Output format]:FORMAT:(human json)' \
'*--tags=[Only tasks with one of these tags (or rule ids)]:TAG:_default' \
'*--skip-tags=[Skip tasks with one of these tags (or rule ids)]:TAG:_default' \
'*-e+[Set a playbook variable (overrides the playbook'\''s \`vars\`)]:KEY=VALUE:_default' \
'*--extra-var=[Set a playbook variable (overrides the playbook'\''s \`vars\`)]:KEY=VALUE:_default' \
'-o+[Also save the plan, with hashes of everything it observed and the content to write, to FILE (0600) for \`harden apply FILE\`]:FILE:_files' \
'--out=[Also save the plan, with hashes of everything it observed and the content to write, to FILE (0600) for \`harden apply FILE\`]:FILE:_files' \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'--detailed-exitcode[Exit 2 when there are changes (0 when none)]' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(apply)
_arguments "${_arguments_options[@]}" : \
'*-p+[Playbook file, or the name of an embedded one (baseline); repeatable. Default\: the embedded baseline]:PLAYBOOK:_default' \
'*--playbook=[Playbook file, or the name of an embedded one (baseline); repeatable. Default\: the embedded baseline]:PLAYBOOK:_default' \
'--format=[Output format]:FORMAT:(human json)' \
'*--tags=[Only tasks with one of these tags (or rule ids)]:TAG:_default' \
'*--skip-tags=[Skip tasks with one of these tags (or rule ids)]:TAG:_default' \
'*-e+[Set a playbook variable (overrides the playbook'\''s \`vars\`)]:KEY=VALUE:_default' \
'*--extra-var=[Set a playbook variable (overrides the playbook'\''s \`vars\`)]:KEY=VALUE:_default' \
'--confirm-within=[Roll the transaction back automatically unless \`harden confirm\` runs within SECONDS after it is committed. A watchdog process, detached from this session, does it\: the way to harden a remote host safely]:SECONDS:_default' \
'--keep-reports=[Keep the newest N run reports in STATE/reports (older ones are deleted)]:N:_default' \
'--metrics-file=[Write Prometheus text-format metrics of this run to PATH (atomically), for \`node_exporter\`'\''s textfile collector. A host path, not under --root]:PATH:_files' \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'-y[Do not ask for confirmation]' \
'--yes[Do not ask for confirmation]' \
'--strict[All or nothing\: when any rule fails (cannot be planned, or a validator rejects its candidate), apply nothing (exit 1) instead of the rest]' \
'--i-accept-lockout-risk[Apply even though an anti-lockout guard refuses the plan. You may lose access to this host]' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
'::plan_file -- A plan saved by `harden plan -o`\: apply exactly it, or refuse (exit 1, nothing changed) if anything it observed changed since:_files' \
&& ret=0
;;
(confirm)
_arguments "${_arguments_options[@]}" : \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(watchdog)
_arguments "${_arguments_options[@]}" : \
'--txn=[]:TXN:_default' \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(check)
_arguments "${_arguments_options[@]}" : \
'*-p+[Playbook file, or the name of an embedded one (baseline); repeatable. Default\: the embedded baseline]:PLAYBOOK:_default' \
'*--playbook=[Playbook file, or the name of an embedded one (baseline); repeatable. Default\: the embedded baseline]:PLAYBOOK:_default' \
'--format=[Output format]:FORMAT:(human json)' \
'*--tags=[Only tasks with one of these tags (or rule ids)]:TAG:_default' \
'*--skip-tags=[Skip tasks with one of these tags (or rule ids)]:TAG:_default' \
'*-e+[Set a playbook variable (overrides the playbook'\''s \`vars\`)]:KEY=VALUE:_default' \
'*--extra-var=[Set a playbook variable (overrides the playbook'\''s \`vars\`)]:KEY=VALUE:_default' \
'--keep-reports=[Keep the newest N run reports in STATE/reports (older ones are deleted)]:N:_default' \
'--metrics-file=[Write Prometheus text-format metrics of this run to PATH (atomically), for \`node_exporter\`'\''s textfile collector. A host path, not under --root]:PATH:_files' \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(rollback)
_arguments "${_arguments_options[@]}" : \
'--keep-reports=[Keep the newest N run reports in STATE/reports (older ones are deleted)]:N:_default' \
'--metrics-file=[Write Prometheus text-format metrics of this run to PATH (atomically), for \`node_exporter\`'\''s textfile collector. A host path, not under --root]:PATH:_files' \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'--dry-run[Print what would be restored (paths, kernel parameters, packages) and write nothing]' \
'(--dry-run)-y[Do not ask for confirmation]' \
'(--dry-run)--yes[Do not ask for confirmation]' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
'::txn -- Transaction id (see `harden history`):_default' \
&& ret=0
;;
(history)
_arguments "${_arguments_options[@]}" : \
'--format=[]:FORMAT:(human json)' \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'--runs[List run reports (STATE/reports) instead of transactions]' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(timer)
_arguments "${_arguments_options[@]}" : \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
":: :_harden__subcmd__timer_commands" \
"*::: :->timer" \
&& ret=0

    case $state in
    (timer)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:harden-timer-command-$line[1]:"
        case $line[1] in
            (install)
_arguments "${_arguments_options[@]}" : \
'--every=[A systemd time span (\`1h\`, \`30min\`\: every so long after the last run) or a calendar event (\`hourly\`, \`daily\`, \`*-*-* 03\:00\`)]:WHEN:_default' \
'--mode=[\`check\` reports drift only; \`apply\` converges with every guard on]:MODE:((check\:"Report drift only (exit 2 on drift\: the unit shows as failed)"
apply\:"Converge, every guard on, never confirming anything itself"))' \
'*-p+[Playbook file (stored as an absolute path) or embedded name; repeatable. Default\: the embedded baseline]:PLAYBOOK:_default' \
'*--playbook=[Playbook file (stored as an absolute path) or embedded name; repeatable. Default\: the embedded baseline]:PLAYBOOK:_default' \
'--randomized-delay=[Random delay added to each run (\`RandomizedDelaySec\`)]:SPAN:_default' \
'--binary=[The harden binary the service runs, as a path inside the root \[default\: this binary; under another --root it must exist there too\]]:PATH-IN-ROOT:_files' \
'--metrics-file=[Let each run write Prometheus metrics to PATH]:PATH:_files' \
'--pull-git=[A git checkout (owned by root) holding the playbooks\: each run first pulls it (\`git pull --ff-only\`); a failed pull still runs harden on the checkout as it is]:DIR:_files' \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'-y[Do not ask for confirmation]' \
'--yes[Do not ask for confirmation]' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'-y[Do not ask for confirmation]' \
'--yes[Do not ask for confirmation]' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_harden__subcmd__timer__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:harden-timer-help-command-$line[1]:"
        case $line[1] in
            (install)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
':shell:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(modules)
_arguments "${_arguments_options[@]}" : \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'--markdown[Print the playbook reference (Markdown) generated from the module specs]' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(schema)
_arguments "${_arguments_options[@]}" : \
'--root=[Root of the system to harden (an offline image or a temp tree); \`/\` is the running system]:DIR:_files' \
'--state-dir=[State directory (lock, journal, snapshots) \[default\: ROOT/var/lib/harden\]]:DIR:_files' \
'*-v[More log output on stderr (repeat for more)]' \
'*--verbose[More log output on stderr (repeat for more)]' \
'(-v --verbose)-q[Only errors on stderr]' \
'(-v --verbose)--quiet[Only errors on stderr]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_harden__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:harden-help-command-$line[1]:"
        case $line[1] in
            (plan)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(apply)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(confirm)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(watchdog)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(rollback)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(history)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(timer)
_arguments "${_arguments_options[@]}" : \
":: :_harden__subcmd__help__subcmd__timer_commands" \
"*::: :->timer" \
&& ret=0

    case $state in
    (timer)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:harden-help-timer-command-$line[1]:"
        case $line[1] in
            (install)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(modules)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(schema)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_harden_commands] )) ||
_harden_commands() {
    local commands; commands=(
'plan:Show what would change. Writes nothing on the host; \`-o FILE\` writes only that file' \
'apply:Apply the plan as one transaction (snapshot, validate, write, reload, verify)' \
'confirm:Keep the transaction applied with \`--confirm-within\` (stops its watchdog)' \
'watchdog:The confirm-or-revert watchdog (started by \`apply --confirm-within\`)' \
'check:Quiet plan for monitoring\: exit 0 when compliant, 2 on drift. Writes a run report in the state directory (and metrics when asked), nothing else' \
'rollback:Restore the snapshot of a transaction (the last one by default). Shows what it restores and asks first, like \`apply\`' \
'history:List transactions\: time, playbook, number of changes, result. With \`--runs\`\: the run reports (check, apply, rollback) instead' \
'timer:Scheduled convergence\: a systemd timer running \`harden check\` or \`apply\`' \
'completions:Print a shell completion script' \
'man:Print the man page (roff)' \
'modules:List the module catalogue' \
'schema:Print the JSON Schema of playbooks' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'harden commands' commands "$@"
}
(( $+functions[_harden__subcmd__apply_commands] )) ||
_harden__subcmd__apply_commands() {
    local commands; commands=()
    _describe -t commands 'harden apply commands' commands "$@"
}
(( $+functions[_harden__subcmd__check_commands] )) ||
_harden__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'harden check commands' commands "$@"
}
(( $+functions[_harden__subcmd__completions_commands] )) ||
_harden__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'harden completions commands' commands "$@"
}
(( $+functions[_harden__subcmd__confirm_commands] )) ||
_harden__subcmd__confirm_commands() {
    local commands; commands=()
    _describe -t commands 'harden confirm commands' commands "$@"
}
(( $+functions[_harden__subcmd__help_commands] )) ||
_harden__subcmd__help_commands() {
    local commands; commands=(
'plan:Show what would change. Writes nothing on the host; \`-o FILE\` writes only that file' \
'apply:Apply the plan as one transaction (snapshot, validate, write, reload, verify)' \
'confirm:Keep the transaction applied with \`--confirm-within\` (stops its watchdog)' \
'watchdog:The confirm-or-revert watchdog (started by \`apply --confirm-within\`)' \
'check:Quiet plan for monitoring\: exit 0 when compliant, 2 on drift. Writes a run report in the state directory (and metrics when asked), nothing else' \
'rollback:Restore the snapshot of a transaction (the last one by default). Shows what it restores and asks first, like \`apply\`' \
'history:List transactions\: time, playbook, number of changes, result. With \`--runs\`\: the run reports (check, apply, rollback) instead' \
'timer:Scheduled convergence\: a systemd timer running \`harden check\` or \`apply\`' \
'completions:Print a shell completion script' \
'man:Print the man page (roff)' \
'modules:List the module catalogue' \
'schema:Print the JSON Schema of playbooks' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'harden help commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__apply_commands] )) ||
_harden__subcmd__help__subcmd__apply_commands() {
    local commands; commands=()
    _describe -t commands 'harden help apply commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__check_commands] )) ||
_harden__subcmd__help__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'harden help check commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__completions_commands] )) ||
_harden__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'harden help completions commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__confirm_commands] )) ||
_harden__subcmd__help__subcmd__confirm_commands() {
    local commands; commands=()
    _describe -t commands 'harden help confirm commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__help_commands] )) ||
_harden__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'harden help help commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__history_commands] )) ||
_harden__subcmd__help__subcmd__history_commands() {
    local commands; commands=()
    _describe -t commands 'harden help history commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__man_commands] )) ||
_harden__subcmd__help__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'harden help man commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__modules_commands] )) ||
_harden__subcmd__help__subcmd__modules_commands() {
    local commands; commands=()
    _describe -t commands 'harden help modules commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__plan_commands] )) ||
_harden__subcmd__help__subcmd__plan_commands() {
    local commands; commands=()
    _describe -t commands 'harden help plan commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__rollback_commands] )) ||
_harden__subcmd__help__subcmd__rollback_commands() {
    local commands; commands=()
    _describe -t commands 'harden help rollback commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__schema_commands] )) ||
_harden__subcmd__help__subcmd__schema_commands() {
    local commands; commands=()
    _describe -t commands 'harden help schema commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__timer_commands] )) ||
_harden__subcmd__help__subcmd__timer_commands() {
    local commands; commands=(
'install:Write harden.service and harden.timer under ROOT/etc/systemd/system (one transaction), then enable the timer where systemd runs' \
'remove:Disable the timer (where systemd runs) and delete both units and the enable link (one transaction)' \
'status:Show the installed units, their schedule and the last run' \
    )
    _describe -t commands 'harden help timer commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__timer__subcmd__install_commands] )) ||
_harden__subcmd__help__subcmd__timer__subcmd__install_commands() {
    local commands; commands=()
    _describe -t commands 'harden help timer install commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__timer__subcmd__remove_commands] )) ||
_harden__subcmd__help__subcmd__timer__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'harden help timer remove commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__timer__subcmd__status_commands] )) ||
_harden__subcmd__help__subcmd__timer__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'harden help timer status commands' commands "$@"
}
(( $+functions[_harden__subcmd__help__subcmd__watchdog_commands] )) ||
_harden__subcmd__help__subcmd__watchdog_commands() {
    local commands; commands=()
    _describe -t commands 'harden help watchdog commands' commands "$@"
}
(( $+functions[_harden__subcmd__history_commands] )) ||
_harden__subcmd__history_commands() {
    local commands; commands=()
    _describe -t commands 'harden history commands' commands "$@"
}
(( $+functions[_harden__subcmd__man_commands] )) ||
_harden__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'harden man commands' commands "$@"
}
(( $+functions[_harden__subcmd__modules_commands] )) ||
_harden__subcmd__modules_commands() {
    local commands; commands=()
    _describe -t commands 'harden modules commands' commands "$@"
}
(( $+functions[_harden__subcmd__plan_commands] )) ||
_harden__subcmd__plan_commands() {
    local commands; commands=()
    _describe -t commands 'harden plan commands' commands "$@"
}
(( $+functions[_harden__subcmd__rollback_commands] )) ||
_harden__subcmd__rollback_commands() {
    local commands; commands=()
    _describe -t commands 'harden rollback commands' commands "$@"
}
(( $+functions[_harden__subcmd__schema_commands] )) ||
_harden__subcmd__schema_commands() {
    local commands; commands=()
    _describe -t commands 'harden schema commands' commands "$@"
}
(( $+functions[_harden__subcmd__timer_commands] )) ||
_harden__subcmd__timer_commands() {
    local commands; commands=(
'install:Write harden.service and harden.timer under ROOT/etc/systemd/system (one transaction), then enable the timer where systemd runs' \
'remove:Disable the timer (where systemd runs) and delete both units and the enable link (one transaction)' \
'status:Show the installed units, their schedule and the last run' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'harden timer commands' commands "$@"
}
(( $+functions[_harden__subcmd__timer__subcmd__help_commands] )) ||
_harden__subcmd__timer__subcmd__help_commands() {
    local commands; commands=(
'install:Write harden.service and harden.timer under ROOT/etc/systemd/system (one transaction), then enable the timer where systemd runs' \
'remove:Disable the timer (where systemd runs) and delete both units and the enable link (one transaction)' \
'status:Show the installed units, their schedule and the last run' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'harden timer help commands' commands "$@"
}
(( $+functions[_harden__subcmd__timer__subcmd__help__subcmd__help_commands] )) ||
_harden__subcmd__timer__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'harden timer help help commands' commands "$@"
}
(( $+functions[_harden__subcmd__timer__subcmd__help__subcmd__install_commands] )) ||
_harden__subcmd__timer__subcmd__help__subcmd__install_commands() {
    local commands; commands=()
    _describe -t commands 'harden timer help install commands' commands "$@"
}
(( $+functions[_harden__subcmd__timer__subcmd__help__subcmd__remove_commands] )) ||
_harden__subcmd__timer__subcmd__help__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'harden timer help remove commands' commands "$@"
}
(( $+functions[_harden__subcmd__timer__subcmd__help__subcmd__status_commands] )) ||
_harden__subcmd__timer__subcmd__help__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'harden timer help status commands' commands "$@"
}
(( $+functions[_harden__subcmd__timer__subcmd__install_commands] )) ||
_harden__subcmd__timer__subcmd__install_commands() {
    local commands; commands=()
    _describe -t commands 'harden timer install commands' commands "$@"
}
(( $+functions[_harden__subcmd__timer__subcmd__remove_commands] )) ||
_harden__subcmd__timer__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'harden timer remove commands' commands "$@"
}
(( $+functions[_harden__subcmd__timer__subcmd__status_commands] )) ||
_harden__subcmd__timer__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'harden timer status commands' commands "$@"
}
(( $+functions[_harden__subcmd__watchdog_commands] )) ||
_harden__subcmd__watchdog_commands() {
    local commands; commands=()
    _describe -t commands 'harden watchdog commands' commands "$@"
}

if [ "$funcstack[1]" = "_harden" ]; then
    _harden "$@"
else
    compdef _harden harden
fi
