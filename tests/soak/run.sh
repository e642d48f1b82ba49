#!/usr/bin/env bash
# The soak test (tests/soak/src/main.rs): builds the three example echo
# servers and the soak, then runs it; arguments go to the soak
# (--seconds 120 by default: the CI run). Bounded in time; the servers are
# killed when it ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v prlimit >/dev/null || { echo "soak: prlimit (util-linux) is needed" >&2; exit 2; }
cargo build --quiet --release --features blocking,tokio,mio,deflate \
    --example echo_server --example echo_server_tokio --example echo_server_mio
cargo build --quiet --release --manifest-path tests/soak/Cargo.toml --target-dir target/soak
# Well-behaved clients, hostile peers and the hog's connections to three
# servers: raise this process's soft descriptor limit to the hard one.
ulimit -n "$(ulimit -Hn)"
exec timeout 7200 target/soak/release/wsmachine-soak --bin-dir target/release/examples "$@"
