#!/bin/sh
# vigild as PID 1 survives its services being killed and reaps every orphan
# (tests/boot/vigild.conf). Always exits 0, so that the machine still powers
# off and the test can tell what went wrong from these lines.

# SIGKILL to every service's process in the status file (pid=0: none, as for
# a finished oneshot or a socket service that listens; $$: this script).
for pid in $(sed -n 's/.* pid=\([0-9]*\) .*/\1/p' /run/vigild/status); do
    if [ "$pid" != 0 ] && [ "$pid" != $$ ]; then
        echo "CHAOS-KILL $pid"
        kill -9 "$pid"
    fi
done

# Fifty orphans: each sleep's parent (a subshell) exits at once, so the
# kernel hands the sleep to PID 1, which must reap it when it ends.
for i in $(seq 50); do
    (sleep 1 &)
done
echo "CHAOS-ORPHANS $(ps -o ppid,comm | grep -c '^ *1 sleep$')"
sleep 2

# By now every orphan has ended. A zombie of a process that ended this very
# moment is allowed to go within a few seconds.
for try in $(seq 25); do
    zombies=$(ps -o stat | grep -c '^Z')
    [ "$zombies" = 0 ] && break
    sleep 0.2
done
if [ "$zombies" = 0 ]; then
    echo "ORPHANS-REAPED"
else
    echo "ZOMBIES-LEFT $zombies"
    ps -o pid,ppid,stat,args
fi
