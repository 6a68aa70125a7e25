#!/bin/bash
# Run a shell command inside a User-Mode Linux guest that has a real SocketCAN vcan0 up.
#
# usage: scripts/vcan/uml-run.sh 'shell command'
#
#   Boots Debian's UML kernel (package user-mode-linux; kmod and iproute2 inside the guest) with
#   the host's / as its root filesystem (hostfs, READ-WRITE: files the command writes land on the
#   host), loads can, can-raw, can-bcm and vcan, brings vcan0 up, and runs the command with
#   /bin/sh in the current directory. One CPU in the guest; the guest console (a tty: use
#   --color=no with pytest, expect \r\n line ends) is this script's stdout. stdin is /dev/null.
#   Host environment variables are NOT passed: export what the command needs inside it
#   (scripts/vcan/run.py does that for PATH, PYTHONPATH, VIRTUAL_ENV, HOME, ICU_WS_*...).
#
# exit status:
#   the command's own status, or
#   2    usage error (not exactly one argument)
#   124  UML_TIMEOUT seconds passed (the guest is killed)
#   125  the guest could not set up vcan0, or the directory is one the guest mounts afresh
#        (under /dev, /run, /mnt, /proc, /sys)
#   127  linux.uml is not installed (apt-get install user-mode-linux kmod iproute2)
#   255  the guest died before the command finished (kernel panic, out of memory, killed)
#
# environment:
#   UML_TIMEOUT  seconds before the guest is killed (default 600)
#   UML_MEM      guest memory, e.g. 1G or 768M (default 1G)
#   UML_TMPDIR   where linux.uml keeps the guest's memory file (default /dev/shm, or /tmp when
#                /dev/shm has less room than UML_MEM)
#
# Why it is written this way (checked on Debian 12, user-mode-linux 6.1):
# - linux.uml exits 0 whatever happens inside: the command's status comes back in a file.
# - linux.uml calls setsid(): a kill of our process group or `timeout` leaves it running, so
#   we kill ITS process group and enforce the timeout ourselves.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v linux.uml >/dev/null 2>&1; then
  echo "uml-run: linux.uml not found: apt-get install -y --no-install-recommends" \
       "user-mode-linux kmod iproute2" >&2
  exit 127
fi
if [ $# -ne 1 ]; then
  echo "usage: $0 'shell command'" >&2
  exit 2
fi
case "$PWD/" in
  /dev/*|/run/*|/mnt/*|/proc/*|/sys/*)
    echo "uml-run: cannot run in $PWD: the guest mounts its own /dev, /run, /mnt, /proc, /sys" >&2
    exit 125 ;;
esac
# A work directory the guest sees too: under /tmp (the guest mounts its own /dev/shm, /run,
# /mnt), named without spaces because its path goes on the kernel command line.
work=$(mktemp -d /tmp/uml-run.XXXXXXXX) || exit 255
# The guest's init, from the work directory: its path goes on the kernel command line (no
# spaces) and it must be executable whatever the checkout did to file modes.
install -m 755 "$here/uml-init.sh" "$work/init"
printf '%s\n' "$1" > "$work/cmd.sh"
pwd > "$work/cwd"
echo 255 > "$work/rc"

# The guest's memory is a file in $UML_TMPDIR: /dev/shm (fast) unless it is too small for
# UML_MEM (e.g. Docker's default 64 MB), then /tmp.
mem=${UML_MEM:-1G}
if [ -z "${UML_TMPDIR:-}" ]; then
  UML_TMPDIR=/dev/shm
  case "$mem" in
    *[Gg]) need_kb=$(( ${mem%?} * 1024 * 1024 )) ;;
    *[Mm]) need_kb=$(( ${mem%?} * 1024 )) ;;
    *) need_kb=0 ;;
  esac
  free_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
  if [ -z "$free_kb" ] || [ "$free_kb" -lt "$need_kb" ]; then
    UML_TMPDIR=/tmp
  fi
fi

# Drop the guest kernel's boot chatter that loglevel=0 does not silence.
noise='^(SELinux:|mmapper_init|Failed to initialize ubd|sysrq: |Checking that ptrace|Checking syscall|Checking advanced syscall|Checking environment variables)'
TMPDIR="$UML_TMPDIR" linux.uml mem="$mem" rootfstype=hostfs rootflags=/ rw quiet loglevel=0 \
  init="$work/init" UML_WORK="$work" con=null con0=null,fd:1 </dev/null \
  > >(grep --line-buffered -v -E "$noise") 2>&1 &
uml=$!   # linux.uml calls setsid(): its pid is its process group, holding every guest process

kill_guest() {
  kill -TERM -- "-$uml" 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    kill -0 -- "-$uml" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL -- "-$uml" 2>/dev/null
}
trap 'kill_guest; rm -rf "$work"; exit 130' INT
trap 'kill_guest; rm -rf "$work"; exit 143' TERM HUP

( trap 'kill $s 2>/dev/null; exit 0' TERM
  sleep "${UML_TIMEOUT:-600}" & s=$!
  wait $s
  echo "uml-run: timeout after ${UML_TIMEOUT:-600} s: killing the guest" >&2
  echo 124 > "$work/rc"
  kill -TERM -- "-$uml" 2>/dev/null; sleep 2; kill -KILL -- "-$uml" 2>/dev/null ) &
watchdog=$!

wait "$uml"
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
kill -0 -- "-$uml" 2>/dev/null && kill_guest   # guest processes left behind
rc=$(cat "$work/rc" 2>/dev/null || echo 255)
[ "$rc" = 255 ] && echo "uml-run: the guest stopped before the command finished" >&2
rm -rf "$work"
exit "$rc"
