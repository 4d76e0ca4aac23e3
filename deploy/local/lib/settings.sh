# shellcheck shell=bash disable=SC2034,SC2154
# settings.sh: cartpair-local's settings: checks, a free block of ports,
# topology.env (saved by up, read by the other commands), haproxy.cfg and the
# banner 'up' prints.
# Sourced by deploy/local/cartpair-local, whose settings (RUN_DIR, the *_PORT
# variables, REDIS_MODE, ...) and die/info it uses.

# ---- configuration ----------------------------------------------------------

# Check that a value is a port number.
check_port_value() {
    if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
        die "$1=$2 is not a port number (1..65535)"
    fi
}

# Check the settings: numbers in range, no two processes on one port.
validate() {
    if ! [[ $REPLICAS =~ ^[0-9]+$ ]] || [ "$REPLICAS" -lt 1 ] || [ "$REPLICAS" -gt 50 ]; then
        die "REPLICAS=$REPLICAS must be a number from 1 to 50"
    fi
    case $REDIS_MODE in single | ha) ;; *) die "REDIS_MODE=$REDIS_MODE must be single or ha" ;; esac
    if ! [[ $REDIS_WAIT_REPLICAS =~ ^[0-2]$ ]]; then
        die "REDIS_WAIT_REPLICAS=$REDIS_WAIT_REPLICAS must be 0, 1 or 2 (there are two replicas)"
    fi
    case $REDIS_APPENDONLY in yes | no) ;; *) die "REDIS_APPENDONLY=$REDIS_APPENDONLY must be yes or no" ;; esac
    [[ $STOP_WAIT_SECONDS =~ ^[0-9]+$ ]] || die "STOP_WAIT_SECONDS=$STOP_WAIT_SECONDS is not a number"
    if ! [[ $REDIS_UNIX_REPLICAS =~ ^([1-9][0-9]*(,[1-9][0-9]*)*)?$ ]]; then
        die "REDIS_UNIX_REPLICAS=$REDIS_UNIX_REPLICAS must be a list of replica numbers (1,2)"
    fi
    if [ -n "$REDIS_UNIX_REPLICAS" ] && [ "$REDIS_MODE" = ha ]; then
        die "REDIS_UNIX_REPLICAS works with REDIS_MODE=single only"
    fi
    if [ -n "${REPL_SECRET_FILE:-}" ]; then
        if ! [ -f "$REPL_SECRET_FILE" ] || ! [ -r "$REPL_SECRET_FILE" ]; then
            die "REPL_SECRET_FILE=$REPL_SECRET_FILE is not a readable file"
        fi
        REPL_SECRET_FILE=$(cd "$(dirname "$REPL_SECRET_FILE")" && pwd)/$(basename "$REPL_SECRET_FILE")
    fi
    local v name p seen=" "
    for v in "${PORT_VARS[@]}" STATEFUL_BASE_PORT STATELESS_BASE_PORT SENTINEL_BASE_PORT; do
        check_port_value "$v" "${!v}"
    done
    for name in $(all_names); do
        p=$(port_of "$name")
        [ "$p" -le 65535 ] || die "$name would listen on $p; lower $(port_var_of "$name")"
    done
    case $REPLICATION in sync | async | off) ;; *) die "REPLICATION=$REPLICATION must be sync, async or off" ;; esac
    if ! [[ $REPL_PORT_OFFSET =~ ^[0-9]+$ ]] || [ "$REPL_PORT_OFFSET" -lt 1 ] ||
        [ $((STATEFUL_BASE_PORT + REPLICAS - 1 + REPL_PORT_OFFSET)) -gt 65535 ]; then
        die "REPL_PORT_OFFSET=$REPL_PORT_OFFSET must be a number that keeps the replication ports below 65536"
    fi
    for p in "$STATEFUL_PORT" "$STATELESS_PORT" $(for name in $(all_names); do port_of "$name"; done) \
        $(for ((k = 0; k < REPLICAS; k++)); do echo $((STATEFUL_BASE_PORT + k + REPL_PORT_OFFSET)); done); do
        case $seen in *" $p "*) die "port $p is configured twice; check the *_PORT settings" ;; esac
        seen="$seen$p "
    done
}

# True when nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Choose a block of free ports below the ephemeral range (b..b+9, the
# replicas' from b+10) and set the port variables: Redis nodes from b+3,
# sentinels from b+6. Fails when 30 tries find none.
pick_free_ports() {
    local b i p ok
    for ((i = 0; i < 30; i++)); do
        b=$((12000 + RANDOM % 20000)) ok=1
        for ((p = b; p <= b + 9 + 2 * REPLICAS; p++)); do
            port_free "$p" || { ok=0; break; }
        done
        if [ $ok = 1 ]; then
            STATEFUL_PORT=$b STATELESS_PORT=$((b + 1)) STATS_PORT=$((b + 2))
            REDIS_PORT=$((b + 3)) SENTINEL_BASE_PORT=$((b + 6)) STATEFUL_BASE_PORT=$((b + 10))
            STATELESS_BASE_PORT=$((b + 10 + REPLICAS))
            return 0
        fi
    done
    die "found no free block of ports"
}

# Print a free block of ports as shell exports (the free-ports command).
cmd_free_ports() {
    local v
    pick_free_ports
    for v in "${PORT_VARS[@]}" SENTINEL_BASE_PORT STATEFUL_BASE_PORT STATELESS_BASE_PORT; do
        echo "export $v=${!v}"
    done
}

# Save the settings so that later commands (down, kill, ...) act on the same topology.
save_settings() {
    local v
    {
        echo "# written by cartpair-local up; read by the other commands"
        for v in REPLICAS BIN_DIR STATEFUL_PORT STATELESS_PORT STATS_PORT STATEFUL_BASE_PORT \
                 STATELESS_BASE_PORT REDIS_PORT REPLICATION REPL_PORT_OFFSET REDIS_MODE SENTINEL_BASE_PORT REDIS_MASTER_NAME \
                 REDIS_WAIT_REPLICAS HAPROXY_BIN REDIS_BIN SENTINEL_BIN SVC_WRAPPER REDIS_WRAPPER \
                 REDIS_UNIX_REPLICAS REDIS_APPENDONLY STOP_WAIT_SECONDS ADMIN_SOCK "${PASS_VARS[@]}"; do
            if [ -n "${!v+x}" ]; then printf '%s=%q\n' "$v" "${!v}"; fi
        done
    } >"$RUN_DIR/topology.env"
}

# Load the settings saved by 'up' (they win over the environment).
load_settings() {
    [ -r "$RUN_DIR/topology.env" ] ||
        die "nothing was started from $RUN_DIR (no topology.env); set RUN_DIR or --run-dir"
    # shellcheck disable=SC1091
    . "$RUN_DIR/topology.env"
    local v
    for v in "${PASS_VARS[@]}"; do
        if [ -n "${!v+x}" ]; then export "${v?}"; fi
    done
}

# Print one HAProxy server line per replica of KIND (stateful ones with a cookie).
haproxy_servers() {
    local kind=$1 k name
    for ((k = 1; k <= REPLICAS; k++)); do
        name=$kind-$k
        if [ "$kind" = stateful ]; then
            echo "    server $name 127.0.0.1:$(port_of "$name") cookie $name"
        else
            echo "    server $name 127.0.0.1:$(port_of "$name")"
        fi
    done
}

# Render haproxy.cfg.in for the current settings into the run directory.
write_haproxy_cfg() {
    local line
    {
        echo "# Generated by cartpair-local up at $(date '+%F %T') from haproxy.cfg.in."
        while IFS= read -r line; do
            case $line in
                @STATEFUL_SERVERS@) haproxy_servers stateful ;;
                @STATELESS_SERVERS@) haproxy_servers stateless ;;
                *)
                    line=${line//@STATEFUL_PORT@/$STATEFUL_PORT}
                    line=${line//@STATELESS_PORT@/$STATELESS_PORT}
                    line=${line//@ADMIN_SOCK@/$ADMIN_SOCK}
                    echo "${line//@STATS_PORT@/$STATS_PORT}" ;;
            esac
        done <"$SCRIPT_DIR/haproxy.cfg.in"
    } >"$RUN_DIR/haproxy.cfg"
}

# ---- the banner -------------------------------------------------------------------

# Print where everything is and how to try it.
print_banner() {
    local jar="$RUN_DIR/cookies.txt" me=$0
    [ "$RUN_DIR" = "$REPO_ROOT/run/local" ] || me="$me --run-dir $RUN_DIR"
    cat <<EOF
cartpair topology is up: $REPLICAS + $REPLICAS replicas, $(redis_banner)
  stateful-svc  (cookie affinity): http://127.0.0.1:$STATEFUL_PORT
  stateless-svc (round robin):     http://127.0.0.1:$STATELESS_PORT
  HAProxy stats:                   http://127.0.0.1:$STATS_PORT/
  logs, pid files, haproxy.cfg:    $RUN_DIR

Try it (the cookie jar keeps both the cart cookie and HAProxy's SRV cookie):
  curl -si -c $jar -b $jar -X POST http://127.0.0.1:$STATEFUL_PORT/carts
  curl -si -c $jar -b $jar -H 'Content-Type: application/json' \\
       -d '{"sku":"BOOK-42","qty":2,"unit_price_cents":1999}' http://127.0.0.1:$STATEFUL_PORT/cart/items
  curl -si -c $jar -b $jar http://127.0.0.1:$STATEFUL_PORT/cart    # same X-Instance every time
  The same three against :$STATELESS_PORT spread over stateless-1..$REPLICAS.

Watch a replica die:  $me kill stateful-1     then the curl above again
                      $me restart stateful-1
                      $me status    |    $me logs -f haproxy
EOF
    if [ "$REDIS_MODE" = ha ]; then
        echo "Watch a failover:     $me kill redis-primary    then $me status"
    fi
}

# One line about the Redis side, for the banner.
redis_banner() {
    if [ "$REDIS_MODE" = ha ]; then
        echo "redis primary + 2 replicas on 127.0.0.1:$REDIS_PORT-$((REDIS_PORT + HA_NODES - 1))," \
             "sentinels on $(sentinel_list) (master $REDIS_MASTER_NAME)," \
             "REDIS_WAIT_REPLICAS=$REDIS_WAIT_REPLICAS"
    else
        echo "redis on 127.0.0.1:$REDIS_PORT (AOF)"
    fi
}
