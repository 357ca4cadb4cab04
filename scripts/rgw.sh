#!/usr/bin/env bash
# Throwaway single-node Ceph RADOS Gateway (S3) on 127.0.0.1 for the test suite.
#
#   eval "$(bash scripts/rgw.sh start <statedir>)"   # prints only `export ...` lines on stdout
#   bash scripts/rgw.sh stop <statedir>              # kills the daemons, deletes <statedir>
#
# Everything (config, mon/osd data, logs, pid files, admin sockets) lives under
# <statedir>; /etc/ceph, /var/lib/ceph, /var/run/ceph and /var/log/ceph are
# neither needed nor touched. Only loopback is used. Runs as root (checked),
# which is how the test machines run it; non-root is untested. Tested with
# Ceph 16.2 (pacific, Debian 12 packages radosgw ceph-mon ceph-osd).
#
# Measured: ready in 2-6 s, about 140 MB RSS for the three daemons (~160 MB
# after some traffic); stop takes under 1 s. Several clusters can run side by
# side with different state dirs (all ports are picked dynamically).
#
# Env knobs: RGW_PORT (S3 port; default: a free port), RGW_START_TIMEOUT
# (seconds, default 90).
set -euo pipefail

# Fixed test credentials: the cluster is private to one test run, so secrecy
# does not matter and fixed values keep failures reproducible.
readonly S3_USER=vsynctest
readonly S3_ACCESS_KEY=vsynctest
readonly S3_SECRET_KEY=vsynctestsecret
readonly MON_ID=a
readonly RGW_NAME=client.rgw.vsync
declare -A LOGS=() # daemon name -> its Ceph log file (set in cmd_start)

# Elapsed seconds in every message make slow startup steps easy to spot.
log() { printf 'rgw.sh [%ss]: %s\n' "$SECONDS" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
  echo "usage: $0 start|stop <statedir>" >&2
  exit 2
}

# Absolute path without requiring it to exist: daemons get it via the config
# file and run with their own cwd, so relative paths would break.
abspath() { realpath -m -- "$1"; }

# Print N distinct free TCP ports on 127.0.0.1. All sockets are held open
# until every port is chosen so the N ports are guaranteed distinct.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# port_free <port>: true if nothing listens on 127.0.0.1:<port>. SO_REUSEADDR
# as radosgw uses it, so leftover TIME_WAIT connections do not count as busy.
port_free() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# pid_alive <pidfile>: true if the pid in <pidfile> is a live process that was
# started by us for this statedir (its argv contains our ceph.conf path). The
# argv check protects against signalling an unrelated process that reused
# the pid after a crash or reboot.
pid_alive() {
  local pidfile=$1 pid
  [[ -s $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CONF" || return 1
  return 0
}

# wait_exit <pidfile>: waits up to 5 s for the process to be gone.
wait_exit() {
  local i
  for ((i = 0; i < 50; i++)); do
    pid_alive "$1" || return 0
    sleep 0.1
  done
  return 1
}

# stop_daemon <name>: SIGTERM, wait up to 5 s, then SIGKILL and wait again.
stop_daemon() {
  local name=$1 pidfile="$STATE/pids/$1.pid" pid
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(<"$pidfile")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_exit "$pidfile"; then
    log "$name did not exit after SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$pidfile" || die "$name (pid $pid) survived SIGKILL"
  fi
  rm -f "$pidfile"
}

cmd_stop() {
  if [[ ! -e $STATE ]]; then
    return 0 # already stopped and cleaned: stop is idempotent
  fi
  # Refuse to rm -rf a directory we did not create (typo'd path, "/", $HOME...).
  [[ -f $STATE/.vsync-rgw ]] || die "$STATE does not look like an rgw.sh state dir (no .vsync-rgw marker); not touching it"
  # Reverse start order: clients of the cluster first, the monitor last, so
  # radosgw/osd do not sit retrying against a dead monitor.
  stop_daemon radosgw
  stop_daemon osd
  stop_daemon mon
  rm -rf -- "$STATE"
  log "stopped, removed $STATE"
}

# Print the tail of a daemon log to stderr, for failure diagnostics. A crash
# ends the log with a long dump of recent events and log levels, which pushes
# the assert message out of the tail, so assert/signal lines are shown too.
show_log() {
  local f=$1
  if [[ -f $f ]]; then
    if grep -qE 'FAILED ceph_assert|Caught signal' "$f"; then
      log "---- crash lines in $f ----"
      grep -m 6 -E 'FAILED ceph_assert|Caught signal' "$f" >&2 || true
    fi
    log "---- last 30 lines of $f ----"
    tail -n 30 "$f" >&2 || true
    log "---- end of $f ----"
  else
    log "(no log file $f)"
  fi
}

# fail <message> <logfile...>: print the message and the relevant logs, then
# exit non-zero; the EXIT trap (on_start_exit) tears the cluster down.
fail() {
  local msg=$1
  shift
  log "ERROR: $msg"
  local f
  for f in "$@"; do show_log "$f"; done
  FAIL_REPORTED=1
  exit 1
}

# EXIT trap during start: a failed start must not leak daemons or the state
# dir. Unexpected errors (set -e) get all logs, as we do not know which
# daemon is at fault. Logs are printed before teardown deletes them.
FAIL_REPORTED=0
on_start_exit() {
  local rc=$?
  ((rc != 0)) || return 0
  if ((!FAIL_REPORTED)); then
    log "ERROR: start failed unexpectedly (exit status $rc)"
    local f
    for f in "$SETUP_LOG" "${LOGS[@]}"; do show_log "$f"; done
  fi
  cmd_stop || true
  exit "$rc"
}

# Seconds left before the start deadline, but at least $1.
remaining_or() {
  local left=$((DEADLINE - SECONDS))
  echo $((left > $1 ? left : $1))
}

# wait_for <daemon> <description> <command...>: retry the command until it
# succeeds, failing fast if the daemon died and failing once the overall
# start deadline passes.
wait_for() {
  local name=$1 what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    alive_or_fail "$name"
    ((SECONDS < DEADLINE)) || fail "timed out after ${TIMEOUT}s waiting for $what" "${LOGS[$name]}" "$STATE/log/$name.out"
    sleep 0.25
  done
  alive_or_fail "$name"
}

# spawn <name> <argv...>: run a daemon in the foreground mode (-f)
# in the background, recording its pid ourselves. setsid detaches it from our
# process group/terminal so a Ctrl-C aimed at the caller does not kill half
# the cluster; stdio goes to a file so a caller that captures our stdout
# ($(...), execSync) is not kept waiting on a pipe the daemon holds open.
spawn() {
  local name=$1
  shift
  setsid "$@" </dev/null >>"$STATE/log/$name.out" 2>&1 &
  echo $! >"$STATE/pids/$name.pid"
}

# Fail fast (instead of waiting for the full deadline) if a daemon died.
alive_or_fail() {
  local name=$1
  pid_alive "$STATE/pids/$name.pid" || fail "$name exited during startup" "${LOGS[$name]}" "$STATE/log/$name.out"
}

osd_is_up() {
  local n
  n=$(ceph_cli osd dump -f json | python3 -c 'import json,sys; print(sum(o["up"] for o in json.load(sys.stdin)["osds"]))')
  [[ $n == 1 ]]
}

ceph_cli() {
  # --connect-timeout keeps each poll short so the deadline is honoured even
  # when the monitor is not up yet.
  timeout 20 ceph -c "$CONF" --connect-timeout 5 "$@"
}

cmd_start() {
  [[ $(id -u) -eq 0 ]] || die "must run as root"
  local bin
  for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool uuidgen curl python3 setsid; do
    command -v "$bin" >/dev/null || die "missing $bin (apt-get install radosgw ceph-mon ceph-osd uuid-runtime curl)"
  done
  if [[ -e $STATE && -n $(ls -A -- "$STATE" 2>/dev/null) ]]; then
    # A leftover dir from a crashed run would mix old pid files and data into
    # the new cluster; make the caller decide. An empty dir (mktemp -d) is OK.
    die "$STATE exists and is not empty; run '$0 stop $STATE' first"
  fi

  TIMEOUT=${RGW_START_TIMEOUT:-90}
  DEADLINE=$((SECONDS + TIMEOUT))

  # Unix socket paths are limited to 107 bytes (sun_path); the longest one we
  # create is the radosgw admin socket.
  local asok_probe="$STATE/run/ceph-$RGW_NAME.asok"
  ((${#asok_probe} <= 107)) || die "state dir path too long for admin sockets (${#asok_probe} > 107 bytes): $STATE"

  # The daemons do not create their own data dirs (osd mkfs asserts without).
  mkdir -p "$STATE"/{run,log,pids,mon/ceph-$MON_ID,osd/ceph-0,rgw,crash}
  touch "$STATE/.vsync-rgw"
  SETUP_LOG="$STATE/log/setup.out"
  LOGS=([mon]="$STATE/log/ceph-mon.$MON_ID.log" [osd]="$STATE/log/ceph-osd.0.log" [radosgw]="$STATE/log/ceph-$RGW_NAME.log")
  # From here on, any failure tears the half-started cluster down, including
  # an interrupted start (a fatal signal would otherwise skip the EXIT trap).
  trap on_start_exit EXIT
  trap 'log "interrupted, cleaning up"; FAIL_REPORTED=1; exit 130' INT
  trap 'log "terminated, cleaning up"; FAIL_REPORTED=1; exit 143' TERM

  local ports mon_v2 mon_v1 rgw_port
  if [[ -n ${RGW_PORT:-} ]]; then
    [[ $RGW_PORT =~ ^[0-9]+$ ]] || fail "RGW_PORT must be a number, got '$RGW_PORT'"
    # Checked up front because readiness is "something answers HTTP on the
    # port": a stale server there would make a failed start look successful.
    port_free "$RGW_PORT" || fail "RGW_PORT $RGW_PORT is already in use on 127.0.0.1"
    ports=$(free_ports 2)
    read -r mon_v2 mon_v1 <<<"$ports"
    rgw_port=$RGW_PORT
  else
    ports=$(free_ports 3)
    read -r mon_v2 mon_v1 rgw_port <<<"$ports"
  fi
  local fsid
  fsid=$(uuidgen)

  # Why each setting:
  # - auth ... = none: no keyrings to generate/distribute; nothing but the
  #   test process on loopback can reach it anyway.
  # - ms ... mode = crc: without it (default "crc secure") mon and osd come
  #   up, but radosgw hangs forever in AUTH_CONNECTING to the mon (measured);
  #   "secure" needs cephx session keys, which auth none does not provide.
  # - mon host lists v2 and v1: daemons and librados clients pick either.
  # - memstore: OSD data lives in RAM (fast, no block device needed); device
  #   bytes caps it so a runaway test cannot eat the machine's memory.
  # - pool size 1 / min size 1: there is only one OSD, so replicated pools
  #   with size>1 would never become active (warning about it silenced).
  # - small pg num + autoscale off: rgw creates ~7 pools; few PGs keeps the
  #   OSD lean and peering fast; there is no mgr to run the autoscaler.
  # - rgw lc threads off: lifecycle workers sleep 5 s between lock attempts
  #   and radosgw waits for them on SIGTERM, making every stop take ~4 s;
  #   tests use no lifecycle rules. No sync thread: single zone, no peers.
  # - run dir/admin socket/log/crash/data/keyring paths under the state dir
  #   so nothing outside it is read or written and parallel clusters do not
  #   collide (the keyring file need not exist with auth none).
  # - mon data avail crit: the mon would shut down on a nearly full disk;
  #   tests should not care about that.
  # - paxos propose interval: the mon batches map changes for 1 s by default;
  #   radosgw creates its ~7 pools one map change at a time, so the default
  #   costs ~2 s per pool (start took 13 s; with this 2-6 s).
  local conf_tmp="$STATE/ceph.conf.tmp"
  cat >"$conf_tmp" <<EOF
# Generated by scripts/rgw.sh - throwaway test cluster, do not edit.
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_v2,v1:127.0.0.1:$mon_v1]
mon initial members = $MON_ID
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms cluster mode = crc
ms service mode = crc
ms client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms mon client mode = crc
keyring = $STATE/keyring
run dir = $STATE/run
crash dir = $STATE/crash
log file = $STATE/log/\$cluster-\$name.log
mon cluster log file = $STATE/log/\$cluster.log
log to syslog = false
err to syslog = false

osd objectstore = memstore
memstore device bytes = 1073741824
osd pool default size = 1
osd pool default min size = 1
mon warn on pool no redundancy = false
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.01
paxos min wait = 0.001

[mon]
mon data = $STATE/mon/\$cluster-\$id
admin socket = $STATE/run/\$cluster-\$name.asok

[osd]
osd data = $STATE/osd/\$cluster-\$id
admin socket = $STATE/run/\$cluster-\$name.asok

[$RGW_NAME]
rgw data = $STATE/rgw
# tcp_nodelay: without it beast writes headers and body as two segments, and the second waits out the
# client's delayed ACK: every GET took 48 ms instead of 3 (measured with npm run bench).
rgw frontends = beast endpoint=127.0.0.1:$rgw_port tcp_nodelay=1
rgw enable lc threads = false
rgw run sync thread = false
admin socket = $STATE/run/\$cluster-\$name.asok
EOF
  mv "$conf_tmp" "$CONF"

  # --- monitor ---------------------------------------------------------------
  log "creating mon.$MON_ID (v2 port $mon_v2, v1 port $mon_v1)"
  monmaptool --create --fsid "$fsid" --addv "$MON_ID" "[v2:127.0.0.1:$mon_v2,v1:127.0.0.1:$mon_v1]" \
    "$STATE/monmap" >>"$SETUP_LOG" 2>&1 || fail "monmaptool failed" "$SETUP_LOG"
  ceph-mon -c "$CONF" -i "$MON_ID" --mkfs --monmap "$STATE/monmap" >>"$SETUP_LOG" 2>&1 ||
    fail "ceph-mon --mkfs failed" "$SETUP_LOG" "${LOGS[mon]}"
  spawn mon ceph-mon -c "$CONF" -i "$MON_ID" -f
  wait_for mon "ceph-mon to answer" ceph_cli mon stat

  # --- osd -------------------------------------------------------------------
  log "creating osd.0 (memstore)"
  local osd_uuid osd_id
  osd_uuid=$(uuidgen)
  osd_id=$(ceph_cli osd create "$osd_uuid" 2>>"$SETUP_LOG") ||
    fail "'ceph osd create' failed" "$SETUP_LOG" "${LOGS[mon]}"
  [[ $osd_id == 0 ]] || fail "expected osd id 0, got '$osd_id'" "${LOGS[mon]}"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$SETUP_LOG" 2>&1 ||
    fail "ceph-osd --mkfs failed" "$SETUP_LOG" "${LOGS[osd]}"
  spawn osd ceph-osd -c "$CONF" -i 0 -f
  # On first boot the OSD adds itself to the CRUSH map and gets marked in;
  # radosgw cannot create its pools until it is up.
  wait_for osd "osd.0 to be up" osd_is_up

  # --- radosgw ---------------------------------------------------------------
  # radosgw creates its pools (.rgw.root, default.rgw.*) on first start and
  # opens the HTTP frontend only after that, so an HTTP answer means usable.
  log "starting radosgw on 127.0.0.1:$rgw_port"
  local endpoint="http://127.0.0.1:$rgw_port"
  spawn radosgw radosgw -c "$CONF" -n "$RGW_NAME" -f
  wait_for radosgw "$endpoint to answer" curl -sf -o /dev/null --max-time 2 "$endpoint/"

  # --- S3 user ---------------------------------------------------------------
  timeout "$(remaining_or 5)" \
    radosgw-admin -c "$CONF" user create --uid "$S3_USER" --display-name "$S3_USER" \
    --access-key "$S3_ACCESS_KEY" --secret "$S3_SECRET_KEY" >>"$SETUP_LOG" 2>&1 ||
    fail "radosgw-admin user create failed" "$SETUP_LOG" "${LOGS[radosgw]}"

  trap - EXIT INT TERM
  log "ready: $endpoint after ${SECONDS}s"
  # The only stdout output, so callers can eval it.
  cat <<EOF
export VSYNC_TEST_S3_ENDPOINT=$endpoint
export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export AWS_REGION=us-east-1
export VSYNC_TEST_RGW_DIR=$STATE
EOF
}

[[ $# -eq 2 ]] || usage
[[ -n $2 ]] || usage
STATE=$(abspath "$2")
[[ $STATE != / ]] || die "refusing to use / as state dir"
CONF="$STATE/ceph.conf"

case $1 in
  start) cmd_start ;;
  stop) cmd_stop ;;
  *) usage ;;
esac
