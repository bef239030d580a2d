#!/bin/busybox sh
# SPDX-License-Identifier: MIT
#
# PID 1 of refgem's guest (busybox initramfs built by tools/refgem-vm).
# It mounts the host's root read-only over 9p, runs the job in a chroot and
# must never exit: whatever the job does, this script writes the exit
# status and the full dmesg to the state share, then powers off.

/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# Every SysRq function from the keyboard: the host asks a stalled guest
# for its blocked tasks that way (refgem-vm --stall).
echo 1 >/proc/sys/kernel/sysrq

# 9p and virtio modules, in dependency order; absent when built in.
while read -r m; do
	insmod "/modules/$m" || echo "refgem-vm: insmod $m failed"
done </modules/order

p9() { mount -t 9p -o "trans=virtio,version=9p2000.L,msize=262144,$3" "$1" "$2"; }

mkdir -p /state /newroot
if ! p9 state /state cache=none; then
	echo "refgem-vm: cannot mount the state share"
	poweroff -f
fi
# STATE (host path of the state share), SHARES ("tag:path:mode ..."),
# WATCHDOG (seconds).
. /state/vm.conf

finish() {
	echo "$1" >/state/exit-status.tmp && mv /state/exit-status.tmp /state/exit-status
	dmesg >/state/dmesg.txt
	sync
	echo "refgem-vm: exit $1 at $(cut -d" " -f1 /proc/uptime) s of uptime"
	# isa-debug-exit ends QEMU with status 2 * value + 1.
	printf "\\$(printf %o $(($1 & 0x7f)))" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	poweroff -f
}

p9 root /newroot ro,cache=loose || finish 125
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sys $R/sys
mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm
# What udev would add: lib.mk's kselftest runner writes to /dev/stdout.
ln -sf /proc/self/fd $R/dev/fd
ln -sf /proc/self/fd/0 $R/dev/stdin
ln -sf /proc/self/fd/1 $R/dev/stdout
ln -sf /proc/self/fd/2 $R/dev/stderr
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t debugfs debugfs $R/sys/kernel/debug
mount -t tmpfs tmpfs $R/tmp
mount -t tmpfs tmpfs $R/run
# Project shares at their host paths; /tmp is the guest's tmpfs now, so a
# checkout under /tmp gets its mount point made there.
for s in $SHARES; do
	tag=${s%%:*}; rest=${s#*:}; path=${rest%:*}; mode=${rest##*:}
	mkdir -p "$R$path" 2>/dev/null
	if [ "$mode" = rw ]; then
		p9 "$tag" "$R$path" cache=none || finish 125
	else
		p9 "$tag" "$R$path" ro,cache=loose || finish 125
	fi
done
mkdir -p "$R$STATE"
mount --bind /state "$R$STATE" || finish 125

# Where every task is, for a hang's post-mortem: the kernel's hung-task
# detector ignores killable sleeps (a 9p request, for one), so this is the
# only record of them. Written to tmpfs first: the share may be what hangs.
dump_tasks() {
	for t in /proc/[0-9]*/task/[0-9]*; do
		read -r stat <"$t/stat" 2>/dev/null || continue
		echo "== ${t#/proc/} $(echo "$stat" | cut -d" " -f1-5)"
		echo "wchan $(cat "$t/wchan" 2>/dev/null)"
		cat "$t/stack" 2>/dev/null
	done >/tasks.txt
	echo l >/proc/sysrq-trigger
	# The tasks that sleep uninterruptibly (D), in short, on the console.
	awk '/^== /{d = ($0 ~ / \) D /)} d' /tasks.txt | head -n 200
	cp /tasks.txt /state/tasks.txt
}

# Guest watchdog: a hung job still ends with a status and the logs.
(
	sleep "$WATCHDOG"
	echo "refgem-vm: guest watchdog fired after $WATCHDOG s"
	dump_tasks
	finish 124
) &

chroot $R /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	TERM=dumb /bin/sh "$STATE/job.sh" </dev/null
finish $?
