# shellcheck shell=bash disable=SC2034,SC2154
# procs.sh: cartpair-local's process model (one table) and its processes:
# starting, checking readiness, telling ours from a recycled pid, stopping.
# Sourced by deploy/local/cartpair-local, whose settings (RUN_DIR, the *_PORT
# variables, REDIS_MODE, ...) and die/info it uses.

# ---- the process model ------------------------------------------------------------

# One row per kind of process, in start order: 'up' starts them top to bottom,
# 'down' stops them bottom to top. COUNT is 1 (the name is the kind) or a
# variable (names KIND-1..KIND-N); the K-th listens on PORTVAR + K - 1; PROGVAR
# names the program; READY says when it serves; WRAPVAR holds a command the
# program runs under (-: none); MODE is the REDIS_MODE it belongs to (any: both).
#   KIND      COUNT      PORTVAR              PROGVAR        READY   WRAPVAR        MODE
PROCS=(
    "redis     1          REDIS_PORT           REDIS_BIN      redis   REDIS_WRAPPER  single"
    "redis     HA_NODES   REDIS_PORT           REDIS_BIN      redis   REDIS_WRAPPER  ha"
    "sentinel  SENTINELS  SENTINEL_BASE_PORT   SENTINEL_BIN   pong    -              ha"
    "stateful  REPLICAS   STATEFUL_BASE_PORT   STATEFUL_BIN   readyz  SVC_WRAPPER    any"
    "stateless REPLICAS   STATELESS_BASE_PORT  STATELESS_BIN  readyz  SVC_WRAPPER    any"
    "haproxy   1          STATS_PORT           HAPROXY_BIN    stats   -              any"
)

# The rows of PROCS that belong to this REDIS_MODE.
active_rows() {
    local row
    for row in "${PROCS[@]}"; do
        case ${row##* } in any | "$REDIS_MODE") echo "$row" ;; esac
    done
}

# The names of one row's processes.
row_names() {
    local kind=$1 count=$2 k
    if [ "$count" = 1 ]; then echo "$kind"; return; fi
    for ((k = 1; k <= ${!count}; k++)); do echo "$kind-$k"; done
}

# All process names, in start order.
all_names() {
    local kind count
    while read -r kind count _; do row_names "$kind" "$count"; done < <(active_rows)
}

# Find NAME in the process model: sets P_KIND, P_INDEX, P_PORTVAR, P_PROGVAR,
# P_READY and P_WRAPVAR; fails when there is no such process.
lookup() {
    local name=$1 kind count portvar progvar ready wrapvar idx
    while read -r kind count portvar progvar ready wrapvar _; do
        if [ "$count" = 1 ]; then
            [ "$name" = "$kind" ] || continue
            idx=1
        else
            [[ $name =~ ^$kind-([1-9][0-9]*)$ ]] || continue
            idx=${BASH_REMATCH[1]}
            [ "$idx" -le "${!count}" ] || continue
        fi
        P_KIND=$kind P_INDEX=$idx P_PORTVAR=$portvar P_PROGVAR=$progvar P_READY=$ready
        P_WRAPVAR=$wrapvar
        return 0
    done < <(active_rows)
    return 1
}

# True when NAME is one of this topology's processes.
valid_name() { lookup "$1"; }

# The port a process listens on (haproxy: the stats port).
port_of() {
    lookup "$1" || return 1
    echo $((${!P_PORTVAR} + P_INDEX - 1))
}

# The variable a user changes to move NAME's port.
port_var_of() { lookup "$1" && echo "$P_PORTVAR"; }

# The executable's resolved path, to tell our process from a recycled pid.
exe_of() {
    local bin
    lookup "$1" || return 1
    bin=${!P_PROGVAR}
    case $bin in */*) ;; *) bin=$(command -v "$bin" || echo "$bin") ;; esac
    readlink -f "$bin" 2>/dev/null || echo "$bin"
}

# Fill the array CMD with NAME's command line (environment goes through env,
# then the row's wrapper, then the program).
cmd_of() {
    local name=$1 wrap=()
    lookup "$name"
    [ "$P_WRAPVAR" = - ] || read -ra wrap <<<"${!P_WRAPVAR}"
    prog_cmd "$name"
    if [ "${CMD[0]}" = env ]; then
        CMD=("${CMD[@]:0:$((${#CMD[@]} - 1))}" "${wrap[@]}" "${CMD[-1]}")
    else
        CMD=("${wrap[@]}" "${CMD[@]}")
    fi
}

# The store a stateless replica uses: REDIS_URL, or the sentinels in ha mode.
stateless_store() {
    if [ "$REDIS_MODE" = ha ]; then
        STORE=(REDIS_SENTINELS="$(sentinel_list)" REDIS_MASTER_NAME="$REDIS_MASTER_NAME"
               REDIS_WAIT_REPLICAS="$REDIS_WAIT_REPLICAS")
    elif [[ ,$REDIS_UNIX_REPLICAS, == *,$1,* ]]; then
        STORE=(REDIS_URL="unix://$RUN_DIR/redis.sock")
    else
        STORE=(REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0")
    fi
}

# Fill CMD with NAME's program and arguments; a service's ends with its binary.
prog_cmd() {
    local name=$1 port peers="" k
    port=$(port_of "$name")
    lookup "$name"
    case $P_KIND in
        redis) redis_cmd "$name" "$port" ;;
        sentinel)
            sentinel_conf "$name" "$port"
            CMD=("$SENTINEL_BIN" "$RUN_DIR/$name.conf") ;;
        stateful)
            # PEERS: every stateful replica: each cart has a backup copy on a
            # peer (REPLICATION), taken over when its owner dies or drains.
            for ((k = 1; k <= REPLICAS; k++)); do
                peers+="${peers:+,}127.0.0.1:$((STATEFUL_BASE_PORT + k - 1))"
            done
            CMD=(env PORT="$port" LISTEN_ADDR=127.0.0.1 INSTANCE_ID="$name" PEERS="$peers"
                 REPLICATION="$REPLICATION" REPL_PORT_OFFSET="$REPL_PORT_OFFSET"
                 "$STATEFUL_BIN") ;;
        stateless)
            stateless_store "$P_INDEX"
            # (REPL_SECRET_FILE is the stateful replicas' only)
            CMD=(env -u REPL_SECRET_FILE PORT="$port" LISTEN_ADDR=127.0.0.1 INSTANCE_ID="$name"
                 "${STORE[@]}" "$STATELESS_BIN") ;;
        haproxy)
            CMD=("$HAPROXY_BIN" -db -f "$RUN_DIR/haproxy.cfg") ;;
    esac
}

# ---- processes ----------------------------------------------------------------

pidfile() { echo "$RUN_DIR/$1.pid"; }
logfile() { echo "$RUN_DIR/$1.log"; }

# True when pid has exited but was not reaped yet.
is_zombie() {
    local stat=""
    read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
    stat=${stat##*) }
    [ "${stat%% *}" = Z ]
}

# The recorded pid of NAME when that process is still ours and alive; else fails.
live_pid() {
    local f pid exe
    f=$(pidfile "$1")
    [ -r "$f" ] || return 1
    read -r pid <"$f" 2>/dev/null || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    is_zombie "$pid" && return 1
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || exe=""
    exe=${exe% (deleted)}
    if [ -n "$exe" ] && [ "$exe" != "$(exe_of "$1")" ]; then
        # Just started: still our wrapper shell, whose arguments name this pid
        # file; or a wrapper that stays (valgrind), whose arguments name the program.
        # (no pipe: grep -q may exit first, and pipefail would count tr's SIGPIPE)
        grep -qxF -e "$f" -e "$(exe_of "$1")" < <(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) ||
            return 1
    fi
    echo "$pid"
}

# True when something accepts connections on 127.0.0.1:PORT or listens on PORT.
port_taken() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        return 0
    fi
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Hltn "( sport = :$1 )" 2>/dev/null)" ] && return 0
    fi
    return 1
}

# Fail with a clear message when NAME's port is taken.
check_port_free() {
    local port
    port=$(port_of "$1")
    if port_taken "$port"; then
        die "port $port (for $1) is already in use; set $(port_var_of "$1") (or the" \
            "matching --flag) to another port, or stop what listens there"
    fi
}

# Start NAME in its own session (immune to the terminal's Ctrl-C), logging to its file.
start_proc() {
    local name=$1 log pf
    log=$(logfile "$name")
    pf=$(pidfile "$name")
    rm -f "$pf"
    cmd_of "$name"
    echo "---- cartpair-local: starting $name at $(date '+%F %T'): ${CMD[*]}" >>"$log"
    # The wrapper records its own pid, then execs: the pid file names the real process.
    # shellcheck disable=SC2016
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pf" "${CMD[@]}" \
        </dev/null >>"$log" 2>&1 &
}

# One HTTP GET to 127.0.0.1:PORT PATH; prints the status code (000 when none).
http_code() {
    curl -s -o /dev/null -m 2 --noproxy '*' -w '%{http_code}' "http://127.0.0.1:$1$2" \
        2>/dev/null || true
}

# True once NAME is ready to serve, as its row's READY column says.
ready_now() {
    local port
    port=$(port_of "$1")
    lookup "$1"
    case $P_READY in
        redis) redis_ready "$port" ;;
        pong) [ "$(resp "$port" PING 2>/dev/null)" = PONG ] ;;
        stats) [ "$(http_code "$port" /)" = 200 ] ;;
        readyz) [ "$(http_code "$port" /readyz)" = 200 ] ;;
    esac
}

# Wait (bounded) until NAME is ready; on failure show its log and fail.
wait_ready() {
    local name=$1 i
    for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
        if [ -s "$(pidfile "$name")" ] && ! live_pid "$name" >/dev/null; then
            break
        fi
        ready_now "$name" && return 0
        sleep 0.1
    done
    info "$name did not become ready; last lines of $(logfile "$name"):"
    tail -n 15 "$(logfile "$name")" >&2 || true
    return 1
}

# SIGTERM NAME, wait (bounded) for it to exit, SIGKILL if it does not.
stop_proc() {
    local name=$1 pid i limit
    pid=$(live_pid "$name") || { rm -f "$(pidfile "$name")"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    limit=$(((${DRAIN_SECONDS:-0} + STOP_WAIT_SECONDS) * 10))
    for ((i = 0; i < limit; i++)); do
        if ! kill -0 "$pid" 2>/dev/null || is_zombie "$pid"; then break; fi
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && ! is_zombie "$pid"; then
        info "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do live_pid "$name" >/dev/null || break; sleep 0.1; done
    fi
    rm -f "$(pidfile "$name")"
}
