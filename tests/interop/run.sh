#!/usr/bin/env bash
# Interop with an independent implementation (Python's `websockets`, from
# PyPI): its client against our echo_server, our echo_client against its
# server; uncompressed, then with permessage-deflate. Bounded in time;
# cleans up what it starts.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/interop-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'websockets>=13,<18'
fi
cargo build --quiet --release --features blocking --example echo_server --example echo_client

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

# Each pass: uncompressed, then with permessage-deflate (RFC 7692) on both sides.
for mode in plain deflate; do
    flag=(); pyflag=()
    if [ "$mode" = deflate ]; then flag=(--deflate); pyflag=(deflate); fi
    port_a=$((20000 + RANDOM % 10000)); port_b=$((port_a + 1))
    ./target/release/examples/echo_server "127.0.0.1:$port_a" "${flag[@]}" 2>"target/interop-echo-server-$mode.log" &
    pids+=($!)
    timeout 60 "$venv/bin/python" tests/interop/python_peer.py server 127.0.0.1 "$port_b" "${pyflag[@]}" >"target/interop-python-server-$mode.log" 2>&1 &
    pids+=($!)
    wait_port "$port_a"; wait_port "$port_b"

    echo "== [$mode] python websockets client -> wsmachine echo_server"
    timeout 60 "$venv/bin/python" tests/interop/python_peer.py client "ws://127.0.0.1:$port_a/" "${pyflag[@]}"
    echo "== [$mode] wsmachine echo_client -> python websockets server"
    timeout 60 ./target/release/examples/echo_client "${flag[@]}" "ws://127.0.0.1:$port_b/" hello "κόσμε" "$(head -c 3000 /dev/zero | tr '\0' x)" >/dev/null
done
echo "interop: ok"
