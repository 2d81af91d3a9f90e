#!/usr/bin/env bash
# swift.sh - run a real OpenStack Swift (and optionally Keystone v3) from
# Debian packages on 127.0.0.1, for tests, CI and the demo.
#
#   swift.sh install [--keystone]   apt-get install what is missing (root)
#   swift.sh start   [--keystone]   start (no-op when already running and healthy)
#   swift.sh stop                   stop the daemons this script started
#   swift.sh status                 show daemons; exit 0 only when healthy
#   swift.sh env     [--keystone]   print export lines for clients:
#                                   eval "$(test/integration/saio/swift.sh env)"
#   swift.sh reset                  stop and delete SAIO_DIR
#
# See README.md next to this file for the environment variables.
set -euo pipefail
set +m # no job control: background children stay in our process group, so
#        setsid(1) does not fork and $! is the daemon's pid.

# The pyenv python lacks the swift modules; make sure nothing leaks into
# /usr/bin/python3 and the daemons.
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONUSERBASE || true

PY=/usr/bin/python3
SAIO_HOST=127.0.0.1
SAIO_DIR=${SAIO_DIR:-/tmp/saio}
SAIO_PORT=${SAIO_PORT:-8080}
SAIO_PROXY_WORKERS=${SAIO_PROXY_WORKERS:-2}
SAIO_TOKEN_LIFE=${SAIO_TOKEN_LIFE:-86400}
SAIO_KEYSTONE=${SAIO_KEYSTONE:-0}
SAIO_KEYSTONE_PORT=${SAIO_KEYSTONE_PORT:-5000}
SAIO_KEYSTONE_PROCESSES=${SAIO_KEYSTONE_PROCESSES:-2}
SAIO_KEYSTONE_ADMIN_PASSWORD=${SAIO_KEYSTONE_ADMIN_PASSWORD:-adminpass}
SAIO_MEMCACHED_PORT=${SAIO_MEMCACHED_PORT:-11211}
SAIO_OBJECT_PORT=${SAIO_OBJECT_PORT:-6200}
SAIO_CONTAINER_PORT=${SAIO_CONTAINER_PORT:-6201}
SAIO_ACCOUNT_PORT=${SAIO_ACCOUNT_PORT:-6202}
SAIO_START_TIMEOUT=${SAIO_START_TIMEOUT:-60}
# container-/object-updater sweep interval. Each sweep forks a child that runs
# eventlet.monkey_patch() (~0.7-1.2 s CPU), so 2 s burns about one of the two
# cores; 10 s (both updaters: ~25 % of one core) keeps the account counts
# fresh enough. Benchmarks: 60 or more.
SAIO_UPDATER_INTERVAL=${SAIO_UPDATER_INTERVAL:-10}
SAIO_OBJECT_UPDATER_INTERVAL=${SAIO_OBJECT_UPDATER_INTERVAL:-$SAIO_UPDATER_INTERVAL}
# The container-updater forks one child (and monkey-patches) per container
# ring PARTITION that holds a container DB: with part_power 10 every new
# container costs ~1 s of CPU per sweep. Part power 0 = one partition, one fork.
SAIO_CONTAINER_PART_POWER=${SAIO_CONTAINER_PART_POWER:-0}
SAIO_EXPIRER_INTERVAL=${SAIO_EXPIRER_INTERVAL:-2}
SAIO_TMPFS=${SAIO_TMPFS:-0}
SAIO_TMPFS_SIZE=${SAIO_TMPFS_SIZE:-2g}

SWIFT_PKGS=(swift swift-proxy swift-object swift-container swift-account
  swift-object-expirer python3-swiftclient memcached fuse3 attr)
KEYSTONE_PKGS=(python3-keystone python3-keystonemiddleware
  python3-keystoneclient uwsgi-core uwsgi-plugin-python3)

# Start order (stop TERMs all process groups at once).
CORE_DAEMONS=(memcached account-server container-server object-server proxy-server)
LATE_DAEMONS=(container-updater object-updater object-expirer)

die() { echo "swift.sh: $*" >&2; exit 1; }
log() { echo "swift.sh: $*" >&2; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in SAIO_PORT SAIO_PROXY_WORKERS SAIO_TOKEN_LIFE SAIO_KEYSTONE_PORT \
  SAIO_KEYSTONE_PROCESSES SAIO_MEMCACHED_PORT SAIO_OBJECT_PORT \
  SAIO_CONTAINER_PORT SAIO_ACCOUNT_PORT SAIO_START_TIMEOUT \
  SAIO_UPDATER_INTERVAL SAIO_OBJECT_UPDATER_INTERVAL SAIO_EXPIRER_INTERVAL \
  SAIO_CONTAINER_PART_POWER; do
  is_uint "${!v}" || die "$v must be a non-negative integer (got '${!v}')"
done

case $SAIO_DIR in /*) ;; *) SAIO_DIR=$PWD/$SAIO_DIR ;; esac
SAIO_DIR=$(realpath -m -- "$SAIO_DIR")
case $SAIO_DIR in
  / | /tmp | /root | /home | /usr | /etc | /var | /work) die "refusing SAIO_DIR=$SAIO_DIR" ;;
esac

ETC=$SAIO_DIR/etc
RUN=$SAIO_DIR/run
LOGD=$SAIO_DIR/log
SRV=$SAIO_DIR/srv
CACHE=$SAIO_DIR/cache
KS=$SAIO_DIR/keystone
MARKER=$SAIO_DIR/.swift-saio # reset only deletes a directory carrying this

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- processes

# proc_field PID N: print field N (1-based, after the "(comm)") of
# /proc/PID/stat; field 1 is the state, 3 the process group. Fails when gone.
proc_field() {
  local line rest n=$2
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
  rest=${line##*) }
  # shellcheck disable=SC2086 # word splitting wanted
  set -- $rest
  (($# >= n)) || return 1
  shift $((n - 1))
  printf '%s\n' "$1"
}

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  is_uint "$1" || return 1
  st=$(proc_field "$1" 1) || return 1
  [[ $st != Z && $st != X ]]
}

# ours PID: its command line mentions our SAIO_DIR (pid files can outlive a
# reboot, pids get reused: never signal something we did not start).
ours() {
  local cmd
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"$SAIO_DIR/"* ]]
}

# pid_of NAME: print the pid of our running daemon NAME, fail otherwise.
pid_of() {
  local f=$RUN/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  alive "$pid" && ours "$pid" || return 1
  echo "$pid"
}

# live_pgroups: print the process groups that still have a live
# (non-zombie) member, one per line.
live_pgroups() {
  local f line rest
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    rest=${line##*) }
    # shellcheck disable=SC2086
    set -- $rest
    [[ $1 == Z || $1 == X ]] || echo "$3"
  done | sort -u
}

# spawn NAME CMD...: start CMD in its own session/process group, output to
# log/NAME.log, pid to run/NAME.pid.
spawn() {
  local name=$1
  shift
  setsid "$@" </dev/null >>"$LOGD/$name.log" 2>&1 9>&- &
  echo $! >"$RUN/$name.pid"
}

# stop_all: TERM every recorded process group, wait, KILL after 5 s.
stop_all() {
  local f name pid pgid groups=() t0 waited remaining
  shopt -s nullglob
  for f in "$RUN"/*.pid; do
    name=${f##*/}
    name=${name%.pid}
    pid=$(<"$f")
    if ! alive "$pid"; then
      rm -f "$f"
      continue
    fi
    if ! ours "$pid"; then
      log "$name: pid $pid does not belong to $SAIO_DIR, not touching it"
      rm -f "$f"
      continue
    fi
    pgid=$(proc_field "$pid" 3) || pgid=$pid
    if [[ $pgid == "$pid" ]]; then
      kill -TERM -- "-$pgid" 2>/dev/null || true
    else
      kill -TERM -- "$pid" 2>/dev/null || true
    fi
    groups+=("$pid")
  done
  shopt -u nullglob
  t0=$(now)
  waited=0
  while ((${#groups[@]})); do
    remaining=()
    local live
    live=$(live_pgroups)
    for pid in "${groups[@]}"; do
      if grep -qx -- "$pid" <<<"$live" || alive "$pid"; then
        remaining+=("$pid")
      fi
    done
    groups=("${remaining[@]+"${remaining[@]}"}")
    ((${#groups[@]})) || break
    if ((waited >= 50)); then
      for pid in "${groups[@]}"; do
        log "pid/group $pid did not exit after 5 s: KILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL -- "$pid" 2>/dev/null || true
      done
      waited=-20 # give KILL up to 2 s more, then give up
    elif ((waited == -1)); then
      log "still alive after KILL: ${groups[*]}"
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$RUN"/*.pid "$RUN/params"
  STOP_SECONDS=$(elapsed "$t0")
}

any_running() {
  local f pid
  for f in "$RUN"/*.pid; do
    [[ -f $f ]] || continue
    pid=$(<"$f")
    alive "$pid" && ours "$pid" && return 0
  done
  return 1
}

# ------------------------------------------------------------------ install

missing_pkgs() {
  local p st
  declare -A have=()
  while read -r p st; do
    [[ $st == installed ]] && have[$p]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)
  for p in "$@"; do
    [[ -n ${have[$p]:-} ]] || echo "$p"
  done
}

cmd_install() { # KEYSTONE [quiet]
  local ks=$1 quiet=${2:-} pkgs=("${SWIFT_PKGS[@]}") missing t0
  ((ks)) && pkgs+=("${KEYSTONE_PKGS[@]}")
  mapfile -t missing < <(missing_pkgs "${pkgs[@]}")
  if ((${#missing[@]} == 0)); then
    [[ -n $quiet ]] || log "packages already installed"
    return 0
  fi
  [[ $(id -u) == 0 ]] || die "need root to install: ${missing[*]}"
  log "installing: ${missing[*]}"
  t0=$(now)
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  log "installed in $(elapsed "$t0") s"
}

# ------------------------------------------------------------------- config

write_file() { # PATH MODE <content on stdin>; atomic, mode set before rename
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  chmod "$2" "$tmp"
  mv -f "$tmp" "$1"
}

common_default() { # PORT NAME
  cat <<EOF
[DEFAULT]
bind_ip = $SAIO_HOST
bind_port = $1
workers = 0
user = root
swift_dir = $ETC
devices = $SRV
mount_check = false
disable_fallocate = true
recon_cache_path = $CACHE
log_name = $2
log_level = INFO
EOF
}

write_configs() {
  local ks=$1 auth_pipeline="tempauth" reseller=AUTH

  # Swift 2.30 reads swift.conf from /etc/swift only (Debian ships one).
  if [[ ! -f /etc/swift/swift.conf ]]; then
    mkdir -p /etc/swift
    write_file /etc/swift/swift.conf 0644 <<'EOF'
[swift-hash]
swift_hash_path_suffix = changeme
swift_hash_path_prefix = changeme

[storage-policy:0]
name = Policy-0
default = yes
EOF
  fi

  {
    common_default "$SAIO_ACCOUNT_PORT" account-server
    cat <<'EOF'

[pipeline:main]
pipeline = healthcheck recon account-server

[app:account-server]
use = egg:swift#account

[filter:recon]
use = egg:swift#recon

[filter:healthcheck]
use = egg:swift#healthcheck

[account-replicator]
[account-auditor]
[account-reaper]
EOF
  } | write_file "$ETC/account-server.conf" 0644

  {
    common_default "$SAIO_CONTAINER_PORT" container-server
    cat <<EOF

[pipeline:main]
pipeline = healthcheck recon container-server

[app:container-server]
use = egg:swift#container

[filter:recon]
use = egg:swift#recon

[filter:healthcheck]
use = egg:swift#healthcheck

[container-updater]
# keeps the account's container/object/byte counts current
interval = $SAIO_UPDATER_INTERVAL
log_name = container-updater

[container-replicator]
[container-auditor]
[container-sync]
[container-sharder]
EOF
  } | write_file "$ETC/container-server.conf" 0644

  {
    common_default "$SAIO_OBJECT_PORT" object-server
    cat <<EOF

[pipeline:main]
pipeline = healthcheck recon object-server

[app:object-server]
use = egg:swift#object

[filter:recon]
use = egg:swift#recon

[filter:healthcheck]
use = egg:swift#healthcheck

[object-updater]
# sends the container updates that failed at PUT/DELETE time (async pendings)
interval = $SAIO_OBJECT_UPDATER_INTERVAL
log_name = object-updater

[object-replicator]
[object-reconstructor]
[object-auditor]
EOF
  } | write_file "$ETC/object-server.conf" 0644

  # The file name must contain "expirer": Swift 2.30 then uses the legacy
  # queue (the one the object server fills) and this file's pipeline as its
  # internal client.
  write_file "$ETC/object-expirer.conf" 0644 <<EOF
[DEFAULT]
user = root
swift_dir = $ETC
recon_cache_path = $CACHE
log_name = object-expirer

[object-expirer]
interval = $SAIO_EXPIRER_INTERVAL
log_name = object-expirer

[pipeline:main]
pipeline = catch_errors proxy-logging cache proxy-server

[app:proxy-server]
use = egg:swift#proxy

[filter:cache]
use = egg:swift#memcache
memcache_servers = $SAIO_HOST:$SAIO_MEMCACHED_PORT

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:proxy-logging]
use = egg:swift#proxy_logging
access_log_name = object-expirer
EOF

  if ((ks)); then
    # keystoneauth and tempauth both claim swift.authorize for accounts with
    # their reseller prefix: keystone keeps AUTH_, tempauth moves to TEMPAUTH_.
    auth_pipeline="authtoken keystoneauth tempauth"
    reseller=TEMPAUTH
  fi

  {
    cat <<EOF
[DEFAULT]
bind_ip = $SAIO_HOST
bind_port = $SAIO_PORT
workers = $SAIO_PROXY_WORKERS
user = root
swift_dir = $ETC
recon_cache_path = $CACHE
log_name = proxy-server
log_level = INFO

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl ratelimit crossdomain container_sync $auth_pipeline staticweb copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
reseller_prefix = $reseller
token_life = $SAIO_TOKEN_LIFE
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin
user_test_tester3 = testing3
user_test5_tester5 = testing5 service

[filter:cache]
use = egg:swift#memcache
memcache_servers = $SAIO_HOST:$SAIO_MEMCACHED_PORT

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl

[filter:ratelimit]
use = egg:swift#ratelimit

[filter:crossdomain]
use = egg:swift#crossdomain

[filter:container_sync]
use = egg:swift#container_sync

[filter:staticweb]
use = egg:swift#staticweb

[filter:copy]
use = egg:swift#copy

[filter:container-quotas]
use = egg:swift#container_quotas

[filter:account-quotas]
use = egg:swift#account_quotas

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
allow_object_versioning = true

[filter:symlink]
use = egg:swift#symlink
EOF
    if ((ks)); then
      cat <<EOF

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = http://$SAIO_HOST:$SAIO_KEYSTONE_PORT/v3
auth_url = http://$SAIO_HOST:$SAIO_KEYSTONE_PORT/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = swift
password = swiftpass
delay_auth_decision = true
service_token_roles_required = true
cache = swift.cache
include_service_catalog = false

[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member, swiftoperator
reseller_admin_role = ResellerAdmin
EOF
    fi
  } | write_file "$ETC/proxy-server.conf" 0600 # tempauth/keystone passwords
}

# Rings: 1 replica, min_part_hours 1, one device sdb1; part_power 10 for the
# object and account rings, SAIO_CONTAINER_PART_POWER (default 0) for the
# container ring. Built in one python process, only when missing or when
# host/ports/device/part power changed.
build_rings() {
  local want have=""
  want="v2 $SAIO_HOST object:$SAIO_OBJECT_PORT:10 container:$SAIO_CONTAINER_PORT:$SAIO_CONTAINER_PART_POWER account:$SAIO_ACCOUNT_PORT:10 sdb1 1 1"
  [[ -f $ETC/rings.params ]] && have=$(<"$ETC/rings.params")
  if [[ $have == "$want" && -f $ETC/object.ring.gz && -f $ETC/container.ring.gz && -f $ETC/account.ring.gz ]]; then
    return 0
  fi
  if [[ -n $have && -n $(ls -A "$SRV/sdb1" 2>/dev/null) ]]; then
    log "WARNING: ring layout changed; existing data may be unreachable (swift.sh reset)"
  fi
  "$PY" - "$ETC" "$SAIO_HOST" "object:$SAIO_OBJECT_PORT:10" \
    "container:$SAIO_CONTAINER_PORT:$SAIO_CONTAINER_PART_POWER" \
    "account:$SAIO_ACCOUNT_PORT:10" <<'EOF'
import os, sys
from swift.common.ring import RingBuilder
etc, host = sys.argv[1], sys.argv[2]
for spec in sys.argv[3:]:
    kind, port, part_power = spec.split(':')
    b = RingBuilder(int(part_power), 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': host, 'port': int(port),
               'device': 'sdb1', 'weight': 100.0, 'meta': ''})
    b.rebalance()
    b.save(os.path.join(etc, kind + '.builder'))
    b.get_ring().save(os.path.join(etc, kind + '.ring.gz'))
EOF
  echo "$want" >"$ETC/rings.params"
}

# ----------------------------------------------------------------- keystone

KS_URL="http://$SAIO_HOST:$SAIO_KEYSTONE_PORT/v3"

write_keystone_conf() {
  mkdir -p "$KS"
  chmod 0700 "$KS"
  write_file "$ETC/keystone.conf" 0600 <<EOF
[DEFAULT]
use_stderr = true

[database]
connection = sqlite:///$KS/keystone.db

[token]
provider = fernet
expiration = $SAIO_TOKEN_LIFE

[fernet_tokens]
key_repository = $KS/fernet-keys

[fernet_receipts]
key_repository = $KS/fernet-keys

[credential]
key_repository = $KS/credential-keys

[identity]
# bcrypt's minimum: every password check is ~1 ms instead of ~250 ms
password_hash_rounds = 4

[cache]
enabled = true
backend = dogpile.cache.memory
EOF
}

# First start only: database (sqlite in WAL mode), fernet and credential keys,
# bootstrap (admin user, RegionOne, identity endpoint). The four
# keystone-manage commands run in ONE python process: each keystone-manage
# costs ~2.5 s of imports.
keystone_bootstrap() {
  local want have="" t0
  want="v1 $SAIO_KEYSTONE_PORT $(sha256sum <<<"$SAIO_KEYSTONE_ADMIN_PASSWORD" | cut -c1-16)"
  [[ -f $KS/bootstrapped ]] && have=$(<"$KS/bootstrapped")
  [[ $have == "$want" && -f $KS/keystone.db ]] && return 0
  log "keystone: creating database and keys (first start only)"
  t0=$(now)
  rm -rf "$KS/keystone.db" "$KS/keystone.db-wal" "$KS/keystone.db-shm" \
    "$KS/fernet-keys" "$KS/credential-keys" "$KS/provisioned"
  OS_BOOTSTRAP_PASSWORD=$SAIO_KEYSTONE_ADMIN_PASSWORD "$PY" - "$ETC/keystone.conf" \
    "$KS/keystone.db" "$KS_URL" >>"$LOGD/keystone-manage.log" 2>&1 <<'EOF' ||
import sqlite3, sys
from keystone import conf as keystone_conf
from keystone.cmd import cli

conf, db, url = sys.argv[1:4]

def manage(*args):
    keystone_conf.CONF.clear()  # lets keystone-manage's main() parse again
    cli.main(argv=['keystone-manage', '--config-file', conf] + list(args))

manage('db_sync')
# rollback-journal sqlite gives "database is locked" (500s) under uwsgi
sqlite3.connect(db).execute('PRAGMA journal_mode=WAL')
manage('fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root')
manage('credential_setup', '--keystone-user', 'root', '--keystone-group', 'root')
manage('bootstrap', '--bootstrap-username', 'admin',
       '--bootstrap-project-name', 'admin', '--bootstrap-role-name', 'admin',
       '--bootstrap-service-name', 'keystone', '--bootstrap-region-id', 'RegionOne',
       '--bootstrap-admin-url', url, '--bootstrap-internal-url', url,
       '--bootstrap-public-url', url)
print('keystone bootstrap done')
EOF
    {
      tail -n 30 "$LOGD/keystone-manage.log" >&2
      return 1
    }
  (umask 077 && echo "$want" >"$KS/bootstrapped")
  log "keystone: bootstrap took $(elapsed "$t0") s"
}

uwsgi_bin() {
  local b
  for b in /usr/bin/uwsgi /usr/bin/uwsgi-core; do
    [[ -x $b ]] && { echo "$b"; return 0; }
  done
  die "uwsgi not found (run: swift.sh install --keystone)"
}

start_keystone() {
  spawn keystone "$(uwsgi_bin)" --plugin python3 \
    --http-socket "$SAIO_HOST:$SAIO_KEYSTONE_PORT" \
    --wsgi-file /usr/bin/keystone-wsgi-public \
    --env "OS_KEYSTONE_CONFIG_FILES=$ETC/keystone.conf" \
    --processes "$SAIO_KEYSTONE_PROCESSES" --threads 1 --master --die-on-term \
    --need-app --buffer-size 32768 --add-header "Connection: close"
}

# Projects, users, roles and the object-store endpoint, in one python process.
keystone_provision() {
  local want="v1 $SAIO_PORT" have="" t0
  [[ -f $KS/provisioned ]] && have=$(<"$KS/provisioned")
  [[ $have == "$want" ]] && return 0
  t0=$(now)
  SAIO_ADMIN_PW=$SAIO_KEYSTONE_ADMIN_PASSWORD "$PY" - "$KS_URL" \
    "http://$SAIO_HOST:$SAIO_PORT/v1/AUTH_%(project_id)s" \
    >>"$LOGD/keystone-provision.log" 2>&1 <<'EOF' ||
import os, sys
from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

ks_url, swift_url = sys.argv[1:3]
sess = session.Session(auth=v3.Password(
    auth_url=ks_url, username='admin', password=os.environ['SAIO_ADMIN_PW'],
    project_name='admin', user_domain_id='default', project_domain_id='default'))
c = client.Client(session=sess, interface='public')
dom = 'default'

def first(items):
    return items[0] if items else None

def role(name):
    return first(c.roles.list(name=name)) or c.roles.create(name)

def project(name):
    return (first(c.projects.list(name=name, domain=dom)) or
            c.projects.create(name, dom, description='swift.sh'))

def user(name, password, proj, roles):
    u = first(c.users.list(name=name, domain=dom))
    if u is None:
        u = c.users.create(name, domain=dom, password=password,
                           default_project=proj)
    else:
        c.users.update(u, password=password)
    for r in roles:
        c.roles.grant(role(r), user=u, project=proj)
    return u

for r in ('admin', 'member', 'reader', 'service', 'ResellerAdmin', 'swiftoperator'):
    role(r)
service, demo, test = project('service'), project('demo'), project('test')
user('swift', 'swiftpass', service, ['admin', 'service'])
user('demo', 'demopass', demo, ['member'])
user('tester', 'testing', test, ['member'])
user('reseller', 'resellerpass', service, ['ResellerAdmin'])

svc = first(c.services.list(type='object-store'))
if svc is None:
    svc = c.services.create('swift', type='object-store',
                            description='OpenStack Object Storage')
for iface in ('public', 'internal', 'admin'):
    eps = c.endpoints.list(service=svc, interface=iface)
    if eps:
        for ep in eps:
            c.endpoints.update(ep, url=swift_url, region='RegionOne')
    else:
        c.endpoints.create(svc, swift_url, interface=iface, region='RegionOne')
print('provisioned: projects', service.id, demo.id, test.id)
EOF
    { tail -n 30 "$LOGD/keystone-provision.log" >&2; return 1; }
  (umask 077 && echo "$want" >"$KS/provisioned")
  log "keystone: provisioning took $(elapsed "$t0") s"
}

# ------------------------------------------------------------------- health

# check_ready TIMEOUT KEYSTONE [NAME:PID...]: poll until v1 auth + HEAD on the
# storage URL work (and, in keystone mode, a keystone token for demo + HEAD on
# its AUTH_<project> account). Fails early when a listed daemon died.
check_ready() {
  "$PY" - "$SAIO_HOST" "$SAIO_PORT" "$KS_URL" "$@" <<'EOF'
import json, os, sys, time
import urllib.error, urllib.request

host, port, ks_url, timeout, ks = sys.argv[1:6]
procs = [a.split(':') for a in sys.argv[6:]]
deadline = time.time() + float(timeout)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

def req(url, method='GET', headers=None, data=None):
    r = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    return opener.open(r, timeout=10)

def dead(pid):
    try:
        with open('/proc/%s/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] in 'ZX'
    except OSError:
        return True

def probe():
    r = req('http://%s:%s/auth/v1.0' % (host, port),
            headers={'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'})
    tok, url = r.headers['X-Auth-Token'], r.headers['X-Storage-Url']
    req(url, 'HEAD', {'X-Auth-Token': tok})
    out = ['swift: %s' % url]
    if ks == '1':
        body = json.dumps({'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': 'demo', 'domain': {'name': 'Default'},
                'password': 'demopass'}}},
            'scope': {'project': {'name': 'demo', 'domain': {'name': 'Default'}}}}})
        r = req(ks_url + '/auth/tokens', 'POST',
                {'Content-Type': 'application/json'}, body.encode())
        tok = r.headers['X-Subject-Token']
        pid = json.load(r)['token']['project']['id']
        url = 'http://%s:%s/v1/AUTH_%s' % (host, port, pid)
        req(url, 'HEAD', {'X-Auth-Token': tok})
        out.append('keystone: %s (demo)' % url)
    return out

last = None
while True:
    for name, pid in procs:
        if dead(pid):
            sys.exit('%s (pid %s) exited' % (name, pid))
    try:
        print('\n'.join(probe()))
        sys.exit(0)
    except Exception as e:  # noqa
        last = e
        if isinstance(e, urllib.error.HTTPError):
            last = '%s %s: %s' % (e.code, e.reason, e.url)
    if time.time() > deadline:
        sys.exit('not ready after %s s: %s' % (timeout, last))
    time.sleep(0.1)
EOF
}

wait_keystone() { # TIMEOUT PID
  "$PY" - "$KS_URL" "$@" <<'EOF'
import sys, time, urllib.request
url, timeout, pid = sys.argv[1], float(sys.argv[2]), sys.argv[3]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
deadline = time.time() + timeout
last = None
while True:
    try:
        with open('/proc/%s/stat' % pid) as f:
            if f.read().rsplit(')', 1)[1].split()[0] in 'ZX':
                raise OSError
    except OSError:
        sys.exit('keystone (pid %s) exited' % pid)
    try:
        opener.open(url, timeout=10).read()
        sys.exit(0)
    except Exception as e:  # noqa
        last = e
    if time.time() > deadline:
        sys.exit('keystone not ready after %s s: %s' % (timeout, last))
    time.sleep(0.1)
EOF
}

ports_free() {
  "$PY" - "$SAIO_HOST" "$@" <<'EOF'
import socket, sys
host, busy = sys.argv[1], []
for port in sys.argv[2:]:
    s = socket.socket()
    s.settimeout(0.5)
    if s.connect_ex((host, int(port))) == 0:
        busy.append(port)
    s.close()
if busy:
    sys.exit('port(s) already in use on %s: %s' % (host, ' '.join(busy)))
EOF
}

log_tails() {
  local f
  for f in "$LOGD"/*.log; do
    [[ -s $f ]] || continue
    echo "----- ${f#"$SAIO_DIR"/} (last 15 lines)" >&2
    tail -n 15 "$f" >&2
  done
}

# -------------------------------------------------------------------- start

params() { # the settings a running instance was started with
  echo "keystone=$1 port=$SAIO_PORT workers=$SAIO_PROXY_WORKERS token_life=$SAIO_TOKEN_LIFE" \
    "memcached=$SAIO_MEMCACHED_PORT obj=$SAIO_OBJECT_PORT cont=$SAIO_CONTAINER_PORT" \
    "acct=$SAIO_ACCOUNT_PORT ks_port=$SAIO_KEYSTONE_PORT ks_procs=$SAIO_KEYSTONE_PROCESSES" \
    "tmpfs=$SAIO_TMPFS updater=$SAIO_UPDATER_INTERVAL/$SAIO_OBJECT_UPDATER_INTERVAL" \
    "expirer=$SAIO_EXPIRER_INTERVAL cpp=$SAIO_CONTAINER_PART_POWER"
}

expected_daemons() { # KEYSTONE
  echo "${CORE_DAEMONS[@]}" "${LATE_DAEMONS[@]}"
  if (($1)); then echo keystone; fi
}

all_running() { # KEYSTONE
  local n
  for n in $(expected_daemons "$1"); do
    pid_of "$n" >/dev/null || return 1
  done
}

lock() {
  mkdir -p "$SAIO_DIR"
  exec 9>"$SAIO_DIR/.lock"
  flock -w 120 9 || die "another swift.sh holds $SAIO_DIR/.lock"
}

start_failed() {
  log "start FAILED: $*"
  log_tails
  stop_all
  die "start failed (logs in $LOGD)"
}

cmd_start() {
  local ks=$1 t0 want pids=() n out
  t0=$(now)
  cmd_install "$ks" quiet
  lock
  touch "$MARKER"
  mkdir -p "$ETC" "$RUN" "$LOGD" "$SRV/sdb1" "$CACHE"
  chmod 0700 "$ETC"
  want=$(params "$ks")

  if [[ -f $RUN/params && $(<"$RUN/params") == "$want" ]] && all_running "$ks" &&
    out=$(check_ready 5 "$ks" 2>/dev/null); then
    log "already running and healthy"
    echo "$out"
    return 0
  fi
  if any_running; then
    log "restarting (stale, unhealthy or started with other settings)"
    stop_all
  fi
  local ports=("$SAIO_PORT" "$SAIO_MEMCACHED_PORT" "$SAIO_OBJECT_PORT"
    "$SAIO_CONTAINER_PORT" "$SAIO_ACCOUNT_PORT")
  ((ks)) && ports+=("$SAIO_KEYSTONE_PORT")
  ports_free "${ports[@]}" || die "stop whatever listens there, or set SAIO_*PORT"

  if ((SAIO_TMPFS)) && ! mountpoint -q "$SRV"; then
    mount -t tmpfs -o "size=$SAIO_TMPFS_SIZE,mode=0755" saio "$SRV"
    mkdir -p "$SRV/sdb1"
  fi

  write_configs "$ks"
  build_rings
  ((ks)) && write_keystone_conf
  for n in "$LOGD"/*.log; do
    if [[ -f $n ]]; then : >"$n"; fi
  done

  # memcached: tempauth keeps its tokens there. -P is only a marker for stop.
  spawn memcached /usr/bin/memcached -l "$SAIO_HOST" -p "$SAIO_MEMCACHED_PORT" \
    -U 0 -m 64 -c 1024 -u root -P "$RUN/memcached.pidmark"
  for n in account container object; do
    spawn "$n-server" "$PY" "/usr/bin/swift-$n-server" "$ETC/$n-server.conf" -v
  done
  spawn proxy-server "$PY" /usr/bin/swift-proxy-server "$ETC/proxy-server.conf" -v
  for n in "${CORE_DAEMONS[@]}"; do pids+=("$n:$(<"$RUN/$n.pid")"); done

  if ((ks)); then
    # overlaps with the Swift servers' ~1.5 s CPU start each
    keystone_bootstrap || start_failed "keystone bootstrap"
    start_keystone
    pids+=("keystone:$(<"$RUN/keystone.pid")")
    wait_keystone "$SAIO_START_TIMEOUT" "$(<"$RUN/keystone.pid")" || start_failed "keystone"
    keystone_provision || start_failed "keystone provisioning"
  fi

  out=$(check_ready "$SAIO_START_TIMEOUT" "$ks" "${pids[@]}") || start_failed "not ready"

  spawn container-updater "$PY" /usr/bin/swift-container-updater "$ETC/container-server.conf" -v
  spawn object-updater "$PY" /usr/bin/swift-object-updater "$ETC/object-server.conf" -v
  spawn object-expirer "$PY" /usr/bin/swift-object-expirer "$ETC/object-expirer.conf" -v
  echo "$want" >"$RUN/params"
  log "started in $(elapsed "$t0") s (logs: $LOGD)"
  echo "$out"
}

# ------------------------------------------------------------ other commands

cmd_stop() {
  [[ -d $SAIO_DIR ]] || { log "nothing to stop ($SAIO_DIR does not exist)"; return 0; }
  lock
  if ! any_running; then
    rm -f "$RUN"/*.pid "$RUN/params"
    log "not running"
    return 0
  fi
  stop_all
  log "stopped in $STOP_SECONDS s"
}

cmd_status() {
  local ks=0 rc=0 n pid p out
  if [[ ! -f $RUN/params ]]; then
    echo "not started (no $RUN/params)"
    for n in "$RUN"/*.pid; do
      [[ -f $n ]] || continue
      pid=$(<"$n")
      if alive "$pid" && ours "$pid"; then echo "  but ${n##*/} is running (pid $pid)"; fi
    done
    return 3
  fi
  p=$(<"$RUN/params")
  [[ $p == keystone=1* ]] && ks=1
  echo "mode: $( ((ks)) && echo keystone+tempauth || echo tempauth) ($p)"
  for n in $(expected_daemons "$ks"); do
    if pid=$(pid_of "$n"); then
      printf '  %-18s running (pid %s)\n' "$n" "$pid"
    else
      printf '  %-18s NOT running\n' "$n"
      rc=1
    fi
  done
  if out=$(check_ready 5 "$ks" 2>&1); then
    echo "health: ok"
    echo "  ${out//$'\n'/$'\n'  }"
  else
    echo "health: FAILED: $out"
    rc=1
  fi
  return "$rc"
}

cmd_env() {
  local ks=$1
  if ((ks)); then
    cat <<EOF
unset ST_AUTH ST_USER ST_KEY ST_AUTH_VERSION OS_AUTH_TOKEN OS_STORAGE_URL OS_AUTH_VERSION
export OS_AUTH_URL=http://$SAIO_HOST:$SAIO_KEYSTONE_PORT/v3
export OS_USERNAME=demo
export OS_PASSWORD=demopass
export OS_PROJECT_NAME=demo
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=RegionOne
EOF
  else
    cat <<EOF
unset OS_AUTH_URL OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_USER_DOMAIN_NAME OS_PROJECT_DOMAIN_NAME OS_IDENTITY_API_VERSION OS_REGION_NAME OS_AUTH_TOKEN OS_STORAGE_URL OS_AUTH_VERSION ST_AUTH_VERSION
export ST_AUTH=http://$SAIO_HOST:$SAIO_PORT/auth/v1.0
export ST_USER=test:tester
export ST_KEY=testing
EOF
  fi
}

cmd_reset() {
  [[ -d $SAIO_DIR ]] || { log "$SAIO_DIR does not exist"; return 0; }
  if [[ ! -f $MARKER ]] && [[ -n $(ls -A "$SAIO_DIR") ]]; then
    die "$SAIO_DIR was not made by swift.sh (no ${MARKER##*/}), not deleting it"
  fi
  lock
  any_running && stop_all
  if mountpoint -q "$SRV" 2>/dev/null; then umount "$SRV"; fi
  rm -rf -- "$SAIO_DIR"
  log "removed $SAIO_DIR"
}

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-} ks=0
  [[ $# -gt 0 ]] && shift
  [[ $SAIO_KEYSTONE == 1 ]] && ks=1
  while (($#)); do
    case $1 in
      --keystone) ks=1 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
  case $cmd in
    install) cmd_install "$ks" ;;
    start) cmd_start "$ks" ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env "$ks" ;;
    reset) cmd_reset ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
