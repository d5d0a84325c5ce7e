#!/bin/sh
# /init of the boot test's pipeline check (tests/boot.rs): no vigild, only
# BusyBox, to show that the kernel boots the initramfs the test wrote, that
# the console reaches the test, and that the machine powers off.
# The mounts and the kernel's stamps are those of mounts.sh, vigild's first
# service, so that benches/boot.py compares like with like.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo '<2>KMSG-INIT' >/dev/kmsg && stamped=yes
echo "BUSYBOX-INIT $(cat /proc/uptime)"
[ "$stamped" != yes ] ||
    echo "KMSG-LOG $(grep -m 1 -e ';Run /init as init process$' -e ';KMSG-INIT$' /dev/kmsg)"
# -f: no init to ask; reboot(2) at once.
poweroff -f
