#!/usr/bin/env bash
# bench/run.sh - swiftfs against rclone mount and the swift CLI / local disk,
# on a local Swift of its own. See bench/README.md.
#
#   bench/run.sh            the full run (make bench), ~25 min with 3 repetitions on an idle machine
#   bench/run.sh --smoke    tiny sizes, one repetition: checks the harness (make smoke-bench)
#
# Environment:
#   BENCH_REPS=3            repetitions of every workload (smoke: 1)
#   BENCH_ONLY=1,3          run only these workloads (1-10)
#   BENCH_WORK=DIR          scratch directory (default /tmp/swiftfs-bench.PID; removed at the end)
#   BENCH_RESULTS=DIR       where results go (default bench/results)
#   BENCH_SWIFTFS_FLAGS     extra swiftfs mount flags;  BENCH_RCLONE_FLAGS  extra rclone mount flags
#   BENCH_SWIFTFS_BIN       the swiftfs binary to measure (default bin/swiftfs, else built)
#   BENCH_CONTAINER_PREFIX  prefix of the containers a run makes (default bench-)
#   BENCH_SKIP=5:rclone     W:TOOL pairs not to run (tools: swiftfs, rclone, or the reference's name)
#   IMP_DIRS, IMP_N, IMP_SIZE, IMP_BIG_N, IMP_BIG   workload 9's tree (default 20 × 100 × 16K + 4 × 64M)
#   SAIO_DIR, SAIO_PORT, SAIO_MEMCACHED_PORT, SAIO_OBJECT_PORT, SAIO_CONTAINER_PORT,
#   SAIO_ACCOUNT_PORT, SAIO_KEYSTONE_PORT   the Swift to start (default: a dedicated bench set,
#                           /tmp/saio-bench on 8094, so that it never meets a test run's Swift)
# shellcheck disable=SC2012 # `ls -l` is a workload here, not a way to find files
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SMOKE=0
case ${1:-} in
  --smoke) SMOKE=1 ;;
  "") ;;
  *) echo "usage: bench/run.sh [--smoke]" >&2; exit 2 ;;
esac

export SAIO_DIR=${SAIO_DIR:-/tmp/saio-bench}
export SAIO_PORT=${SAIO_PORT:-8094}
export SAIO_MEMCACHED_PORT=${SAIO_MEMCACHED_PORT:-11294}
export SAIO_OBJECT_PORT=${SAIO_OBJECT_PORT:-6296}
export SAIO_CONTAINER_PORT=${SAIO_CONTAINER_PORT:-6297}
export SAIO_ACCOUNT_PORT=${SAIO_ACCOUNT_PORT:-6298}
export SAIO_KEYSTONE_PORT=${SAIO_KEYSTONE_PORT:-5094}
# The account counters (container-updater) are not needed here: sweep
# rarely, it costs CPU the measurements need.
export SAIO_UPDATER_INTERVAL=${SAIO_UPDATER_INTERVAL:-300}
export SAIO_OBJECT_UPDATER_INTERVAL=${SAIO_OBJECT_UPDATER_INTERVAL:-10}
SAIO=$ROOT/test/integration/saio/swift.sh

if ((SMOKE)); then
  REPS=${BENCH_REPS:-1}
  BIG=16M SMALL_N=20 SMALL_SIZE=4K LS_N=300 BUTLER_N=10 BUTLER_SIZE=64K
  PAR_N=8 PAR_SIZE=4M PAR_P=4 RSS_NS="2000 20000" SCN_N=18
  : "${IMP_DIRS:=4}" "${IMP_N:=10}" "${IMP_SIZE:=4K}" "${IMP_BIG_N:=2}" "${IMP_BIG:=2M}"
else
  REPS=${BENCH_REPS:-3}
  BIG=1G SMALL_N=${SMALL_N:-1000} SMALL_SIZE=4K LS_N=10000 BUTLER_N=200 BUTLER_SIZE=1M
  PAR_N=8 PAR_SIZE=256M PAR_P=4 RSS_NS=${BENCH_RSS_NS:-"100000 1000000"} SCN_N=${BENCH_SCN_N:-270}
  : "${IMP_DIRS:=20}" "${IMP_N:=100}" "${IMP_SIZE:=16K}" "${IMP_BIG_N:=4}" "${IMP_BIG:=64M}"
fi
ONLY=${BENCH_ONLY:-1,2,3,4,5,6,7,8,9,10}
CP=${BENCH_CONTAINER_PREFIX:-bench-} # containers of this run (bench-ls* is shared)
WORK=${BENCH_WORK:-/tmp/swiftfs-bench.$$}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
read -r -a SWIFTFS_FLAGS <<<"${BENCH_SWIFTFS_FLAGS:-}"
read -r -a RCLONE_FLAGS <<<"${BENCH_RCLONE_FLAGS:-}"
RCLONE_BASE=(--vfs-cache-mode full)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
wants() { [[ ,$ONLY, == *,$1,* ]]; }
# skip W TOOL: BENCH_SKIP lists W:TOOL pairs not to run (e.g. 5:rclone, whose
# cold `ls -l` sends one HEAD per object: minutes on a loaded machine).
skip() { [[ ,${BENCH_SKIP:-}, == *,$1:$2,* ]]; }

bytes_of() { # 1G -> 1073741824
  local v=$1 m=1
  case $v in *K) m=1024 v=${v%K} ;; *M) m=$((1 << 20)) v=${v%M} ;; *G) m=$((1 << 30)) v=${v%G} ;; esac
  echo $((v * m))
}
human() { # 1073741824 -> 1 GiB
  awk -v b="$1" 'BEGIN { split("B KiB MiB GiB", u, " "); i = 1; while (b >= 1024 && i < 4) { b /= 1024; i++ }
    printf (b == int(b) ? "%d %s" : "%.1f %s"), b, u[i] }'
}
BIG_BYTES=$(bytes_of $BIG)
SMALL_BYTES=$(bytes_of $SMALL_SIZE)
BUTLER_BYTES=$(bytes_of $BUTLER_SIZE)
PAR_BYTES=$(bytes_of $PAR_SIZE)

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'; }
mibs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.2f", n / 1048576 / s }'; }

# ------------------------------------------------------------------ setup

need_cmd() { # command debian-package
  command -v "$1" >/dev/null && return
  log "installing $2"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "$2" >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "$2" >/dev/null; } ||
    die "cannot install $2"
}

mkdir -p "$WORK" "$RESULTS"
WORK=$(realpath "$WORK")
MNT=$WORK/mnt
LOGS=$WORK/logs
mkdir -p "$MNT" "$LOGS" "$WORK/bin"

declare -A ACTIVE=()  # mount point -> daemon pid
CREATED=()            # containers this run made
FAKE_PID=""
STARTED_SWIFT=0
cleanup() {
  local rc=$? m
  set +e
  for m in "${!ACTIVE[@]}"; do
    fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    wait "${ACTIVE[$m]}" 2>/dev/null
  done
  [[ -n $FAKE_PID ]] && { kill -TERM "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; }
  # Data of an interrupted workload (the bench-ls* listing container stays:
  # it is small and slow to make).
  if [[ -n ${BT:-} && -n ${ST_AUTH:-} ]]; then
    for c in "${CREATED[@]}"; do
      [[ $c == bench-ls* ]] || "$BT" swift purge -c "$c" >/dev/null 2>&1
    done
  fi
  if ((rc != 0)) && [[ -d $LOGS ]]; then
    log "logs of the failed run:"
    tail -n 20 "$LOGS"/* >&2 2>/dev/null
  fi
  [[ -z ${BENCH_WORK:-} ]] && rm -rf "$WORK"
  if ((STARTED_SWIFT)); then
    log "stopping the bench Swift"
    "$SAIO" stop >/dev/null 2>&1
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BENCH_START=$(now)
need_cmd fio fio
need_cmd rclone rclone
need_cmd fusermount3 fuse3

# Snapshots of the binaries: the tree may be rebuilt while we run.
if [[ -n ${BENCH_SWIFTFS_BIN:-} ]]; then
  cp "$BENCH_SWIFTFS_BIN" "$WORK/bin/swiftfs"
elif [[ -x bin/swiftfs ]]; then
  cp bin/swiftfs "$WORK/bin/swiftfs"
else
  log "building swiftfs"
  go build -o "$WORK/bin/swiftfs" ./cmd/swiftfs
fi
go build -o "$WORK/bin/benchtool" ./bench/benchtool
SWIFTFS=$WORK/bin/swiftfs
BT=$WORK/bin/benchtool

# Workload 8 runs against benchtool's fake Swift: a run of only workload 8
# needs no Swift.
NEED_SWIFT=0
for w in 1 2 3 4 5 6 7 9 10; do wants $w && NEED_SWIFT=1; done
if ((!NEED_SWIFT)); then
  log "workload 8 only: no Swift needed"
elif "$SAIO" status >/dev/null 2>&1; then
  log "using the Swift already running at $SAIO_DIR (port $SAIO_PORT)"
else
  log "starting Swift at $SAIO_DIR (port $SAIO_PORT)"
  STARTED_SWIFT=1
  "$SAIO" start >/dev/null
fi
if ((NEED_SWIFT)); then
  eval "$("$SAIO" env)"
  need_cmd swift python3-swiftclient
fi
PROXY_LOG=$SAIO_DIR/log/proxy-server.log
export RCLONE_CONFIG=$WORK/rclone.conf # none: the remote comes from the environment
export RCLONE_CONFIG_BENCH_TYPE=swift RCLONE_CONFIG_BENCH_AUTH=${ST_AUTH:-} \
  RCLONE_CONFIG_BENCH_USER=${ST_USER:-} RCLONE_CONFIG_BENCH_KEY=${ST_KEY:-}
touch "$RCLONE_CONFIG"

TS=$(date -u +%Y%m%dT%H%M%SZ)
((SMOKE)) && TS=$TS-smoke
JSONL=$RESULTS/$TS.jsonl
META=$RESULTS/$TS.meta.md
REPORT=$RESULTS/$TS.md
: >"$JSONL"

# record W KEY LABEL TOOL REP VALUE UNIT
record() {
  local load
  read -r load _ </proc/loadavg
  printf '{"w":%d,"key":"%s","label":"%s","tool":"%s","rep":%d,"value":%s,"unit":"%s","load":%s}\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$load" >>"$JSONL"
  log "  $2 [$4] rep $5: $6 $7 (load $load)"
}

# ------------------------------------------------------------ mounts

# mount_fs TOOL CONTAINER CACHE_DIR [extra flags]: mount at $MNT, fresh
# process; the daemon's pid goes to MPID.
mount_fs() {
  local tool=$1 c=$2 cache=$3
  shift 3
  mkdir -p "$MNT" "$cache"
  case $tool in
    swiftfs)
      "$SWIFTFS" mount --cache-dir "$cache" "${SWIFTFS_FLAGS[@]}" "$@" "$c" "$MNT" >>"$LOGS/swiftfs.log" 2>&1 &
      ;;
    rclone)
      rclone mount "bench:$c" "$MNT" "${RCLONE_BASE[@]}" --cache-dir "$cache" "${RCLONE_FLAGS[@]}" "$@" \
        --log-file "$LOGS/rclone.log" >>"$LOGS/rclone.out" 2>&1 &
      ;;
    *) die "mount_fs: $tool" ;;
  esac
  MPID=$!
  ACTIVE[$MNT]=$MPID
  local i
  for ((i = 0; i < 600; i++)); do
    grep -q " $MNT fuse" /proc/mounts && return 0
    kill -0 "$MPID" 2>/dev/null || die "$tool mount of $c exited (see $LOGS)"
    sleep 0.05
  done
  die "$tool mount of $c did not come up in 30 s"
}

# umount_fs: unmount $MNT and wait for the daemon to exit (swiftfs uploads
# what is pending first).
umount_fs() {
  local pid=${ACTIVE[$MNT]} i
  for ((i = 0; i < 20; i++)); do
    fusermount3 -u "$MNT" 2>/dev/null && break
    sleep 0.5
  done
  grep -q " $MNT fuse" /proc/mounts && { log "lazy unmount of $MNT"; umount -l "$MNT"; }
  wait "$pid" 2>/dev/null || true
  unset "ACTIVE[$MNT]"
}

# vmhwm PID: peak resident set in MB (10^6 bytes).
vmhwm() { awk '/^VmHWM:/ { printf "%.1f", $2 * 1024 / 1e6 }' "/proc/$1/status"; }

fio_read() { # FILE INVALIDATE(0|1) -> MiB/s
  fio --name=read --filename="$1" --rw=read --bs=1M --ioengine=psync --invalidate="$2" --readonly \
    --output-format=json 2>/dev/null | "$BT" fiobw
}

# readfiles [-p N] PATH... -> seconds; checks the byte count against $EXPECT.
readfiles() {
  local out bytes secs
  out=$("$BT" readfiles "$@")
  read -r bytes secs <<<"$out"
  [[ $bytes == "$EXPECT" ]] || die "read $bytes bytes, expected $EXPECT"
  echo "$secs"
}

purge() { "$BT" swift purge -c "$1" "${@:2}" || log "warning: could not empty $1 (left for the next run)"; }
fresh_container() {
  purge "$1" >/dev/null 2>&1 || true
  "$BT" swift mkcontainer -c "$1"
  CREATED+=("$1")
}

BIG_H=$(human "$BIG_BYTES")

# The BIG object in "${CP}read" (workloads 1 and 2), and its local source.
BIG_READY=0
ensure_big() {
  [[ -f $WORK/big ]] || "$BT" gen -size "$BIG" "$WORK/big"
  if ((!BIG_READY)); then
    fresh_container "${CP}read"
    log "uploading the $BIG_H object"
    (cd "$WORK" && swift upload "${CP}read" big >/dev/null)
    BIG_READY=1
  fi
}

# ------------------------------------------------------------ workloads

w1() {
  log "1: cold sequential read of a $BIG_H object"
  ensure_big
  local rep tool t0 s url tok
  for ((rep = 1; rep <= REPS; rep++)); do
    for tool in swiftfs rclone "swift download" "curl GET"; do
      skip 1 "$tool" && continue
      case $tool in
        swiftfs | rclone)
          rm -rf "$WORK/cache"
          mount_fs "$tool" "${CP}read" "$WORK/cache"
          s=$(EXPECT=$BIG_BYTES readfiles "$MNT/big")
          umount_fs
          ;;
        "swift download")
          t0=$(now)
          (cd "$WORK" && swift download "${CP}read" big -o "$WORK/dl" >/dev/null)
          s=$(since "$t0")
          rm -f "$WORK/dl"
          ;;
        "curl GET")
          read -r url tok < <("$BT" swift auth)
          t0=$(now)
          curl -sf -H "X-Auth-Token: $tok" -o /dev/null "$url/${CP}read/big"
          s=$(since "$t0")
          ;;
      esac
      record 1 cold_read "cold sequential read of a $BIG_H object (fresh mount, empty cache)" "$tool" $rep "$(mibs "$BIG_BYTES" "$s")" MiB/s
    done
  done
  rm -rf "$WORK/cache"
}

WARM_WAIT=$((2 + BIG_BYTES / (100 << 20)))
w2() {
  log "2: warm re-read of the $BIG_H object ($WARM_WAIT s after the first read)"
  ensure_big
  local rep tool hot disk
  for ((rep = 1; rep <= REPS; rep++)); do
    for tool in swiftfs rclone "local disk"; do
      skip 2 "$tool" && continue
      case $tool in
        swiftfs | rclone)
          rm -rf "$WORK/cache"
          mount_fs "$tool" "${CP}read" "$WORK/cache"
          EXPECT=$BIG_BYTES readfiles "$MNT/big" >/dev/null # fills the cache
          # A re-read some time later, when the download's background work
          # (swiftfs: an MD5 pass over a parallel download) is over.
          sleep "$WARM_WAIT"
          # The mount's page cache is dropped (fio's invalidate), the daemon's
          # cached copy stays in the host page cache.
          hot=$(fio_read "$MNT/big" 1)
          # Both dropped: the cached copy is read from the local disk.
          "$BT" dropcache "$WORK/cache"
          disk=$(fio_read "$MNT/big" 1)
          umount_fs
          ;;
        "local disk")
          cat "$WORK/big" >/dev/null
          hot=$(fio_read "$WORK/big" 0)
          "$BT" dropcache "$WORK/big"
          disk=$(fio_read "$WORK/big" 1)
          ;;
      esac
      record 2 warm_read_disk "warm re-read, $BIG_H, cached copy read from disk (page cache dropped)" "$tool" $rep "$disk" MiB/s
      record 2 warm_read_hot "warm re-read, $BIG_H, cached copy in the page cache" "$tool" $rep "$hot" MiB/s
    done
  done
  rm -rf "$WORK/cache"
}

w3() {
  log "3: write $BIG_H until durable in Swift"
  [[ -f $WORK/big ]] || "$BT" gen -size "$BIG" "$WORK/big"
  fresh_container "${CP}write"
  local rep tool t0 closed s obj
  for ((rep = 1; rep <= REPS; rep++)); do
    for tool in swiftfs rclone "swift upload"; do
      skip 3 "$tool" && continue
      obj=w$rep-${tool// /-}
      cat "$WORK/big" >/dev/null # the source is read from the page cache by every tool
      case $tool in
        swiftfs | rclone)
          rm -rf "$WORK/cache"
          mount_fs "$tool" "${CP}write" "$WORK/cache"
          t0=$(now)
          dd if="$WORK/big" of="$MNT/$obj" bs=1M status=none
          closed=$(since "$t0")
          if [[ $tool == swiftfs ]]; then
            "$SWIFTFS" sync "$MNT" >/dev/null
          else
            "$BT" swift wait -c "${CP}write" -prefix "$obj" -count 1 -size "$BIG_BYTES" >/dev/null
          fi
          s=$(since "$t0")
          "$BT" swift wait -c "${CP}write" -prefix "$obj" -count 1 -size "$BIG_BYTES" -timeout 10s >/dev/null ||
            die "$tool: $obj not in Swift after sync"
          umount_fs
          record 3 write_close "write $BIG_H, until close() returns" "$tool" $rep "$(mibs "$BIG_BYTES" "$closed")" MiB/s
          ;;
        "swift upload")
          t0=$(now)
          (cd "$WORK" && swift upload "${CP}write" big --object-name "$obj" >/dev/null)
          s=$(since "$t0")
          ;;
      esac
      record 3 write_durable "write $BIG_H until durable in Swift" "$tool" $rep "$(mibs "$BIG_BYTES" "$s")" MiB/s
      purge "${CP}write" -prefix "$obj"
    done
  done
  rm -rf "$WORK/cache"
  purge "${CP}write"
}

w4() {
  local size_h
  size_h=$(human "$SMALL_BYTES")
  log "4: $SMALL_N files of $size_h: create until durable, read back cold"
  fresh_container "${CP}small"
  rm -rf "$WORK/small"
  "$BT" mkfiles -n "$SMALL_N" -size "$SMALL_SIZE" "$WORK/small"
  local rep tool t0 s r d
  for ((rep = 1; rep <= REPS; rep++)); do
    for tool in swiftfs rclone "swift upload"; do
      skip 4 "$tool" && continue
      d=s$rep-${tool// /-}
      case $tool in
        swiftfs | rclone)
          rm -rf "$WORK/cache"
          mount_fs "$tool" "${CP}small" "$WORK/cache"
          t0=$(now)
          "$BT" mkfiles -n "$SMALL_N" -size "$SMALL_SIZE" "$MNT/$d"
          if [[ $tool == swiftfs ]]; then
            "$SWIFTFS" sync "$MNT" >/dev/null
          else
            "$BT" swift wait -c "${CP}small" -prefix "$d/" -count "$SMALL_N" -size "$SMALL_BYTES" >/dev/null
          fi
          s=$(since "$t0")
          "$BT" swift wait -c "${CP}small" -prefix "$d/" -count "$SMALL_N" -size "$SMALL_BYTES" -timeout 10s >/dev/null ||
            die "$tool: $d not in Swift after sync"
          umount_fs
          rm -rf "$WORK/cache"
          mount_fs "$tool" "${CP}small" "$WORK/cache"
          r=$(EXPECT=$((SMALL_N * SMALL_BYTES)) readfiles "$MNT/$d")
          umount_fs
          ;;
        "swift upload")
          mv "$WORK/small" "$WORK/$d"
          t0=$(now)
          (cd "$WORK" && swift upload "${CP}small" "$d" >/dev/null)
          s=$(since "$t0")
          mv "$WORK/$d" "$WORK/small"
          rm -rf "$WORK/dl"
          t0=$(now)
          swift download "${CP}small" -p "$d/" -D "$WORK/dl" >/dev/null
          r=$(since "$t0")
          rm -rf "$WORK/dl"
          tool="swift upload/download"
          ;;
      esac
      record 4 small_create "$SMALL_N × $size_h files: create until durable" "$tool" $rep "$s" s
      record 4 small_read "$SMALL_N × $size_h files: read back cold (fresh mount)" "$tool" $rep "$r" s
    done
  done
  rm -rf "$WORK/cache" "$WORK/small"
  purge "${CP}small"
}

# The container of LS_N objects is made once with the bulk middleware and
# kept between runs (it is small; making it takes minutes).
ensure_ls() {
  LS_C=bench-ls$LS_N
  if [[ $("$BT" swift count -c "$LS_C") != "$LS_N" ]]; then
    log "creating $LS_N objects in $LS_C with one bulk extract-archive PUT (takes a while)"
    fresh_container "$LS_C"
    local t0
    t0=$(now)
    "$BT" tar -n "$LS_N" -prefix d/ -size 256 | "$BT" swift bulkput -c "$LS_C" >/dev/null
    log "  bulk upload took $(since "$t0") s"
  fi
}

w5() {
  log "5: ls -l and stat of a directory of $LS_N objects"
  ensure_ls
  local rep tool t0 s n
  for ((rep = 1; rep <= REPS; rep++)); do
    for tool in swiftfs rclone "swift list"; do
      skip 5 "$tool" && continue
      case $tool in
        swiftfs | rclone)
          rm -rf "$WORK/cache"
          mount_fs "$tool" "$LS_C" "$WORK/cache"
          t0=$(now)
          n=$(ls -l "$MNT/d" | wc -l)
          s=$(since "$t0")
          ((n == LS_N + 1)) || die "$tool: ls -l showed $((n - 1)) entries, expected $LS_N"
          record 5 ls_cold "\`ls -l\` of $LS_N objects, cold (fresh mount)" "$tool" $rep "$s" s
          t0=$(now)
          ls -l "$MNT/d" >/dev/null
          record 5 ls_warm "\`ls -l\` of $LS_N objects, warm (again)" "$tool" $rep "$(since "$t0")" s
          umount_fs
          mount_fs "$tool" "$LS_C" "$WORK/cache"
          t0=$(now)
          "$BT" statnames -n "$LS_N" "$MNT/d"
          record 5 stat_cold "\`stat\` of $LS_N files by name, cold (fresh mount, no readdir)" "$tool" $rep "$(since "$t0")" s
          t0=$(now)
          "$BT" statnames -n "$LS_N" "$MNT/d"
          record 5 stat_warm "\`stat\` of $LS_N files by name, warm (again)" "$tool" $rep "$(since "$t0")" s
          umount_fs
          ;;
        "swift list")
          t0=$(now)
          n=$(swift list "$LS_C" --prefix d/ | wc -l)
          s=$(since "$t0")
          ((n == LS_N)) || die "swift list showed $n objects, expected $LS_N"
          record 5 ls_cold "\`ls -l\` of $LS_N objects, cold (fresh mount)" "$tool" $rep "$s" s
          t0=$(now)
          swift list "$LS_C" --prefix d/ >/dev/null
          record 5 ls_warm "\`ls -l\` of $LS_N objects, warm (again)" "$tool" $rep "$(since "$t0")" s
          ;;
      esac
    done
  done
  rm -rf "$WORK/cache"
}

w6() {
  local size_h
  size_h=$(human "$BUTLER_BYTES")
  log "6: Butler pattern, $BUTLER_N × (write $size_h to a temp name, close, rename, chmod) until durable"
  local rep tool t0 s c off counts m what
  for ((rep = 1; rep <= REPS; rep++)); do
    for tool in swiftfs rclone "local disk"; do
      skip 6 "$tool" && continue
      c=${CP}butler-${tool// /-}-$rep
      case $tool in
        swiftfs | rclone)
          fresh_container "$c"
          sleep 1
          off=$(stat -c %s "$PROXY_LOG")
          rm -rf "$WORK/cache"
          mount_fs "$tool" "$c" "$WORK/cache"
          t0=$(now)
          "$BT" butler -n "$BUTLER_N" -size "$BUTLER_SIZE" "$MNT/run"
          if [[ $tool == swiftfs ]]; then
            "$SWIFTFS" sync "$MNT" >/dev/null
          else
            "$BT" swift wait -c "$c" -prefix run/ -count "$BUTLER_N" -size "$BUTLER_BYTES" >/dev/null
          fi
          s=$(since "$t0")
          "$BT" swift wait -c "$c" -prefix run/ -count "$BUTLER_N" -size "$BUTLER_BYTES" -timeout 10s >/dev/null ||
            die "$tool: the datasets are not in Swift after sync"
          umount_fs
          sleep 1 # the proxy logs a request when it ends
          counts=$("$BT" proxylog -log "$PROXY_LOG" -offset "$off" -container "$c")
          echo "$tool rep $rep: $counts" >>"$LOGS/butler-requests.log"
          for m in PUT PUT_dir COPY DELETE POST HEAD GET; do
            what="$m requests"
            [[ $m == PUT_dir ]] && what="PUT requests of directory markers"
            [[ $m == PUT ]] && what="PUT requests of objects"
            record 6 "butler_$m" "Butler pattern: $what" "$tool" $rep "$(jq_get "$counts" "$m")" count
          done
          record 6 butler_copy "Butler pattern: server-side copies (COPY or PUT with X-Copy-From)" "$tool" $rep \
            "$(jq_get "$counts" SSC)" count
          record 6 butler_put_per_dataset "Butler pattern: PUT requests per dataset" "$tool" $rep \
            "$(awk -v p="$(jq_get "$counts" PUT)" -v n="$BUTLER_N" 'BEGIN { printf "%.2f", p / n }')" ratio
          rm -rf "$WORK/cache"
          purge "$c"
          ;;
        "local disk")
          rm -rf "$WORK/butler"
          t0=$(now)
          "$BT" butler -n "$BUTLER_N" -size "$BUTLER_SIZE" "$WORK/butler"
          sync -f "$WORK/butler"
          s=$(since "$t0")
          rm -rf "$WORK/butler"
          ;;
      esac
      record 6 butler_time "Butler pattern: $BUTLER_N × $size_h, until durable" "$tool" $rep "$s" s
    done
  done
}

# jq_get JSON KEY: a number from benchtool's flat JSON object.
jq_get() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }

w7() {
  local size_h total
  size_h=$(human "$PAR_BYTES")
  total=$((PAR_N * PAR_BYTES))
  log "7: $PAR_P parallel readers of $PAR_N objects of $size_h"
  fresh_container "${CP}par"
  rm -rf "$WORK/par"
  mkdir -p "$WORK/par"
  local i names=()
  for ((i = 0; i < PAR_N; i++)); do names+=("p$i"); done
  (cd "$WORK/par" && "$BT" gen -size "$PAR_SIZE" "${names[@]}" &&
    swift upload --object-threads "$PAR_P" "${CP}par" "${names[@]}" >/dev/null)
  rm -rf "$WORK/par"
  local rep tool t0 s
  for ((rep = 1; rep <= REPS; rep++)); do
    for tool in swiftfs rclone "swift download"; do
      skip 7 "$tool" && continue
      case $tool in
        swiftfs | rclone)
          rm -rf "$WORK/cache"
          mount_fs "$tool" "${CP}par" "$WORK/cache"
          s=$(EXPECT=$total readfiles -p "$PAR_P" "${names[@]/#/$MNT/}")
          umount_fs
          ;;
        "swift download")
          rm -rf "$WORK/dl"
          t0=$(now)
          swift download --object-threads "$PAR_P" "${CP}par" -D "$WORK/dl" >/dev/null
          s=$(since "$t0")
          rm -rf "$WORK/dl"
          ;;
      esac
      record 7 par_read "$PAR_P parallel readers, $PAR_N objects of $size_h, cold" "$tool" $rep "$(mibs "$total" "$s")" MiB/s
    done
  done
  rm -rf "$WORK/cache"
  purge "${CP}par"
}

# w8: for each size, two measurements on a fresh daemon each: a pure
# listing (`ls -f`: readdir only, no stat, unsorted) and `ls -l` (readdir
# plus a stat of every name, so that the kernel makes an inode per name and
# the daemon keeps one for each while the kernel caches it).
w8() {
  log "8: daemon peak RSS after listing (fake Swift listing server)"
  local n label rep tool t0 s cnt how what reps=$REPS
  ((reps > 2)) && reps=2 # deterministic enough; the 1M listing is the slowest step
  for n in $RSS_NS; do
    label=$(awk -v n="$n" 'BEGIN { if (n >= 1e6 && n % 1e6 == 0) printf "%dM", n / 1e6; else if (n >= 1000 && n % 1000 == 0) printf "%dk", n / 1000; else print n }')
    rm -f "$WORK/fake.addr"
    "$BT" fakeswift -n "$n" -addr-file "$WORK/fake.addr" 2>>"$LOGS/fakeswift.log" &
    FAKE_PID=$!
    for ((i = 0; i < 100; i++)); do [[ -s $WORK/fake.addr ]] && break; sleep 0.05; done
    local auth
    auth=http://$(<"$WORK/fake.addr")/auth/v1.0
    for ((rep = 1; rep <= reps; rep++)); do
      for how in list ls_l; do
        for tool in swiftfs rclone; do
          skip 8 "$tool" && continue
          # rclone needs minutes and GBs for a million entries: compared up
          # to BENCH_RSS_RCLONE_MAX only.
          [[ $tool == rclone ]] && ((n > ${BENCH_RSS_RCLONE_MAX:-100000})) && continue
          rm -rf "$WORK/cache"
          if [[ $tool == swiftfs ]]; then
            ST_AUTH=$auth ST_USER=fake ST_KEY=fake mount_fs swiftfs fake "$WORK/cache"
          else
            # --no-modtime: the listing's time, not one HEAD per object.
            RCLONE_CONFIG_BENCH_AUTH=$auth RCLONE_CONFIG_BENCH_USER=fake RCLONE_CONFIG_BENCH_KEY=fake \
              mount_fs rclone fake "$WORK/cache" --no-modtime
          fi
          t0=$(now)
          if [[ $how == list ]]; then
            # shellcheck disable=SC2010 # the names are known; . and .. if the file system lists them
            cnt=$(ls -f "$MNT/big" | grep -cvxF -e . -e ..)
            what="listing (\`ls -f\`: readdir only, no stat)"
          else
            cnt=$(($(ls -l "$MNT/big" | wc -l) - 1)) # the "total" line
            what="\`ls -l\` (readdir + stat of every name)"
          fi
          s=$(since "$t0")
          ((cnt == n)) || die "$tool: $how showed $cnt entries, expected $n"
          record 8 "rss_${how}_$label" "daemon peak RSS (VmHWM) after $what of $label objects in one directory (fake Swift)" \
            "$tool" $rep "$(vmhwm "$MPID")" MB
          record 8 "${how}_fake_$label" "$what of $label objects in one directory (fake Swift), cold" "$tool" $rep "$s" s
          umount_fs
        done
      done
    done
    kill -TERM "$FAKE_PID"
    wait "$FAKE_PID" || true
    FAKE_PID=""
  done
  rm -rf "$WORK/cache"
}

# w9: import of a local tree (IMP_DIRS directories of IMP_N files of
# IMP_SIZE, and IMP_BIG_N files of IMP_BIG) into an empty container, each
# tool with its default parallelism, then the same command again on the
# unchanged tree (what a resumed import costs when everything is there).
w9() {
  local size_h big_h total files
  size_h=$(human "$(bytes_of "$IMP_SIZE")")
  big_h=$(human "$(bytes_of "$IMP_BIG")")
  files=$((IMP_DIRS * IMP_N + IMP_BIG_N))
  total=$((IMP_DIRS * IMP_N * $(bytes_of "$IMP_SIZE") + IMP_BIG_N * $(bytes_of "$IMP_BIG")))
  local what="$((IMP_DIRS * IMP_N)) × $size_h + $IMP_BIG_N × $big_h in $IMP_DIRS directories"
  log "9: import of a tree: $what"
  rm -rf "$WORK/imp"
  local d i
  for ((d = 0; d < IMP_DIRS; d++)); do
    "$BT" mkfiles -n "$IMP_N" -size "$IMP_SIZE" "$WORK/imp/d$d"
  done
  for ((i = 0; i < IMP_BIG_N; i++)); do
    "$BT" gen -size "$IMP_BIG" "$WORK/imp/big$i"
  done
  cat "$WORK/imp"/big* >/dev/null # every tool reads the source from the page cache
  local rep tool t0 s first again c n pass
  for ((rep = 1; rep <= REPS; rep++)); do
    for tool in swiftfs rclone "swift upload"; do
      skip 9 "$tool" && continue
      c=${CP}import-${tool// /-}-$rep
      fresh_container "$c"
      for pass in 1 2; do
        t0=$(now)
        case $tool in
          swiftfs) "$SWIFTFS" import --progress none "$WORK/imp" "$c" >>"$LOGS/import.log" 2>&1 ;;
          rclone) rclone copy "$WORK/imp" "bench:$c" --log-file "$LOGS/rclone.log" ;;
          # --skip-identical: the second pass compares ETags instead of uploading again.
          "swift upload") (cd "$WORK/imp" && swift upload --skip-identical "$c" . >/dev/null) ;;
        esac
        s=$(since "$t0")
        if ((pass == 1)); then first=$s; else again=$s; fi
      done
      n=$("$BT" swift count -c "$c")
      # swiftfs also stores a marker per directory.
      ((n >= files)) || die "$tool: $n objects in $c after the import, expected $files"
      record 9 import_time "\`swiftfs import\` / \`rclone copy\` / \`swift upload\` of $what" "$tool" $rep "$(mibs "$total" "$first")" MiB/s
      record 9 import_again "the same command again, nothing changed (swift: --skip-identical)" "$tool" $rep "$again" s
      purge "$c"
    done
  done
  rm -rf "$WORK/imp"
}

w10() {
  log "10: Butler processing run of $SCN_N raw files (bench/butler_scenario.py): copy in, registry, headers, outputs"
  local src=$WORK/scn-src rep tool c out s base ph
  local py=/usr/bin/python3 # the Debian interpreter: python3-astropy
  if ! "$py" -c 'import astropy.io.fits, numpy' 2>/dev/null; then
    log "installing python3-astropy"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-astropy >/dev/null 2>&1 ||
      die "workload 10 needs python3-astropy for $py"
  fi
  rm -rf "$src"
  "$py" bench/butler_scenario.py make "$src" "$SCN_N"
  for ((rep = 1; rep <= REPS; rep++)); do
    base=""
    for tool in "local disk" swiftfs; do
      skip 10 "$tool" && continue
      case $tool in
        swiftfs)
          c=${CP}scn-$rep
          fresh_container "$c"
          rm -rf "$WORK/cache"
          mount_fs swiftfs "$c" "$WORK/cache"
          out=$("$py" bench/butler_scenario.py run "$src" "$MNT")
          umount_fs
          rm -rf "$WORK/cache"
          purge "$c"
          ;;
        "local disk")
          rm -rf "$WORK/scn"
          mkdir -p "$WORK/scn"
          out=$("$py" bench/butler_scenario.py run "$src" "$WORK/scn")
          rm -rf "$WORK/scn"
          ;;
      esac
      s=$(jq_float "$out" total)
      for ph in copy registry headers outputs; do
        record 10 "scn_$ph" "Butler run: phase $ph" "$tool" $rep "$(jq_float "$out" $ph)" s
      done
      record 10 scn_time "Butler run: $SCN_N raw files, total" "$tool" $rep "$s" s
      if [[ $tool == "local disk" ]]; then
        base=$s
      elif [[ -n $base ]]; then
        record 10 scn_ratio "Butler run: time on the mount ÷ time on local disk (target ≤ 1.5)" "$tool" $rep \
          "$(awk -v a="$s" -v b="$base" 'BEGIN { printf "%.2f", a / b }')" ratio
      fi
    done
  done
  rm -rf "$src"
}

# jq_float JSON KEY: a decimal number from a flat JSON object.
jq_float() { sed -n "s/.*\"$2\": *\([0-9.]*\).*/\1/p" <<<"$1"; }

# ------------------------------------------------------------ run

write_meta() {
  local end_load
  read -r end_load _ </proc/loadavg
  {
    echo "## Run $TS$( ((SMOKE)) && echo " (smoke: tiny sizes, not a measurement)")"
    echo
    echo "- machine: $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r), scratch and cache on $(df -T "$WORK" | awk 'NR == 2 { print $2 " (" $1 ")" }')"
    echo "- load average at start $START_LOAD, at end $end_load (the machine is shared; every sample records it)"
    if [[ -n ${BENCH_SWIFTFS_BIN:-} ]]; then
      echo "- swiftfs $("$SWIFTFS" version | awk '{ print $2 }') (the binary $BENCH_SWIFTFS_BIN), $(go version | awk '{ print $3 }')"
    else
      echo "- swiftfs $("$SWIFTFS" version | awk '{ print $2 }') ($(git describe --always --dirty 2>/dev/null || echo '?')), $(go version | awk '{ print $3 }')"
    fi
    echo "- rclone $(rclone version | head -1 | awk '{ print $2 }'), fio $(fio --version), python-swiftclient $(dpkg-query -W -f '${Version}' python3-swiftclient), Swift $(dpkg-query -W -f '${Version}' swift) (SAIO: 1 replica, proxy workers ${SAIO_PROXY_WORKERS:-2}, ext4 directory device)"
    echo "- swiftfs flags: \`mount --cache-dir DIR ${SWIFTFS_FLAGS[*]}\` (defaults otherwise: write-back async, delay 3s, metadata TTL 30s, 4 uploaders); durable = \`swiftfs sync\` returned"
    echo "- rclone flags: \`mount bench:CONTAINER MNT ${RCLONE_BASE[*]} --cache-dir DIR ${RCLONE_FLAGS[*]}\` (foreground process in the background, so that its pid is known; otherwise like \`--daemon\`); durable = the container listing shows the objects with their sizes (polled every 0.2 s)"
    echo "- GODEBUG=${GODEBUG:-} (exported by the Makefile to both Go daemons)"
    echo "- repetitions: $REPS (workload 8: $(( REPS > 2 ? 2 : REPS ))), in alternation swiftfs, rclone, reference; workloads: $ONLY; total time $(awk -v s="$(since "$BENCH_START")" 'BEGIN { printf "%.0f", s / 60 }') min"
    echo "- every mount is a fresh process with an empty cache directory unless the row says otherwise"
  } >"$META"
}

read -r START_LOAD _ </proc/loadavg
log "results: $JSONL (reps $REPS, workloads $ONLY, scratch $WORK)"
for w in 1 2 3 4 5 6 7 8 9 10; do
  if wants $w; then
    "w$w"
  fi
done
if wants 1 || wants 2; then
  purge "${CP}read"
  rm -f "$WORK/big"
fi
write_meta
"$BT" report -in "$JSONL" -meta "$META" >"$REPORT"
cat "$REPORT"
log "report: $REPORT (samples: $JSONL); $(since "$BENCH_START") s"
