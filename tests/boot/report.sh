#!/bin/sh
# In the new root after the hand-off (tests/boot/disk.conf): what vigild's
# status file says of `keeper`, which program PID 1 runs, whether the
# initramfs is gone; then an orderly power-off (BusyBox poweroff: SIGUSR2
# to PID 1, vigild).
B=/bin/busybox
[ -e /etc/boot/handoff.sh ] || echo "NEW-ROOT initramfs-gone"
echo "NEW-ROOT keeper $($B grep '^keeper ' /run/vigild/status | $B cut -d' ' -f2,3)"
echo "NEW-ROOT pid1 $($B readlink /proc/1/exe)"
exec $B poweroff
