# shellcheck shell=bash disable=SC2034,SC2154
# balancer.sh: cartpair-local's hold on HAProxy: its view of each server (the
# stats page), its runtime API (the admin socket ADMIN_SOCK), and the commands
# that take a live replica out of rotation and put it back as Kubernetes does:
# flap (a readiness blip) and rollout (a StatefulSet / Deployment rollout).
# Sourced by deploy/local/cartpair-local, whose settings and die/info it uses,
# and the process functions of procs.sh.

# The admin socket's path: RUN_DIR/haproxy.sock, or one in TMPDIR named after
# the run directory when that path is too long for a unix socket (108 bytes).
admin_sock_path() {
    local p=$RUN_DIR/haproxy.sock sum
    if [ "${#p}" -gt 100 ]; then
        sum=$(printf '%s' "$RUN_DIR" | cksum)
        p=${TMPDIR:-/tmp}/cartpair-haproxy-${sum%% *}.sock
    fi
    echo "$p"
}

# HAProxy's view of each server (name -> UP/DOWN/MAINT/...), from the stats CSV.
declare -A HASTATE=()
load_haproxy_state() {
    local px sv st
    HASTATE=()
    while IFS=, read -r px sv _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ st _; do
        case $px in stateful_replicas | stateless_replicas) ;; *) continue ;; esac
        case $sv in BACKEND | FRONTEND) continue ;; esac
        HASTATE[$sv]=$st
    done < <(curl -s -m 2 --noproxy '*' "http://127.0.0.1:$STATS_PORT/;csv" 2>/dev/null || true)
}

# Send one command to HAProxy's runtime API; fails when it cannot be reached
# or answers anything but an empty line (what a 'set' answers when it worked).
haproxy_cli() {
    local reply
    [ -n "${ADMIN_SOCK:-}" ] ||
        die "this topology was started without HAProxy's admin socket; run 'down' and 'up' again"
    command -v socat >/dev/null || die "socat not found (apt-get install socat)"
    [ -S "$ADMIN_SOCK" ] || die "no HAProxy admin socket at $ADMIN_SOCK (is haproxy running?)"
    reply=$(printf '%s\n' "$*" | socat -t 2 - "UNIX-CONNECT:$ADMIN_SOCK" 2>&1) ||
        die "HAProxy's admin socket $ADMIN_SOCK does not answer: $reply"
    reply=$(printf '%s' "$reply" | tr -d '\r' | sed '/^[[:space:]]*$/d')
    [ -z "$reply" ] || die "HAProxy refused '$*': $reply"
}

# The HAProxy backend of replica NAME (stateful-K or stateless-K); dies otherwise.
backend_of() {
    valid_name "$1" || die "no process named '$1' (one of: $(all_names | tr '\n' ' '))"
    lookup "$1"
    case $P_KIND in
        stateful | stateless) echo "${P_KIND}_replicas" ;;
        *) die "$1 is not a replica behind HAProxy (stateful-K or stateless-K)" ;;
    esac
}

# Wait (bounded by WAIT_SECONDS) until HAProxy reports NAME in a state matching
# the pattern WANT (UP, MAINT*); fails with what it reports instead.
wait_haproxy_state() {
    local name=$1 want=$2 i
    for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
        load_haproxy_state
        # shellcheck disable=SC2053
        [[ ${HASTATE[$name]:-} == $want ]] && return 0
        sleep 0.1
    done
    info "HAProxy reports $name as '${HASTATE[$name]:-unknown}', not $want"
    return 1
}

# Take replica NAME out of HAProxy's rotation (maint: no request reaches it,
# a session whose cookie names it goes to another replica), or put it back
# (ready: health-checked again, in rotation once UP).
rotation_out() {
    haproxy_cli "set server $(backend_of "$1")/$1 state maint"
    wait_haproxy_state "$1" 'MAINT*' || die "HAProxy did not take $1 out of rotation"
    info "$(date +%T.%3N) $1 is out of HAProxy's rotation"
}
rotation_in() {
    haproxy_cli "set server $(backend_of "$1")/$1 state ready"
    wait_haproxy_state "$1" 'UP*' || die "$1 did not come back UP in HAProxy"
    info "$(date +%T.%3N) $1 is back in HAProxy's rotation (UP)"
}

# Check that a value is a number of seconds (fractions allowed).
check_seconds() {
    [[ $2 =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "$1 must be a number of seconds, not '$2'"
}

# Put NAME back in rotation when flap or rollout is interrupted.
ROTATION_OUT=""
restore_rotation() {
    trap - INT TERM
    if [ -n "$ROTATION_OUT" ] && live_pid "$ROTATION_OUT" >/dev/null; then
        info "interrupted; putting $ROTATION_OUT back in rotation"
        haproxy_cli "set server $(backend_of "$ROTATION_OUT")/$ROTATION_OUT state ready" || true
    fi
    exit 130
}

# flap NAME SECONDS: a readiness blip; NAME keeps running, out of rotation for SECONDS.
cmd_flap() {
    local name=$1 secs=$2
    backend_of "$name" >/dev/null
    check_seconds "flap's SECONDS" "$secs"
    live_pid "$name" >/dev/null || die "$name is not running"
    trap restore_rotation INT TERM
    ROTATION_OUT=$name
    rotation_out "$name"
    sleep "$secs"
    rotation_in "$name"
    ROTATION_OUT=""
    trap - INT TERM
    info "flapped $name: out of rotation for ${secs}s, still pid $(live_pid "$name" || echo '?')"
}

# Roll one replica: out of rotation, the pre-stop pause, SIGTERM and wait for
# the exit, start it again, wait for /readyz, back in rotation, min-ready pause.
roll_one() {
    local name=$1 pre_stop=$2 min_ready=$3 old
    old=$(live_pid "$name") || old=none
    ROTATION_OUT=$name
    [ "$old" = none ] || rotation_out "$name"
    sleep "$pre_stop"
    stop_proc "$name"
    info "$(date +%T.%3N) $name (pid $old) stopped (SIGTERM)"
    check_port_free "$name"
    start_proc "$name"
    wait_ready "$name" || die "$name did not come back (see $(logfile "$name"))"
    info "$(date +%T.%3N) $name started again (pid $(live_pid "$name" || echo '?')), /readyz 200"
    rotation_in "$name"
    ROTATION_OUT=""
    sleep "$min_ready"
}

# rollout stateful|stateless: every replica of the service in turn, highest
# ordinal first (a StatefulSet's order), each as roll_one does.
cmd_rollout() {
    local svc=$1 k t0=$SECONDS
    case $svc in stateful | stateless) ;; *) die "rollout needs stateful or stateless, not '$svc'" ;; esac
    check_seconds "--pre-stop" "$PRE_STOP_SECONDS"
    check_seconds "--min-ready" "$MIN_READY_SECONDS"
    trap restore_rotation INT TERM
    info "$(date +%T.%3N) rollout of $svc-$REPLICAS..$svc-1: pre-stop ${PRE_STOP_SECONDS}s," \
         "min-ready ${MIN_READY_SECONDS}s"
    for ((k = REPLICAS; k >= 1; k--)); do
        roll_one "$svc-$k" "$PRE_STOP_SECONDS" "$MIN_READY_SECONDS"
    done
    trap - INT TERM
    info "$(date +%T.%3N) rollout of $svc done: $REPLICAS replicas in $((SECONDS - t0))s"
}
