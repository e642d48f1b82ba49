#!/usr/bin/env bash
# The chat example in real headless Chromium, without and with
# permessage-deflate. Installs what it needs: Debian's chromium (apt-get,
# when /usr/bin/chromium is missing and we are root) and playwright-core
# (npm, pinned in package-lock.json). Then a client that never answers
# Pings, which the chat's heartbeat must drop. Bounded in time; stops what
# it starts.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "browser test: chromium is missing and we cannot install it (not root)" >&2
        exit 1
    fi
fi
(cd tests/browser && [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --silent)
cargo build --quiet --release --features tokio --example chat

pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

for mode in plain deflate; do
    flag=()
    [ "$mode" = deflate ] && flag=(--deflate)
    port=$((30000 + RANDOM % 10000))
    ./target/release/examples/chat "127.0.0.1:$port" "${flag[@]}" --seconds 120 2>"target/browser-chat-$mode.log" &
    pid=$!
    wait_port "$port"
    timeout 120 node tests/browser/chat.mjs "http://127.0.0.1:$port/" "$mode"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done

# The server's heartbeat drops a client that stops answering Pings.
port=$((30000 + RANDOM % 10000))
./target/release/examples/chat "127.0.0.1:$port" --ping-interval-ms 200 --pong-timeout-ms 300 --seconds 60 \
    2>target/browser-chat-heartbeat.log &
pid=$!
wait_port "$port"
timeout 30 python3 tests/browser/silent_client.py "$port" 2
echo "browser: ok"
