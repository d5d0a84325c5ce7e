#!/bin/sh
# The guest's first service (tests/boot/vigild.conf): the kernel's file
# systems, then the seconds since the kernel started (the test reads them).
# A file system already there (mounted by the kernel or an earlier run) is
# fine.
fs() {
    mount -t "$1" "$1" "$2" || grep -q " $2 $1 " /proc/mounts || exit 1
}
fs proc /proc
fs sysfs /sys
fs devtmpfs /dev
# For benches/boot.py, the same moment with the kernel's µs stamp
# (/proc/uptime has 10 ms steps): a message written to /dev/kmsg reaches the
# console as `[ SECONDS.MICROS] KMSG-T0` since its level, <2> (critical), is
# below the console's loglevel=3. No fork: `echo` is built in.
echo '<2>KMSG-T0' >/dev/kmsg && stamped=yes
echo "BOOT-T0 $(cat /proc/uptime)"
# And the stamp of the kernel's exec of /init: its "Run /init as init
# process" is in the log, below the console's level. grep stops at the
# first match, at the latest the marker above, so it never waits for more
# of the log (sed would: it reads a line ahead).
[ "$stamped" != yes ] ||
    echo "KMSG-LOG $(grep -m 1 -e ';Run /init as init process$' -e ';KMSG-T0$' /dev/kmsg)"
