#!/bin/busybox sh
# The new init after vigild's switch_root (tests/boot/switch-root.conf):
# PID 1 in the new root, with its arguments; the kernel's file systems
# moved along (/run is no mount here: the initramfs's own); nothing left
# of the initramfs (its /etc) in sight; no process but this one (kernel
# threads have no /proc/PID/exe). Then the machine powers off.
B=/bin/busybox
echo "NEW-INIT pid=$$ args=$*"
[ -e /etc/vigild.conf ] || echo "NEW-ROOT initramfs-gone"
[ -r /proc/1/cmdline ] && echo "NEW-ROOT proc-moved"
[ -d /sys/kernel ] && echo "NEW-ROOT sys-moved"
[ -c /dev/null ] && echo "NEW-ROOT dev-moved"
echo "NEW-ROOT root: $($B stat -f -c %T /)"
n=0
for p in /proc/[0-9]*; do
    [ -e "$p/exe" ] && n=$((n + 1))
done
echo "NEW-ROOT processes: $n"
$B poweroff -f
