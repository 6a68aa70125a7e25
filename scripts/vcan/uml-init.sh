#!/bin/sh
# PID 1 of the User-Mode Linux guest started by scripts/vcan/uml-run.sh (not for direct use).
#
# The host's / is the guest's root (hostfs, read-write). This script mounts what a guest needs,
# loads the CAN modules, brings up vcan0, runs "$UML_WORK/cmd.sh" with /bin/sh in the directory
# named in "$UML_WORK/cwd", writes its exit status to "$UML_WORK/rc" and powers the guest off.
# Status written: the command's, or 125 when the guest could not set up vcan0 or enter the
# directory.
# Only UML_WORK comes from the host (kernel command line); no other host variable is passed.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm   # guest-private (the host's /dev/shm holds the guest's memory)
mount -t tmpfs tmpfs /run
# The host has no /lib/modules/<guest kernel>: give modprobe a private root in a guest-only
# tmpfs on /mnt whose lib/modules is the UML package's module tree.
mount -t tmpfs tmpfs /mnt
mkdir /mnt/lib
ln -s /usr/lib/uml/modules /mnt/lib/modules
ip link set lo up

rc=125
if modprobe -d /mnt -a can can-raw can-bcm vcan \
    && ip link add dev vcan0 type vcan && ip link set up vcan0; then
  if cd "$(cat "$UML_WORK/cwd")"; then
    /bin/sh "$UML_WORK/cmd.sh" </dev/null
    rc=$?
  else
    echo "uml-init: cannot enter $(cat "$UML_WORK/cwd") in the guest (under /dev/shm, /run or /mnt?)" >&2
  fi
else
  echo "uml-init: could not set up vcan0 in the guest (modprobe can can-raw can-bcm vcan)" >&2
fi
echo "$rc" > "$UML_WORK/rc"
sync
echo o > /proc/sysrq-trigger   # immediate power-off: linux.uml then exits
sleep 10
