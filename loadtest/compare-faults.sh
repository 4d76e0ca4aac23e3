# shellcheck shell=bash disable=SC2154
# compare-faults.sh: the fault each loadtest/compare scenario injects into a
# run, and the Redis replies they read. Sourced by loadtest/compare, whose
# settings (FAULT_AT, REPLICAS, REDIS_DOWN, PRE_STOP, MIN_READY, FLAP, the
# port variables) and topo function it uses.

# A redis command's integer reply (DBSIZE) from the node on port $2
# (REDIS_PORT by default), or "-".
redis_int() {
    local line
    exec 4<>"/dev/tcp/127.0.0.1/${2:-$REDIS_PORT}" 2>/dev/null || { echo -; return; }
    printf '%s\r\n' "$1" >&4
    read -r -t 2 line <&4 || line=""
    exec 4<&- 4>&-
    line=${line%$'\r'}
    [[ $line == :* ]] && echo "${line#:}" || echo -
}

# The port of the Redis primary the first sentinel names.
primary_port() {
    local line port=""
    exec 4<>"/dev/tcp/127.0.0.1/$SENTINEL_BASE_PORT" 2>/dev/null || { echo "$REDIS_PORT"; return; }
    printf 'SENTINEL get-master-addr-by-name mymaster\r\n' >&4
    for _ in 1 2 3 4 5; do read -r -t 2 line <&4 || break; port=${line%$'\r'}; done
    exec 4<&- 4>&-
    [[ $port =~ ^[0-9]+$ ]] && echo "$port" || echo "$REDIS_PORT"
}

# The cart count of stateful-1 (GET /info), or "-".
stateful_carts() {
    curl -s -m 2 "http://127.0.0.1:$STATEFUL_BASE_PORT/info" | jq -r '.carts // "-"' 2>/dev/null ||
        echo -
}

# Inject scenario $1's fault into run $2 (stateful-MODE, stateless or
# stateless-nowait); writes what the victim held.
fault() {
    local scen=$1 run=$2 dir=$3 held=- svc=${2%%-*} k
    sleep "$FAULT_AT"
    case $scen in
        replica-kill)
            if [ "$svc" = stateful ]; then held=$(stateful_carts); fi
            echo "${held:--}" >"$dir/$run.held"
            topo kill "$svc-1" >>"$dir/faults.log" 2>&1 || return 1 ;;
        readiness-flap)
            # replica 1 holds a third of the sessions (HAProxy balances new ones round robin)
            if [ "$svc" = stateful ]; then held=$(stateful_carts); fi
            echo "${held:--}" >"$dir/$run.held"
            topo flap "$svc-1" "$FLAP" >>"$dir/faults.log" 2>&1 || return 1 ;;
        k8s-rollout)
            topo --pre-stop "$PRE_STOP" --min-ready "$MIN_READY" rollout "$svc" \
                >>"$dir/faults.log" 2>&1 || return 1 ;;
        rolling-restart)
            for ((k = 1; k <= REPLICAS; k++)); do
                topo restart "$svc-$k" >>"$dir/faults.log" 2>&1 || return 1
                sleep 1
            done ;;
        redis-stop)
            # two keys per cart: the cart and its idempotency record
            if [ "$svc" = stateless ]; then held=$(redis_int DBSIZE); fi
            [ "$held" != - ] && held=$(( (held + 1) / 2 ))
            echo "$held" >"$dir/$run.held"
            topo kill redis >>"$dir/faults.log" 2>&1 || return 1
            sleep "$REDIS_DOWN"
            topo restart redis >>"$dir/faults.log" 2>&1 || return 1 ;;
        redis-restart)
            if [ "$svc" = stateless ]; then held=$(redis_int DBSIZE); fi
            echo "$held" >"$dir/$run.held"
            topo restart redis >>"$dir/faults.log" 2>&1 || return 1 ;;
        redis-failover)
            if [ "$svc" = stateless ]; then held=$(redis_int DBSIZE "$(primary_port)"); fi
            echo "$held" >"$dir/$run.held"
            topo kill redis-primary >>"$dir/faults.log" 2>&1 || return 1 ;;
    esac
}
