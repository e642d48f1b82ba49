"""A client that completes the handshake to the chat example, then never
answers a Ping. The server's heartbeat must drop it: the server closes the
TCP connection within the ping interval plus the pong timeout (plus slack).

    python3 silent_client.py PORT MAX_SECONDS
"""
import socket
import sys
import time

port, limit = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=limit + 5)
s.sendall(
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
start, got = time.monotonic(), b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    got += chunk
took = time.monotonic() - start
pings = got.count(b"\x89\x04")  # the server's heartbeat Pings carry a 4-byte counter
if not got.startswith(b"HTTP/1.1 101") or pings < 1 or took > limit:
    sys.exit(f"silent client: {pings} pings, dropped after {took:.2f} s (limit {limit} s), got {got[:80]!r}")
print(f"silent client: dropped after {took:.2f} s and {pings} ping(s)")
