#!/usr/bin/env bash
# s3-server.sh — a throw-away, real S3 server for Stowage's tests, without Docker.
#
# Runs Ceph's RADOS Gateway (radosgw) on top of a single-node Ceph cluster
# (one monitor + one memstore OSD, all data in RAM) bound to 127.0.0.1.
# Everything (config, data, pids, logs, admin sockets) lives under DIR.
#
# Usage:
#   scripts/s3-server.sh start [DIR]   start (or reuse) the server, print the env
#   scripts/s3-server.sh stop  [DIR]   kill the server's processes, remove DIR
#   scripts/s3-server.sh env   [DIR]   print the env if the server is running
#   scripts/s3-server.sh status [DIR]  exit 0 if running and answering
#
# DIR defaults to ${TMPDIR:-/tmp}/stowage-s3.
#
# `start` prints exactly these lines on stdout (and writes them to DIR/env);
# all progress and diagnostics go to stderr:
#   S3_ENDPOINT=http://127.0.0.1:PORT
#   S3_REGION=us-east-1
#   S3_BUCKET=stowage-test
#   S3_ACCESS_KEY_ID=...
#   S3_SECRET_ACCESS_KEY=...
# Typical use (exports the five variables into the current shell):
#   set -a; eval "$(scripts/s3-server.sh start)"; set +a
#   npm test
#   scripts/s3-server.sh stop
# Only the stdout of `start` is the env, so `$(...)` is safe; the daemons keep
# running in the background (their own session) until `stop`.
#
# The data lives in RAM (memstore): use random key prefixes per test, and expect
# everything to be gone after `stop`.
#
# Environment knobs (all optional):
#   STOWAGE_S3_PORT      preferred gateway port (default 7480; a free one is picked if busy)
#   STOWAGE_S3_TIMEOUT   seconds allowed for startup (default 120)
#   STOWAGE_S3_MEM_MB    capacity reported by the in-RAM OSD, in MiB (default 8192;
#                        RAM is only used for data actually stored)
#
# Packages (Debian/Ubuntu): radosgw ceph-mon ceph-osd (ceph-common, which has the
# `ceph` and `radosgw-admin` tools, comes with them). They are installed with apt-get
# on first use when missing (root, or passwordless sudo, required for that step only).
#
# The same key pair is used by docker-compose.yml (MinIO) so both targets share one env.

set -Eeuo pipefail

# ---------------------------------------------------------------- constants
readonly ACCESS_KEY='STOWAGETESTACCESSKEY'
readonly SECRET_KEY='stowage-test-secret-key-0123456789abcdef'
readonly REGION='us-east-1'
readonly BUCKET='stowage-test'
readonly RGW_UID='stowage'
readonly MARKER='.stowage-s3-server'
readonly PREFERRED_PORT="${STOWAGE_S3_PORT:-7480}"
readonly START_TIMEOUT="${STOWAGE_S3_TIMEOUT:-120}"
readonly MEM_MB="${STOWAGE_S3_MEM_MB:-8192}"
for _v in STOWAGE_S3_PORT STOWAGE_S3_TIMEOUT STOWAGE_S3_MEM_MB; do
  [[ -z "${!_v:-}" || "${!_v}" =~ ^[1-9][0-9]*$ ]] || { echo "s3-server.sh: $_v must be a positive integer, got '${!_v}'" >&2; exit 2; }
done
unset _v

PROG="$(basename "$0")"

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$PROG" -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------- paths
resolve_dir() {
  local d="${1:-${TMPDIR:-/tmp}/stowage-s3}"
  [[ -n "$d" ]] || die "empty DIR"
  # Make it absolute without requiring that it exists.
  [[ "$d" == /* ]] || d="$PWD/$d"
  d="${d%/}"
  [[ -n "$d" && "$d" != "/" ]] || die "refusing to use / as DIR"
  DIR="$d"
  CONF="$DIR/ceph.conf"
  RUN="$DIR/run"
  LOGS="$DIR/log"
  PIDS="$DIR/pids"
  ENV_FILE="$DIR/env"
}

# ---------------------------------------------------------------- locking
# Serialise start/stop on the same DIR. The lock is an flock on DIR itself
# (held on fd 9, which is closed in every daemon we launch), so nothing is left
# outside DIR. If `stop` removed DIR while we waited, start over on the new one.
# The holder writes its PID to DIR/.lock-owner so that waiters can tell a live
# holder from a lock that leaked into a daemon (early versions of this script
# let the daemons inherit fd 9, which kept the lock held forever).
readonly LOCK_WAIT=300
readonly OWNER_FILE_NAME='.lock-owner'
LOCK_HELD=0

# Is the lock holder a live s3-server.sh process?
lock_holder_alive() {
  local owner arg args=()
  read -r owner 2>/dev/null <"$DIR/$OWNER_FILE_NAME" || return 1
  [[ "$owner" =~ ^[0-9]+$ ]] || return 1
  mapfile -d '' -t args 2>/dev/null <"/proc/$owner/cmdline" || return 1
  for arg in "${args[@]}"; do
    [[ "$arg" == *s3-server* ]] && return 0
  done
  return 1
}

# take_lock CREATE: sets LOCK_HELD=1 when the lock is ours, or LOCK_HELD=0 when
# it is held by leaked daemons only. Returns 1 if DIR does not exist and CREATE=0.
take_lock() {
  local create="$1" i waited suspect
  for i in 1 2 3 4 5; do
    if [[ ! -d "$DIR" ]]; then
      [[ "$create" == 1 ]] || return 1
      mkdir -p "$DIR"
    fi
    exec 9<"$DIR"
    waited=0 suspect=0 LOCK_HELD=1
    until flock -w 2 9; do
      waited=$((waited + 2))
      if lock_holder_alive; then suspect=0; else suspect=$((suspect + 1)); fi
      if ((suspect >= 2)); then
        log "the lock on $DIR is not held by a running $PROG (leaked into its daemons)"
        LOCK_HELD=0
        break
      fi
      ((waited < LOCK_WAIT)) || die "timed out after ${LOCK_WAIT} s waiting for the lock on $DIR (another start/stop running?)"
      ((waited % 10)) || log "waiting for another $PROG on $DIR to finish"
    done
    # Still the same directory (not removed/recreated meanwhile)?
    if [[ -d "$DIR" ]] && [[ "$(stat -L -c '%d:%i' "/proc/$$/fd/9")" == "$(stat -c '%d:%i' "$DIR")" ]]; then
      ((LOCK_HELD)) && echo "$$" >"$DIR/$OWNER_FILE_NAME"
      return 0
    fi
    exec 9<&-
  done
  die "could not lock $DIR"
}

# ---------------------------------------------------------------- processes
# A PID counts as ours only if it is alive and its command line mentions our
# ceph.conf (guards against PID reuse).
pid_is_ours() {
  local pid="$1" arg args=()
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  # Builtins only: forks are slow on a loaded machine. A zombie has an empty cmdline.
  mapfile -d '' -t args 2>/dev/null <"/proc/$pid/cmdline" || return 1
  for arg in "${args[@]}"; do
    [[ "$arg" == "$CONF" ]] && return 0
  done
  return 1
}

# PIDs of every process that runs with our ceph.conf: the recorded ones plus
# any stray ones (e.g. from a start that was interrupted half-way).
our_pids() {
  local f pid p comm
  local -A seen=()
  if [[ -d "$PIDS" ]]; then
    for f in "$PIDS"/*.pid; do
      [[ -e "$f" ]] || continue
      pid=
      read -r pid <"$f" || true
      if pid_is_ours "$pid" && [[ -z "${seen[$pid]:-}" ]]; then seen[$pid]=1; echo "$pid"; fi
    done
  fi
  for p in /proc/[0-9]*; do
    pid="${p#/proc/}"
    [[ "$pid" == "$$" || "$pid" == "$BASHPID" || -n "${seen[$pid]:-}" ]] && continue
    comm=
    read -r comm 2>/dev/null <"$p/comm" || continue
    # Only Ceph daemons and tools, never e.g. a shell that mentions the path.
    case "$comm" in
      ceph* | rados* | monmaptool | *rgw*) ;;
      *) continue ;;
    esac
    if pid_is_ours "$pid"; then
      seen[$pid]=1
      echo "$pid"
    fi
  done
}

# The cluster is throw-away (its data is deleted right after), so SIGKILL:
# a polite SIGTERM makes the OSD wait for the monitor and radosgw for RADOS.
kill_all() {
  local pids pid i alive
  mapfile -t pids < <(our_pids)
  ((${#pids[@]})) || return 0
  log "killing pids ${pids[*]}"
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do # up to 10 s
    alive=0
    for pid in "${pids[@]}"; do pid_is_ours "$pid" && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  die "processes still alive after SIGKILL: ${pids[*]}"
}

# Start a daemon in the foreground of its own session, detached from our
# stdin/stdout/stderr (so `$(s3-server.sh start)` returns), and record its PID.
launch() {
  local name="$1"
  shift
  # In a non-interactive script a background job is not a process-group
  # leader, so setsid(1) calls setsid() and execs without forking: $! is the daemon.
  # fd 9 (our lock) must not be inherited, or the daemon would hold the lock forever.
  setsid "$@" </dev/null >>"$LOGS/$name.out" 2>&1 9<&- &
  local pid=$! i
  echo "$pid" >"$PIDS/$name.pid"
  # Until it has exec'd, the child is a copy of this shell: wait for that, so
  # that "is it still running?" checks cannot mistake it for a dead daemon.
  for ((i = 0; i < 200; i++)); do
    pid_is_ours "$pid" && return 0
    [[ -e "/proc/$pid" ]] || break
    sleep 0.05
  done
  fail "$name (pid $pid) did not start: $*"
}

# ---------------------------------------------------------------- ports
port_busy() {
  # Listening on 127.0.0.1 (or any address)?
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
  if command -v ss >/dev/null 2>&1; then
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
  fi
  return 1
}

# pick_port WANT: sets PICKED to WANT if free, else to a random free port.
declare -A TAKEN=()
PICKED=
pick_port() {
  local want="$1" p i
  if [[ -n "$want" ]] && [[ -z "${TAKEN[$want]:-}" ]] && ! port_busy "$want"; then
    TAKEN[$want]=1
    PICKED="$want"
    return
  fi
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 30000))
    if [[ -z "${TAKEN[$p]:-}" ]] && ! port_busy "$p"; then
      TAKEN[$p]=1
      PICKED="$p"
      return
    fi
  done
  fail "no free TCP port found"
}

# ---------------------------------------------------------------- packages
ensure_packages() {
  local missing=() b
  for b in radosgw ceph-mon ceph-osd ceph radosgw-admin monmaptool; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b")
  done
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  ((${#missing[@]})) || return 0

  log "missing: ${missing[*]} — installing radosgw ceph-mon ceph-osd ceph-common curl with apt-get"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install Ceph's radosgw, ceph-mon, ceph-osd and ceph-common by hand"
  local SUDO=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    else
      die "need root (or passwordless sudo) to apt-get install radosgw ceph-mon ceph-osd ceph-common"
    fi
  fi
  local pkgs=(radosgw ceph-mon ceph-osd ceph-common curl)
  local t0=$SECONDS
  # Only refresh the package lists when the candidates are unknown.
  if ! apt-cache show "${pkgs[@]}" >/dev/null 2>&1; then
    log "apt-get update"
    "${SUDO[@]}" apt-get update >&2 || die "apt-get update failed"
  fi
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >&2; then
    log "install failed; retrying after apt-get update"
    "${SUDO[@]}" apt-get update >&2 || die "apt-get update failed"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >&2 ||
      die "apt-get install ${pkgs[*]} failed"
  fi
  log "packages installed in $((SECONDS - t0)) s"
  for b in radosgw ceph-mon ceph-osd ceph radosgw-admin monmaptool curl; do
    command -v "$b" >/dev/null 2>&1 || die "$b still missing after install"
  done
}

# ---------------------------------------------------------------- helpers
DEADLINE=0
remaining() { echo $((DEADLINE - SECONDS)); }

check_deadline() {
  ((SECONDS < DEADLINE)) || fail "timed out after ${START_TIMEOUT} s while: $1"
}

# ceph CLI against our cluster, bounded in time.
cephc() {
  local t
  t=$(remaining)
  ((t > 1)) || t=2
  timeout -k 2 "$t" ceph -c "$CONF" --connect-timeout "$t" "$@"
}

s3_curl() {
  # curl >= 7.75 signs with AWS SigV4 by itself.
  curl -sS --max-time 20 --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

http_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$1" 2>/dev/null || true
}

dump_logs() {
  local f
  log "---- diagnostics from $DIR ----"
  for f in "$LOGS"/*; do
    [[ -s "$f" ]] || continue
    printf '\n===== last 50 lines of %s =====\n' "$f" >&2
    tail -n 50 "$f" >&2 || true
  done
  printf '\n' >&2
}

STARTING=0
fail() {
  log "ERROR: $*"
  if [[ -d "$LOGS" ]]; then dump_logs; fi
  if ((STARTING)); then
    kill_all || true
    log "processes stopped; $DIR kept for inspection (\`$PROG stop $DIR\` removes it)"
  fi
  exit 1
}

on_err() {
  local rc=$? line=$1 cmd=$2
  trap - ERR
  fail "command failed (exit $rc) at line $line: $cmd"
}

env_text() {
  printf 'S3_ENDPOINT=http://127.0.0.1:%s\n' "$1"
  printf 'S3_REGION=%s\n' "$REGION"
  printf 'S3_BUCKET=%s\n' "$BUCKET"
  printf 'S3_ACCESS_KEY_ID=%s\n' "$ACCESS_KEY"
  printf 'S3_SECRET_ACCESS_KEY=%s\n' "$SECRET_KEY"
}

endpoint_from_env() {
  [[ -r "$ENV_FILE" ]] || return 1
  sed -n 's/^S3_ENDPOINT=//p' "$ENV_FILE" | head -n 1
}

# Running = marker + env present, the three daemons alive and ours, gateway answering.
is_running() {
  [[ -f "$DIR/$MARKER" && -s "$ENV_FILE" ]] || return 1
  local n pid ep code
  for n in mon osd rgw; do
    [[ -r "$PIDS/$n.pid" ]] || return 1
    pid=
    read -r pid <"$PIDS/$n.pid" || true
    pid_is_ours "$pid" || return 1
  done
  ep="$(endpoint_from_env)" || return 1
  [[ -n "$ep" ]] || return 1
  code="$(http_code "$ep/")"
  [[ "$code" =~ ^[1-5][0-9][0-9]$ ]]
}

# DIR exists, has no marker and holds something other than our lock file?
dir_is_foreign() {
  [[ -d "$DIR" && ! -f "$DIR/$MARKER" ]] || return 1
  local e
  for e in "$DIR"/* "$DIR"/.[!.]* "$DIR"/..?*; do
    [[ -e "$e" || -L "$e" ]] || continue
    [[ "${e##*/}" == "$OWNER_FILE_NAME" ]] && continue
    return 0
  done
  return 1
}

# Remove DIR's contents, but only if DIR is ours (marker) or empty.
wipe_dir() {
  [[ -d "$DIR" ]] || return 0
  if dir_is_foreign; then
    die "$DIR exists, is not empty and was not created by $PROG; refusing to touch it"
  fi
  # Keep the lock owner file: waiters look at it.
  find "$DIR" -mindepth 1 -maxdepth 1 ! -name "$OWNER_FILE_NAME" -exec rm -rf -- {} +
}

write_conf() {
  local fsid="$1" mon2="$2" mon1="$3" rgw_port="$4"
  cat >"$CONF" <<EOF
# Generated by $PROG — throw-away single-node Ceph cluster for tests.
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = 6800
ms bind port max = 7300

auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
keyring = $DIR/keyring
# With auth = none the default "secure" messenger mode cannot be negotiated.
ms mon client mode = crc
ms client mode = crc
ms cluster mode = crc
ms service mode = crc
ms mon cluster mode = crc
ms mon service mode = crc

run dir = $RUN
log file = $LOGS/\$name.log
log to stderr = false
err to stderr = true
log to file = true
mon cluster log file = $LOGS/cluster.log
crash dir = $DIR/crash

osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mon max pg per osd = 1000
osd max object name len = 460
osd max object namespace len = 64

[mon]
mon data = $DIR/mon/\$cluster-\$id
admin socket = $RUN/\$name.asok
mon osd down out interval = 0
# Commit map changes (pool creation, OSD boot) quickly instead of once a second.
paxos propose interval = 0.05
paxos min wait = 0.01
mon osd min down reporters = 1

[osd]
osd data = $DIR/osd/\$cluster-\$id
admin socket = $RUN/\$name.asok
osd objectstore = memstore
memstore device bytes = $((MEM_MB * 1024 * 1024))
osd journal size = 0
osd fast shutdown = true
osd crush update on start = true
osd class load list = *
osd class default list = *

[client]
# Clients with ops waiting for an OSD re-check the OSD map every 5 s by default;
# the gateway starts before the OSD, so make that quick.
objecter tick interval = 0.5

[client.rgw.s3]
admin socket = $RUN/\$name.asok
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw dns name = 127.0.0.1
rgw enable usage log = false
rgw thread pool size = 128
rgw init timeout = 110
# Reclaim the RAM of deleted large/multipart objects within minutes, not hours.
rgw gc obj min wait = 60
rgw gc processor period = 60
rgw lc debug interval = -1
EOF
}

# ---------------------------------------------------------------- commands
cmd_env() {
  if [[ -d "$DIR" ]] && is_running; then
    cat "$ENV_FILE"
  else
    log "no running S3 server in $DIR (start it with: $PROG start${1:+ $1})"
    exit 1
  fi
}

cmd_status() {
  if [[ -d "$DIR" ]] && is_running; then
    log "running: $(endpoint_from_env) (pids: $(cat "$PIDS"/*.pid 2>/dev/null | tr '\n' ' '))"
  else
    log "not running"
    exit 1
  fi
}

cmd_stop() {
  dir_is_foreign && die "$DIR was not created by $PROG; refusing to touch it"
  if ! take_lock 0; then
    log "nothing to stop: $DIR does not exist"
    return 0
  fi
  if dir_is_foreign; then
    die "$DIR was not created by $PROG; refusing to touch it"
  fi
  kill_all
  rm -rf -- "$DIR"
  log "stopped; removed $DIR"
}

cmd_start() {
  local _
  dir_is_foreign && die "$DIR exists, is not empty and was not created by $PROG; refusing to use it"
  for _ in 1 2 3; do
    take_lock 1
    if is_running; then
      log "already running in $DIR"
      cat "$ENV_FILE"
      return 0
    fi
    ((LOCK_HELD)) && break
    # Stale daemons hold a leaked lock: kill them (which frees it), then lock properly.
    kill_all
    exec 9<&-
  done
  ((LOCK_HELD)) || die "could not lock $DIR"

  ensure_packages

  # Stale or half-started instance: clean it up first.
  if [[ -f "$DIR/$MARKER" ]]; then
    log "found a stale instance in $DIR; cleaning it up"
    kill_all
  fi
  wipe_dir

  STARTING=1
  trap 'on_err $LINENO "$BASH_COMMAND"' ERR
  trap 'fail "interrupted by a signal"' INT TERM HUP
  DEADLINE=$((SECONDS + START_TIMEOUT))
  local t0=$SECONDS

  mkdir -p "$RUN" "$LOGS" "$PIDS" "$DIR/mon" "$DIR/osd/ceph-0" "$DIR/crash"
  : >"$DIR/$MARKER"

  local fsid osd_uuid mon2 mon1 port
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  pick_port 3300 && mon2="$PICKED"
  pick_port 6789 && mon1="$PICKED"
  pick_port "$PREFERRED_PORT" && port="$PICKED"
  [[ "$port" == "$PREFERRED_PORT" ]] || log "port $PREFERRED_PORT is busy; using $port"
  write_conf "$fsid" "$mon2" "$mon1" "$port"

  # --- monitor
  log "creating monitor (ports $mon2/$mon1)"
  monmaptool --create --clobber --fsid "$fsid" \
    --addv a "[v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]" "$DIR/monmap" >>"$LOGS/setup.log" 2>&1 ||
    fail "monmaptool failed"
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >>"$LOGS/setup.log" 2>&1 ||
    fail "ceph-mon --mkfs failed"
  launch mon ceph-mon -c "$CONF" -f -i a

  # --- gateway: start it right away; it connects to the monitor and waits for the OSD by itself
  log "starting radosgw on 127.0.0.1:$port"
  launch rgw radosgw -c "$CONF" -n client.rgw.s3 -f

  # --- OSD
  log "creating OSD (memstore)"
  local osd_id
  osd_id="$(cephc osd new "$osd_uuid" 2>>"$LOGS/setup.log")" || fail "ceph osd new failed (monitor not up?)"
  [[ "$osd_id" == 0 ]] || fail "unexpected OSD id '$osd_id'"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$LOGS/setup.log" 2>&1 ||
    fail "ceph-osd --mkfs failed"
  launch osd ceph-osd -c "$CONF" -f -i 0

  local ep="http://127.0.0.1:$port" code n pid
  log "waiting for the gateway to answer"
  while :; do
    for n in mon osd rgw; do
      pid=
      read -r pid <"$PIDS/$n.pid" || true
      pid_is_ours "$pid" || fail "$n (pid $pid) exited during startup"
    done
    code="$(http_code "$ep/")"
    [[ "$code" =~ ^[1-5][0-9][0-9]$ ]] && break
    check_deadline "waiting for radosgw on $ep"
    sleep 0.2
  done
  log "gateway answers (HTTP $code) after $((SECONDS - t0)) s"

  # --- S3 user with a fixed key pair
  log "creating S3 user '$RGW_UID'"
  local tries=0
  until timeout -k 2 "$(($(remaining) > 1 ? $(remaining) : 2))" \
    radosgw-admin -c "$CONF" user create --uid "$RGW_UID" --display-name "Stowage tests" \
    --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" >>"$LOGS/setup.log" 2>&1; do
    # A previous attempt may have succeeded after all (e.g. killed by the timeout late).
    if radosgw-admin -c "$CONF" user info --uid "$RGW_UID" 2>>"$LOGS/setup.log" | grep -q "$ACCESS_KEY"; then
      break
    fi
    tries=$((tries + 1))
    check_deadline "creating the S3 user"
    ((tries < 10)) || fail "radosgw-admin user create failed"
    sleep 1
  done

  # --- bucket (the first bucket creates the index/data pools)
  log "creating bucket '$BUCKET'"
  local out
  tries=0
  while :; do
    out="$(s3_curl -o /dev/null -w '%{http_code}' -X PUT "$ep/$BUCKET" 2>>"$LOGS/setup.log")" || true
    # 200 = created; 409 = already exists (and is ours, since there is a single user).
    [[ "$out" == 200 || "$out" == 409 ]] && break
    echo "PUT bucket -> HTTP $out" >>"$LOGS/setup.log"
    tries=$((tries + 1))
    check_deadline "creating bucket $BUCKET (last HTTP $out)"
    # 403 right after user creation can be the gateway's user cache: retry.
    sleep 0.5
  done

  # --- warm-up: the first object creates the data pool's PGs; do one put+get+delete
  log "warming up"
  local key=".stowage-warmup-$$"
  while :; do
    out="$(s3_curl -o /dev/null -w '%{http_code}' -X PUT --data-binary 'warm-up' "$ep/$BUCKET/$key" 2>>"$LOGS/setup.log")" || true
    [[ "$out" == 200 ]] && break
    echo "PUT warm-up object -> HTTP $out" >>"$LOGS/setup.log"
    check_deadline "warming up (PUT object, last HTTP $out)"
    sleep 0.5
  done
  out="$(s3_curl "$ep/$BUCKET/$key" 2>>"$LOGS/setup.log")" || true
  [[ "$out" == 'warm-up' ]] || fail "warm-up GET returned '$out'"
  out="$(s3_curl -o /dev/null -w '%{http_code}' -X DELETE "$ep/$BUCKET/$key" 2>>"$LOGS/setup.log")" || true
  [[ "$out" == 204 || "$out" == 200 ]] || fail "warm-up DELETE returned HTTP $out"
  # A wrong secret must be refused (tests rely on it).
  out="$(curl -sS --max-time 20 --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:wrong-secret" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -o /dev/null -w '%{http_code}' "$ep/$BUCKET/$key" 2>>"$LOGS/setup.log")" || true
  [[ "$out" == 403 ]] || fail "request with a wrong secret returned HTTP $out instead of 403"

  env_text "$port" >"$ENV_FILE.tmp"
  mv -f "$ENV_FILE.tmp" "$ENV_FILE"
  trap - ERR INT TERM HUP
  STARTING=0
  log "ready in $((SECONDS - t0)) s: $ep (bucket $BUCKET); stop with: $PROG stop $DIR"
  cat "$ENV_FILE"
}

# ---------------------------------------------------------------- main
trap 'log "ERROR: command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

main() {
  local cmd="${1:-}"
  [[ $# -le 2 ]] || usage
  case "$cmd" in
    start) resolve_dir "${2:-}"; cmd_start ;;
    stop) resolve_dir "${2:-}"; cmd_stop ;;
    env) resolve_dir "${2:-}"; cmd_env "${2:-}" ;;
    status) resolve_dir "${2:-}"; cmd_status ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
