#!/usr/bin/env bash
# A private RabbitMQ broker for the tests: Debian's rabbitmq-server (installed here if missing,
# without starting the system service), run as a foreground node on 127.0.0.1 with every piece
# of state under one temp directory.
#
#   scripts/start-rabbitmq.sh install         # install only (idempotent; apt-get, non-interactive)
#   scripts/start-rabbitmq.sh start DIR       # start a node in DIR, print `PORT PID` when ready
#   scripts/start-rabbitmq.sh stop DIR        # stop that node and its epmd
#
# The node listens on a free port; its Erlang distribution port and epmd port are free ports too,
# so parallel tests (and a system broker, if any) do not collide.
set -euo pipefail

RMQ_BIN=/usr/lib/rabbitmq/bin

install() {
    if [[ -x "$RMQ_BIN/rabbitmq-server" ]]; then
        return 0
    fi
    if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
        echo "start-rabbitmq: rabbitmq-server is not installed and this user cannot install it (not root, no sudo)" >&2
        return 1
    fi
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo -n"
    echo "start-rabbitmq: installing Debian's rabbitmq-server" >&2
    # policy-rc.d 101: the package's post-install must not start the system service.
    local policy=/usr/sbin/policy-rc.d created_policy=""
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod +x "$policy"
        created_policy=1
    fi
    local rc=0
    {
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rabbitmq-server </dev/null \
            || { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null &&
                $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rabbitmq-server </dev/null; }
    } >&2 || rc=$?
    [[ -n $created_policy ]] && $sudo rm -f "$policy"
    if [[ $rc -ne 0 || ! -x "$RMQ_BIN/rabbitmq-server" ]]; then
        echo "start-rabbitmq: could not install rabbitmq-server with apt-get (exit $rc)" >&2
        return 1
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

node_env() {
    local dir=$1
    export HOME="$dir" RABBITMQ_NODENAME="triage$(basename "$dir" | tr -cd 'a-zA-Z0-9')@localhost" \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1 \
        RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_CONFIG_FILE="$dir/rabbitmq" \
        RABBITMQ_PID_FILE="$dir/rabbit.pid"
    export ERL_EPMD_PORT RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT
    ERL_EPMD_PORT=$(cat "$dir/epmd_port")
    RABBITMQ_NODE_PORT=$(cat "$dir/port")
    RABBITMQ_DIST_PORT=$(cat "$dir/dist_port")
}

start() {
    local dir=$1
    install
    mkdir -p "$dir/log" "$dir/mnesia"
    free_port >"$dir/port"
    free_port >"$dir/dist_port"
    free_port >"$dir/epmd_port"
    echo '[].' >"$dir/enabled_plugins" # no management plugin
    : >"$dir/rabbitmq.conf"
    node_env "$dir"
    # setsid: the node, its epmd and children form one process group that `stop` can kill.
    setsid "$RMQ_BIN/rabbitmq-server" >"$dir/log/console.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$dir/server.pid"
    # await_startup gives up at once while the node is not registered with epmd yet: poll.
    local ok="" i
    for i in $(seq 1 120); do
        if "$RMQ_BIN/rabbitmqctl" -q await_startup --timeout 30 >/dev/null 2>"$dir/log/await.err"; then
            ok=1
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if [[ -z $ok ]]; then
        echo "start-rabbitmq: the broker did not start; console log:" >&2
        tail -n 30 "$dir/log/console.log" >&2 || true
        stop "$dir"
        return 1
    fi
    echo "$RABBITMQ_NODE_PORT $pid"
}

stop() {
    local dir=$1
    [[ -f "$dir/port" ]] || return 0
    node_env "$dir"
    timeout 20 "$RMQ_BIN/rabbitmqctl" -q stop >/dev/null 2>&1 || true
    if [[ -f "$dir/server.pid" ]]; then
        local pid
        pid=$(cat "$dir/server.pid")
        # The process group started by setsid: the node, epmd and any helpers.
        kill -TERM -- "-$pid" 2>/dev/null || true
        sleep 0.5
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    # epmd daemonises out of the process group; it serves only this node (own port), so end it.
    local epmd
    epmd=$(command -v epmd || ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | head -n 1 || true)
    [[ -n $epmd ]] && "$epmd" -kill >/dev/null 2>&1 || true
}

case "${1:-}" in
install) install ;;
start) start "${2:?usage: start DIR}" ;;
stop) stop "${2:?usage: stop DIR}" ;;
*)
    echo "usage: $0 install | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
