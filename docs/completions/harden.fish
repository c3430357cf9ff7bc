# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_harden_global_optspecs
    string join \n v/verbose q/quiet root= state-dir= h/help V/version
end

function __fish_harden_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_harden_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_harden_using_subcommand
    set -l cmd (__fish_harden_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c harden -n "__fish_harden_needs_command" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_needs_command" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_needs_command" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_needs_command" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_needs_command" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_needs_command" -s V -l version -d 'Print version'
complete -c harden -n "__fish_harden_needs_command" -f -a "plan" -d 'Show what would change. Writes nothing on the host; `-o FILE` writes only that file'
complete -c harden -n "__fish_harden_needs_command" -f -a "apply" -d 'Apply the plan as one transaction (snapshot, validate, write, reload, verify)'
complete -c harden -n "__fish_harden_needs_command" -f -a "confirm" -d 'Keep the transaction applied with `--confirm-within` (stops its watchdog)'
complete -c harden -n "__fish_harden_needs_command" -f -a "watchdog" -d 'The confirm-or-revert watchdog (started by `apply --confirm-within`)'
complete -c harden -n "__fish_harden_needs_command" -f -a "check" -d 'Quiet plan for monitoring: exit 0 when compliant, 2 on drift. Writes a run report in the state directory (and metrics when asked), nothing else'
complete -c harden -n "__fish_harden_needs_command" -f -a "rollback" -d 'Restore the snapshot of a transaction (the last one by default). Shows what it restores and asks first, like `apply`'
complete -c harden -n "__fish_harden_needs_command" -f -a "history" -d 'List transactions: time, playbook, number of changes, result. With `--runs`: the run reports (check, apply, rollback) instead'
complete -c harden -n "__fish_harden_needs_command" -f -a "timer" -d 'Scheduled convergence: a systemd timer running `harden check` or `apply`'
complete -c harden -n "__fish_harden_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c harden -n "__fish_harden_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c harden -n "__fish_harden_needs_command" -f -a "modules" -d 'List the module catalogue'
complete -c harden -n "__fish_harden_needs_command" -f -a "schema" -d 'Print the JSON Schema of playbooks'
complete -c harden -n "__fish_harden_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c harden -n "__fish_harden_using_subcommand plan" -s p -l playbook -d 'Playbook file, or the name of an embedded one (baseline); repeatable. Default: the embedded baseline' -r
complete -c harden -n "__fish_harden_using_subcommand plan" -l format -d 'Output format' -r -f -a "human\t''
json\t''"
complete -c harden -n "__fish_harden_using_subcommand plan" -l tags -d 'Only tasks with one of these tags (or rule ids)' -r
complete -c harden -n "__fish_harden_using_subcommand plan" -l skip-tags -d 'Skip tasks with one of these tags (or rule ids)' -r
complete -c harden -n "__fish_harden_using_subcommand plan" -s e -l extra-var -d 'Set a playbook variable (overrides the playbook\'s `vars`)' -r
complete -c harden -n "__fish_harden_using_subcommand plan" -s o -l out -d 'Also save the plan, with hashes of everything it observed and the content to write, to FILE (0600) for `harden apply FILE`' -r -F
complete -c harden -n "__fish_harden_using_subcommand plan" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand plan" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand plan" -l detailed-exitcode -d 'Exit 2 when there are changes (0 when none)'
complete -c harden -n "__fish_harden_using_subcommand plan" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand plan" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand plan" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand apply" -s p -l playbook -d 'Playbook file, or the name of an embedded one (baseline); repeatable. Default: the embedded baseline' -r
complete -c harden -n "__fish_harden_using_subcommand apply" -l format -d 'Output format' -r -f -a "human\t''
json\t''"
complete -c harden -n "__fish_harden_using_subcommand apply" -l tags -d 'Only tasks with one of these tags (or rule ids)' -r
complete -c harden -n "__fish_harden_using_subcommand apply" -l skip-tags -d 'Skip tasks with one of these tags (or rule ids)' -r
complete -c harden -n "__fish_harden_using_subcommand apply" -s e -l extra-var -d 'Set a playbook variable (overrides the playbook\'s `vars`)' -r
complete -c harden -n "__fish_harden_using_subcommand apply" -l confirm-within -d 'Roll the transaction back automatically unless `harden confirm` runs within SECONDS after it is committed. A watchdog process, detached from this session, does it: the way to harden a remote host safely' -r
complete -c harden -n "__fish_harden_using_subcommand apply" -l keep-reports -d 'Keep the newest N run reports in STATE/reports (older ones are deleted)' -r
complete -c harden -n "__fish_harden_using_subcommand apply" -l metrics-file -d 'Write Prometheus text-format metrics of this run to PATH (atomically), for `node_exporter`\'s textfile collector. A host path, not under --root' -r -F
complete -c harden -n "__fish_harden_using_subcommand apply" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand apply" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand apply" -s y -l yes -d 'Do not ask for confirmation'
complete -c harden -n "__fish_harden_using_subcommand apply" -l strict -d 'All or nothing: when any rule fails (cannot be planned, or a validator rejects its candidate), apply nothing (exit 1) instead of the rest'
complete -c harden -n "__fish_harden_using_subcommand apply" -l i-accept-lockout-risk -d 'Apply even though an anti-lockout guard refuses the plan. You may lose access to this host'
complete -c harden -n "__fish_harden_using_subcommand apply" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand apply" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand apply" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand confirm" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand confirm" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand confirm" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand confirm" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand confirm" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand watchdog" -l txn -r
complete -c harden -n "__fish_harden_using_subcommand watchdog" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand watchdog" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand watchdog" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand watchdog" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand watchdog" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand check" -s p -l playbook -d 'Playbook file, or the name of an embedded one (baseline); repeatable. Default: the embedded baseline' -r
complete -c harden -n "__fish_harden_using_subcommand check" -l format -d 'Output format' -r -f -a "human\t''
json\t''"
complete -c harden -n "__fish_harden_using_subcommand check" -l tags -d 'Only tasks with one of these tags (or rule ids)' -r
complete -c harden -n "__fish_harden_using_subcommand check" -l skip-tags -d 'Skip tasks with one of these tags (or rule ids)' -r
complete -c harden -n "__fish_harden_using_subcommand check" -s e -l extra-var -d 'Set a playbook variable (overrides the playbook\'s `vars`)' -r
complete -c harden -n "__fish_harden_using_subcommand check" -l keep-reports -d 'Keep the newest N run reports in STATE/reports (older ones are deleted)' -r
complete -c harden -n "__fish_harden_using_subcommand check" -l metrics-file -d 'Write Prometheus text-format metrics of this run to PATH (atomically), for `node_exporter`\'s textfile collector. A host path, not under --root' -r -F
complete -c harden -n "__fish_harden_using_subcommand check" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand check" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand check" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand check" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand check" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand rollback" -l keep-reports -d 'Keep the newest N run reports in STATE/reports (older ones are deleted)' -r
complete -c harden -n "__fish_harden_using_subcommand rollback" -l metrics-file -d 'Write Prometheus text-format metrics of this run to PATH (atomically), for `node_exporter`\'s textfile collector. A host path, not under --root' -r -F
complete -c harden -n "__fish_harden_using_subcommand rollback" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand rollback" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand rollback" -l dry-run -d 'Print what would be restored (paths, kernel parameters, packages) and write nothing'
complete -c harden -n "__fish_harden_using_subcommand rollback" -s y -l yes -d 'Do not ask for confirmation'
complete -c harden -n "__fish_harden_using_subcommand rollback" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand rollback" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand history" -l format -r -f -a "human\t''
json\t''"
complete -c harden -n "__fish_harden_using_subcommand history" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand history" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand history" -l runs -d 'List run reports (STATE/reports) instead of transactions'
complete -c harden -n "__fish_harden_using_subcommand history" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand history" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand history" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand timer; and not __fish_seen_subcommand_from install remove status help" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand timer; and not __fish_seen_subcommand_from install remove status help" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand timer; and not __fish_seen_subcommand_from install remove status help" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand timer; and not __fish_seen_subcommand_from install remove status help" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand timer; and not __fish_seen_subcommand_from install remove status help" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand timer; and not __fish_seen_subcommand_from install remove status help" -f -a "install" -d 'Write harden.service and harden.timer under ROOT/etc/systemd/system (one transaction), then enable the timer where systemd runs'
complete -c harden -n "__fish_harden_using_subcommand timer; and not __fish_seen_subcommand_from install remove status help" -f -a "remove" -d 'Disable the timer (where systemd runs) and delete both units and the enable link (one transaction)'
complete -c harden -n "__fish_harden_using_subcommand timer; and not __fish_seen_subcommand_from install remove status help" -f -a "status" -d 'Show the installed units, their schedule and the last run'
complete -c harden -n "__fish_harden_using_subcommand timer; and not __fish_seen_subcommand_from install remove status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -l every -d 'A systemd time span (`1h`, `30min`: every so long after the last run) or a calendar event (`hourly`, `daily`, `*-*-* 03:00`)' -r
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -l mode -d '`check` reports drift only; `apply` converges with every guard on' -r -f -a "check\t'Report drift only (exit 2 on drift: the unit shows as failed)'
apply\t'Converge, every guard on, never confirming anything itself'"
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -s p -l playbook -d 'Playbook file (stored as an absolute path) or embedded name; repeatable. Default: the embedded baseline' -r
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -l randomized-delay -d 'Random delay added to each run (`RandomizedDelaySec`)' -r
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -l binary -d 'The harden binary the service runs, as a path inside the root [default: this binary; under another --root it must exist there too]' -r -F
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -l metrics-file -d 'Let each run write Prometheus metrics to PATH' -r -F
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -l pull-git -d 'A git checkout (owned by root) holding the playbooks: each run first pulls it (`git pull --ff-only`); a failed pull still runs harden on the checkout as it is' -r -F
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -s y -l yes -d 'Do not ask for confirmation'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from remove" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from remove" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from remove" -s y -l yes -d 'Do not ask for confirmation'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from status" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from status" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from help" -f -a "install" -d 'Write harden.service and harden.timer under ROOT/etc/systemd/system (one transaction), then enable the timer where systemd runs'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Disable the timer (where systemd runs) and delete both units and the enable link (one transaction)'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show the installed units, their schedule and the last run'
complete -c harden -n "__fish_harden_using_subcommand timer; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c harden -n "__fish_harden_using_subcommand completions" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand completions" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand completions" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand completions" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand completions" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand man" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand man" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand man" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand man" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand man" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand modules" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand modules" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand modules" -l markdown -d 'Print the playbook reference (Markdown) generated from the module specs'
complete -c harden -n "__fish_harden_using_subcommand modules" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand modules" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand modules" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand schema" -l root -d 'Root of the system to harden (an offline image or a temp tree); `/` is the running system' -r -F
complete -c harden -n "__fish_harden_using_subcommand schema" -l state-dir -d 'State directory (lock, journal, snapshots) [default: ROOT/var/lib/harden]' -r -F
complete -c harden -n "__fish_harden_using_subcommand schema" -s v -l verbose -d 'More log output on stderr (repeat for more)'
complete -c harden -n "__fish_harden_using_subcommand schema" -s q -l quiet -d 'Only errors on stderr'
complete -c harden -n "__fish_harden_using_subcommand schema" -s h -l help -d 'Print help'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "plan" -d 'Show what would change. Writes nothing on the host; `-o FILE` writes only that file'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "apply" -d 'Apply the plan as one transaction (snapshot, validate, write, reload, verify)'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "confirm" -d 'Keep the transaction applied with `--confirm-within` (stops its watchdog)'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "watchdog" -d 'The confirm-or-revert watchdog (started by `apply --confirm-within`)'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "check" -d 'Quiet plan for monitoring: exit 0 when compliant, 2 on drift. Writes a run report in the state directory (and metrics when asked), nothing else'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "rollback" -d 'Restore the snapshot of a transaction (the last one by default). Shows what it restores and asks first, like `apply`'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "history" -d 'List transactions: time, playbook, number of changes, result. With `--runs`: the run reports (check, apply, rollback) instead'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "timer" -d 'Scheduled convergence: a systemd timer running `harden check` or `apply`'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "completions" -d 'Print a shell completion script'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "man" -d 'Print the man page (roff)'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "modules" -d 'List the module catalogue'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "schema" -d 'Print the JSON Schema of playbooks'
complete -c harden -n "__fish_harden_using_subcommand help; and not __fish_seen_subcommand_from plan apply confirm watchdog check rollback history timer completions man modules schema help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c harden -n "__fish_harden_using_subcommand help; and __fish_seen_subcommand_from timer" -f -a "install" -d 'Write harden.service and harden.timer under ROOT/etc/systemd/system (one transaction), then enable the timer where systemd runs'
complete -c harden -n "__fish_harden_using_subcommand help; and __fish_seen_subcommand_from timer" -f -a "remove" -d 'Disable the timer (where systemd runs) and delete both units and the enable link (one transaction)'
complete -c harden -n "__fish_harden_using_subcommand help; and __fish_seen_subcommand_from timer" -f -a "status" -d 'Show the installed units, their schedule and the last run'
