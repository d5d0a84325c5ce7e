#!/bin/sh
# The guest's new root (tests/boot/switch-root.conf): a tmpfs at /newroot
# with BusyBox, the new init and the mount points the kernel's file systems
# move to; then `switch_root` on the control FIFO (no reply: this oneshot
# is stopped as every service is).
B=/bin/busybox
$B mkdir -p /newroot
$B mount -t tmpfs tmpfs /newroot || exit 1
$B mkdir -p /newroot/bin /newroot/sbin /newroot/dev /newroot/proc /newroot/sys
$B cp $B /newroot/bin/busybox
$B cp /etc/boot/new-init.sh /newroot/sbin/init-script
$B chmod 755 /newroot/sbin/init-script
echo SWITCH-ROOT-ASK
echo "switch_root /newroot /sbin/init-script one two" > /run/vigild/control
