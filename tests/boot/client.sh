#!/bin/sh
# The guest's socket services, from a client over loopback
# (tests/boot/vigild.conf): the activated one twice, since vigild must listen
# again after each run, and the accept one.
for i in 1 2; do
    echo "CLIENT-GOT activate: $(nc 127.0.0.1 7000)"
done
echo "CLIENT-GOT accept: $(nc 127.0.0.1 7001)"
