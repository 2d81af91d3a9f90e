#!/usr/bin/env bash
# demo.sh CONTAINER MOUNTPOINT — the README's first command (via `make run`):
# creates CONTAINER in the local Swift, mounts it with swiftfs (daemon), and
# writes a small Butler-style repository through the mount when it is empty.
set -euo pipefail
cd "$(dirname "$0")/.."
container=${1:-demo}
mnt=${2:-$PWD/mnt}
eval "$(test/integration/saio/swift.sh env)"
swift post "$container"
mkdir -p "$mnt"
if mountpoint -q "$mnt"; then
  echo "demo: $mnt is already mounted"
else
  bin/swiftfs mount --daemon --cache-dir "$PWD/.cache" "$container" "$mnt"
fi
if [ ! -e "$mnt/_mapper" ]; then
  /usr/bin/python3 scripts/sample_repo.py "$mnt"
  bin/swiftfs sync "$mnt"
fi
cat <<EOM

swiftfs: container '$container' of the local Swift is mounted at $mnt
  ls -l $mnt $mnt/raw            # a Butler-style repository
  python3 -c "import sqlite3; print(sqlite3.connect('$mnt/registry.sqlite3').execute('select * from raw').fetchall())"
  readlink $mnt/output/_parent
  swift list $container         # the same objects, seen by the swift CLI
                                # (eval "\$(test/integration/saio/swift.sh env)" first)
  bin/swiftfs status $mnt       # cache and write-back state
Unmount and stop Swift: make stop
EOM
