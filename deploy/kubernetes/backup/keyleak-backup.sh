#!/bin/sh
# keyleak-backup: every BACKUP_INTERVAL seconds, write a consistent copy of
# keyleak's database to BACKUP_DIR/keyleak-<UTC time>.db with
# `keyleak backup` (which asks the running server through its loopback
# admin listener, and checks that the copy opens before renaming it into
# place), then keep only the newest BACKUP_KEEP copies. Arguments are
# passed to `keyleak backup` (e.g. --config FILE). Exits on SIGTERM, once
# a backup under way is written and pruned.
set -u

keyleak="${KEYLEAK:-keyleak}"
dir="${BACKUP_DIR:-/backup}"
interval="${BACKUP_INTERVAL:-3600}"
keep="${BACKUP_KEEP:-48}"
delay="${BACKUP_INITIAL_DELAY:-60}"

case "$interval$keep$delay" in
*[!0-9]*)
	echo "keyleak-backup: BACKUP_INTERVAL, BACKUP_KEEP and BACKUP_INITIAL_DELAY must be whole numbers" >&2
	exit 2
	;;
esac
if [ "$keep" -lt 1 ] || [ "$interval" -lt 1 ]; then
	echo "keyleak-backup: BACKUP_INTERVAL and BACKUP_KEEP must be at least 1" >&2
	exit 2
fi

# On SIGTERM a backup under way, and the pruning after it, are finished
# first: the loop exits where it would wait.
sleeper=""
stop=""
trap 'stop=1; if [ -n "$sleeper" ]; then kill "$sleeper" 2>/dev/null; fi' TERM INT

pause() {
	if [ -n "$stop" ]; then exit 0; fi
	sleep "$1" &
	sleeper=$!
	wait "$sleeper"
	sleeper=""
	if [ -n "$stop" ]; then exit 0; fi
}

pause "$delay"
while :; do
	file="$dir/keyleak-$(date -u +%Y%m%dT%H%M%SZ).db"
	if "$keyleak" backup "$@" "$file"; then
		# The names sort by time; drop all but the newest $keep.
		ls -1 "$dir" | grep -E '^keyleak-[0-9]{8}T[0-9]{6}Z\.db$' | sort -r | tail -n "+$((keep + 1))" |
			while read -r old; do rm -f "$dir/$old"; done
	else
		echo "keyleak-backup: backup to $file failed; next attempt in ${interval}s" >&2
	fi
	pause "$interval"
done
