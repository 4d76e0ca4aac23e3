# shellcheck shell=bash disable=SC2034,SC2154
# redis.sh: cartpair-local's Redis and Sentinel: command lines, the
# sentinels' configuration, one-command RESP over bash's /dev/tcp, roles.
# Sourced by deploy/local/cartpair-local, whose settings (RUN_DIR, the *_PORT
# variables, REDIS_MODE, ...) and die/info it uses.

# ---- Redis ------------------------------------------------------------------------

# The sentinels' addresses, host:port,...
sentinel_list() {
    local k list=""
    for ((k = 1; k <= SENTINELS; k++)); do list+="${list:+,}127.0.0.1:$((SENTINEL_BASE_PORT + k - 1))"; done
    echo "$list"
}

# Fill CMD with a redis-server's command line: AOF on; in ha mode a node
# that is not the primary now replicates it.
redis_cmd() {
    local name=$1 port=$2 primary dir=$RUN_DIR/$1-data
    mkdir -p "$dir"
    CMD=("$REDIS_BIN" --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize no
         --protected-mode yes --save "" --appendonly "$REDIS_APPENDONLY" --appendfsync everysec)
    if [ -n "$REDIS_UNIX_REPLICAS" ]; then
        CMD+=(--unixsocket "$RUN_DIR/redis.sock" --unixsocketperm 700)
    fi
    [ "$REDIS_MODE" = ha ] || return 0
    primary=$(primary_port) || primary=$REDIS_PORT
    [ "$primary" = "$port" ] || CMD+=(--replicaof 127.0.0.1 "$primary")
}

# Write a sentinel's config unless it has one (the sentinel rewrites it as it learns).
sentinel_conf() {
    local f=$RUN_DIR/$1.conf
    [ -s "$f" ] && return 0
    cat >"$f" <<EOF
port $2
bind 127.0.0.1
daemonize no
dir $RUN_DIR
sentinel monitor $REDIS_MASTER_NAME 127.0.0.1 $REDIS_PORT 2
sentinel down-after-milliseconds $REDIS_MASTER_NAME 1000
sentinel failover-timeout $REDIS_MASTER_NAME 10000
sentinel parallel-syncs $REDIS_MASTER_NAME 1
EOF
}

# Send one inline command to 127.0.0.1:PORT and print the reply, one value a
# line (array and bulk headers dropped, +/: dropped, errors kept with their -).
resp() {
    local port=$1 line want=1
    shift
    { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf '%s\r\n' "$*" >&3
    while [ "$want" -gt 0 ] && read -r -t 2 line <&3; do
        line=${line%$'\r'}
        case $line in
            '*'*) want=$((want + ${line#\*})) ;;
            '$-1') echo ;;
            '$'*) continue ;;
            '+'* | ':'*) echo "${line:1}" ;;
            *) echo "$line" ;;
        esac
        want=$((want - 1))
    done
    exec 3<&- 3>&-
}

# The port of the Redis primary now: the sentinels' answer, else the node
# whose ROLE says master. Fails when none is known.
primary_port() {
    local k reply=()
    if [ "$REDIS_MODE" != ha ]; then echo "$REDIS_PORT"; return 0; fi
    for ((k = 0; k < SENTINELS; k++)); do
        mapfile -t reply < <(resp $((SENTINEL_BASE_PORT + k)) SENTINEL get-master-addr-by-name \
                             "$REDIS_MASTER_NAME" 2>/dev/null || true)
        if [ "${#reply[@]}" = 2 ] && [[ ${reply[1]} =~ ^[0-9]+$ ]]; then echo "${reply[1]}"; return 0; fi
    done
    for ((k = 0; k < HA_NODES; k++)); do
        mapfile -t reply < <(resp $((REDIS_PORT + k)) ROLE 2>/dev/null || true)
        if [ "${reply[0]:-}" = master ]; then echo $((REDIS_PORT + k)); return 0; fi
    done
    return 1
}

# A Redis node's role: primary, replica (link up/down), loading or none.
redis_role() {
    local reply=()
    mapfile -t reply < <(resp "$1" ROLE 2>/dev/null || true)
    case ${reply[0]:-} in
        master) echo primary ;;
        slave) echo "replica(${reply[3]:-?})" ;;
        -LOADING*) echo loading ;;
        *) echo none ;;
    esac
}

# True when a Redis node serves: PONG, and in ha mode a replica's link is up.
redis_ready() {
    [ "$(resp "$1" PING 2>/dev/null)" = PONG ] || return 1
    [ "$REDIS_MODE" = ha ] || return 0
    case $(redis_role "$1") in primary | "replica(connected)") return 0 ;; esac
    return 1
}
