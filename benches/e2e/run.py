#!/usr/bin/env python3
"""End-to-end echo load test: wsmachine's echo servers (mio and tokio
adapters) and the peers' (tokio-tungstenite 0.30, fastwebsockets 0.10), one
after another in one run, under the same load generator.

    python3 benches/e2e/run.py [--rounds 3] [--seconds 5] [--quick | --memory-only]

Each server runs on one thread pinned to core 0, the load generator on core
1 (taskset, when there is one). Scenarios are the issue's: (connections,
messages in flight per connection, message size). Every (scenario,
server) pair runs --rounds times, servers interleaved, and the median is
reported. Then memory: the resident set of each server before and while
holding 1,000 and 10,000 idle connections. Prints markdown tables (ratios
against the best peer, measured in the same run) and writes every figure
to target/e2e-results.json. Every process is bounded in time and killed at
the end.
"""
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")
SERVERS = ["wsmachine-mio", "wsmachine-tokio", "tokio-tungstenite", "fastwebsockets"]
OURS = ["wsmachine-mio", "wsmachine-tokio"]
PEERS = ["tokio-tungstenite", "fastwebsockets"]
SCENARIOS = [(1, 1, 16), (64, 16, 16), (64, 4, 1024), (8, 2, 65536), (1000, 1, 125)]
IDLE = [1000, 10000]


def arg(name, default):
    if name in sys.argv:
        return type(default)(sys.argv[sys.argv.index(name) + 1])
    return default


def pin(core):
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() >= 2 else []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} never opened")


def start_server(name, port):
    proc = subprocess.Popen(pin(0) + [os.path.join(BIN, "e2e_server"), name, f"127.0.0.1:{port}", "--seconds", "300"])
    wait_port(port)
    return proc


def stop(proc):
    proc.kill()
    proc.wait()


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(server, port, conns, window, size, seconds):
    """Runs the load; also the server's CPU time per echoed message while it was measured."""
    cmd = pin(1) + [
        os.path.join(BIN, "e2e_load"), "--addr", f"127.0.0.1:{port}", "--conns", str(conns),
        "--window", str(window), "--size", str(size), "--seconds", str(seconds), "--warmup", "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if line.strip() != "measuring":
            raise SystemExit(f"e2e_load failed: {line}{proc.stderr.read()[-2000:]}")
        cpu_before = cpu_seconds(server.pid)
        line = proc.stdout.readline()
        cpu = cpu_seconds(server.pid) - cpu_before
        proc.wait(timeout=30)
    finally:
        proc.kill()
    if proc.returncode != 0 or not line:
        raise SystemExit(f"e2e_load failed: {proc.stderr.read()[-2000:]}")
    result = json.loads(line)
    result["server_cpu_s"] = round(cpu, 3)
    result["server_cpu_ns_per_msg"] = round(cpu * 1e9 / max(result["messages"], 1))
    return result


def idle_memory(name, n):
    port = free_port()
    server = start_server(name, port)
    try:
        time.sleep(0.3)
        before = rss_kib(server.pid)
        client = subprocess.Popen(
            pin(1) + [os.path.join(BIN, "e2e_load"), "--addr", f"127.0.0.1:{port}", "--idle", str(n), "--hold", "5"],
            stdout=subprocess.PIPE, text=True,
        )
        line = client.stdout.readline()  # printed once every connection is open
        if not line:
            raise SystemExit(f"{name}: the idle connections did not open")
        time.sleep(2.5)  # past the adapters' 1 s shrink_after: the state of an idle connection
        during = rss_kib(server.pid)
        peak = rss_kib(server.pid, "VmHWM")
        client.wait(timeout=60)
        return {"server": name, "idle": n, "rss_before_kib": before, "rss_kib": during, "peak_kib": peak,
                "bytes_per_conn": round((during - before) * 1024 / n)}
    finally:
        stop(server)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the servers and the load
    if hard < max(IDLE) + 100:  # each process holds one side of every connection
        raise SystemExit(f"open-file limit {hard} is too low for {max(IDLE)} idle connections")
    subprocess.run(["cargo", "build", "--quiet", "--release", "--bins"], cwd=ROOT, check=True)
    rounds, seconds = arg("--rounds", 3), arg("--seconds", 5)
    scenarios = SCENARIOS[:2] if "--quick" in sys.argv else SCENARIOS
    results = {"when": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpu": cpu_model(), "rounds": rounds,
               "seconds": seconds, "pinned": bool(pin(0)), "runs": [], "memory": []}
    for (conns, window, size) in ([] if "--memory-only" in sys.argv else scenarios):
        for r in range(rounds):
            for name in SERVERS:
                port = free_port()
                server = start_server(name, port)
                try:
                    res = load(server, port, conns, window, size, seconds)
                finally:
                    stop(server)
                res.update(server=name, round=r)
                results["runs"].append(res)
                print(f"  {name:18} C={conns:<5} W={window:<3} S={size:<6} {res['msgs_per_s']:>10} msg/s "
                      f"p50 {res['p50_us']} us p99 {res['p99_us']} us, server CPU {res['server_cpu_ns_per_msg']} ns/msg", file=sys.stderr)
    if "--quick" not in sys.argv:
        for n in IDLE:
            for name in SERVERS:
                m = idle_memory(name, n)
                results["memory"].append(m)
                print(f"  {name:18} {n} idle: {m['bytes_per_conn']} B/conn, RSS {m['rss_kib']} KiB", file=sys.stderr)
    os.makedirs(os.path.join(ROOT, "target"), exist_ok=True)
    with open(os.path.join(ROOT, "target", "e2e-results.json"), "w") as f:
        json.dump(results, f, indent=1)
    report(results, [] if "--memory-only" in sys.argv else scenarios)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def report(results, scenarios):
    print(f"End-to-end echo, {results['when']}, {results['cpu']}, {os.cpu_count()} cores, "
          f"servers pinned to core 0 and the load to core 1: {results['pinned']}; median of "
          f"{results['rounds']} runs of {results['seconds']} s each.\n")
    print("Messages per second (echoes received by the load generator):\n")
    print("| C | W | size | " + " | ".join(f"{s}" for s in SERVERS)
          + " | mio ÷ best peer | tokio ÷ best peer | p50 / p99 µs (mio) | p50 / p99 µs (best peer) |")
    print("|" + "---|" * (3 + len(SERVERS) + 4))
    cpu_rows = []
    for (conns, window, size) in scenarios:
        med = {}
        for name in SERVERS:
            runs = [r for r in results["runs"] if r["server"] == name and (r["conns"], r["window"], r["size"]) == (conns, window, size)]
            med[name] = {k: statistics.median(r[k] for r in runs)
                         for k in ("msgs_per_s", "p50_us", "p99_us", "server_cpu_ns_per_msg", "server_cpu_s")}
        best = max(PEERS, key=lambda p: med[p]["msgs_per_s"])
        ratio = lambda ours: med[ours]["msgs_per_s"] / max(med[best]["msgs_per_s"], 1)
        cells = " | ".join(f"{med[s]['msgs_per_s']:,.0f}" for s in SERVERS)
        print(f"| {conns} | {window} | {size} | {cells} | {ratio('wsmachine-mio'):.2f}× | {ratio('wsmachine-tokio'):.2f}× "
              f"| {med['wsmachine-mio']['p50_us']:.0f} / {med['wsmachine-mio']['p99_us']:.0f} "
              f"| {med[best]['p50_us']:.0f} / {med[best]['p99_us']:.0f} ({best}) |")
        cheapest = min(PEERS, key=lambda p: med[p]["server_cpu_ns_per_msg"])
        cost = lambda ours: med[cheapest]["server_cpu_ns_per_msg"] / max(med[ours]["server_cpu_ns_per_msg"], 1)
        cells = " | ".join(f"{med[s]['server_cpu_ns_per_msg']:,.0f} ns ({100 * med[s]['server_cpu_s'] / results['seconds']:.0f}%)"
                           for s in SERVERS)
        cpu_rows.append(f"| {conns} | {window} | {size} | {cells} | {cost('wsmachine-mio'):.2f}× | {cost('wsmachine-tokio'):.2f}× |")
    print("\nServer CPU time per echoed message (and the server's CPU use while measured); the ratio is how many "
          "times less CPU than the cheapest peer:\n")
    print("| C | W | size | " + " | ".join(SERVERS) + " | mio | tokio |")
    print("|" + "---|" * (3 + len(SERVERS) + 2))
    print("\n".join(cpu_rows))
    if results["memory"]:
        print("\nIdle connections: server resident memory (VmRSS) while holding them, and the growth per connection.\n")
        print("| server | idle connections | RSS before | RSS holding | peak RSS | bytes per connection |")
        print("|---|---|---|---|---|---|")
        for m in results["memory"]:
            print(f"| {m['server']} | {m['idle']:,} | {m['rss_before_kib']:,} KiB | {m['rss_kib']:,} KiB "
                  f"| {m['peak_kib']:,} KiB | {m['bytes_per_conn']:,} |")


if __name__ == "__main__":
    main()
