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
echo "BOOT-T0 $(cat /proc/uptime)"
