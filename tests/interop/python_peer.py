"""Interop with an independent implementation: Python's `websockets` library.

    python3 tests/interop/python_peer.py client ws://127.0.0.1:9001/
        talks to our echo_server: text, binary, a 1 MiB message, a ping, and a
        clean close; exits non-zero on any mismatch.
    python3 tests/interop/python_peer.py server 127.0.0.1 9002
        an echo server for our echo_client; serves until killed.

Add `deflate` as the last argument to use permessage-deflate (the library's
default offer); the client then checks the server accepted it.
"""

import asyncio
import os
import sys

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve


async def client(url, deflate):
    compression = "deflate" if deflate else None
    async with connect(url, compression=compression, max_size=None) as ws:
        accepted = ws.response.headers.get("Sec-WebSocket-Extensions")
        if deflate and not (accepted or "").startswith("permessage-deflate"):
            raise SystemExit(f"permessage-deflate not accepted: {accepted!r}")
        if not deflate and accepted:
            raise SystemExit(f"unexpected extension: {accepted!r}")
        print(f"python client: extensions {accepted!r}")
        for msg in ["hello", "κόσμε 😀", b"\x00\x01\xff", os.urandom(1 << 20), "x" * 70000, b""]:
            await ws.send(msg)
            echo = await asyncio.wait_for(ws.recv(), 10)
            if echo != msg or type(echo) is not type(msg):
                raise SystemExit(f"echo mismatch for a {type(msg).__name__} of {len(msg)}")
        latency = await asyncio.wait_for(await ws.ping(b"payload"), 10)
        print(f"ping answered in {latency * 1000:.2f} ms")
        # A fragmented message, sent as a stream of fragments.
        await ws.send(["frag", "mented", " ✓"])
        echo = await asyncio.wait_for(ws.recv(), 10)
        if echo != "fragmented ✓":
            raise SystemExit(f"fragmented echo mismatch: {echo!r}")
        await ws.close(code=1000, reason="bye")
        if ws.close_code != 1000:
            raise SystemExit(f"close code {ws.close_code}")
    print("python client: all echoes matched, closed cleanly")


async def echo(ws):
    async for message in ws:
        # A Ping before each echo: a client must take Pings at any time.
        await ws.ping()  # random data: pings of equal data may not overlap
        await ws.send(message)


async def server(host, port, deflate):
    compression = "deflate" if deflate else None
    async with serve(echo, host, int(port), compression=compression, max_size=None):
        print(f"python echo server on ws://{host}:{port}/", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    deflate = sys.argv[-1] == "deflate"
    if sys.argv[1] == "client":
        asyncio.run(asyncio.wait_for(client(sys.argv[2], deflate), 60))
    else:
        asyncio.run(server(sys.argv[2], sys.argv[3], deflate))
