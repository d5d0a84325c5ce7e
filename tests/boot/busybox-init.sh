#!/bin/sh
# /init of the boot test's pipeline check (tests/boot.rs): no vigild, only
# BusyBox, to show that the kernel boots the initramfs the test wrote, that
# the console reaches the test, and that the machine powers off.
mount -t proc proc /proc
echo "BUSYBOX-INIT $(cat /proc/uptime)"
# -f: no init to ask; reboot(2) at once.
poweroff -f
