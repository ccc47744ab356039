# tests/uml_lib.sh - run a test inside User-mode Linux (sourced after
# tests/lib.sh).  For what this machine's kernel cannot do but a Linux
# kernel of Debian's `user-mode-linux` package can (SCTP here: the kernel
# the tests run on may have no SCTP and no modules to load).
#
#   uml_reexec WHY MODULE...   when not already in the guest: boot
#       linux.uml with the host's / as its root (hostfs, so the build, the
#       test data and $T are the same paths), load MODULE... from the
#       package's module tree (modprobe -d, dependencies resolved), bring
#       up lo, re-run "$0" there with this environment plus PM_IN_UML=1,
#       print its output and exit with its status.  In the guest: returns.
#
# The guest is one CPU, its own network stack (only lo) and its own /proc;
# files it writes land in the host's directories.  No network device, no
# root image, no privileges beyond running a process.
uml_reexec() {
    local why=$1
    shift
    [ -n "${PM_IN_UML:-}" ] && return 0
    need_tool linux.uml "Debian's user-mode-linux: $why"
    need_tool modprobe "kmod, to load the guest's modules"
    local ver u=$T/uml
    ver=$(ls /usr/lib/uml/modules 2>/dev/null | sort -V | tail -1)
    [ -n "$ver" ] || skip "user-mode-linux has no module tree in /usr/lib/uml/modules"
    mkdir -p "$u/root/lib/modules"
    ln -s "/usr/lib/uml/modules/$ver" "$u/root/lib/modules/$ver"
    export -p >"$u/env"
    {
        echo '#!/bin/bash'
        echo "exec >'$u/out' 2>&1"
        echo 'mount -t proc proc /proc && mount -t sysfs sysfs /sys || echo "uml: cannot mount /proc or /sys"'
        # the guest's own devtmpfs on /dev has no udev-made links
        echo '[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd'
        echo 'for i in 0:stdin 1:stdout 2:stderr; do [ -e /dev/${i#*:} ] || ln -s /proc/self/fd/${i%:*} /dev/${i#*:}; done'
        echo ". '$u/env' 2>/dev/null"
        echo 'export PM_IN_UML=1'
        echo "cd '$PWD'"
        local m
        for m in "$@"; do
            echo "modprobe -d '$u/root' $m || echo 'uml: modprobe $m failed'"
        done
        echo 'ip link set lo up'
        echo "bash '$0'; echo \$? >'$u/rc'"
        echo 'sync; echo o >/proc/sysrq-trigger; sleep 10; poweroff -f'
    } >"$u/init"
    chmod +x "$u/init"
    timeout 900 linux.uml mem=1G root=/dev/root rootfstype=hostfs rootflags=/ rw \
        init="$u/init" con0=fd:0,fd:1 con=null </dev/null >"$u/console" 2>&1
    cat "$u/out" 2>/dev/null
    [ -s "$u/rc" ] || fail "the UML guest did not finish the test: $(tail -20 "$u/console")"
    exit "$(cat "$u/rc")"
}
