#!/bin/sh
# The hand-off guest's last oneshot (tests/boot/handoff.conf): a re-exec
# in place, then the new root (a tmpfs with vigild, BusyBox and its own
# configuration) and `switch_root` to its vigild on the control FIFO (no
# reply: the new configuration has no such oneshot, so it is stopped).
B=/bin/busybox
echo "REEXEC $(/init ctl reexec)"
$B mkdir -p /newroot
$B mount -t tmpfs tmpfs /newroot || exit 1
for d in bin sbin dev proc sys run etc/boot; do $B mkdir -p /newroot/$d; done
$B cp $B /newroot/bin/busybox
for applet in cat cut grep poweroff sh sleep; do $B ln -s busybox /newroot/bin/$applet; done
$B cp /init /newroot/sbin/vigild
$B cp /etc/boot/disk.conf /newroot/etc/vigild.conf
$B cp /etc/boot/report.sh /newroot/etc/boot/report.sh
echo HANDOFF-ASK
echo "switch_root /newroot" > /run/vigild/control
