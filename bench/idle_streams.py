#!/usr/bin/env python3
"""Memory with many open, idle streams (issue: performance, "≤ 100 MB with 10,000 open idle streams").

A loopback asyncio mock upstream answers each streaming chat request with its first SSE event and
then stays silent; N asyncio clients open streams through keygate, read the first event, and hold
their connections. keygate's resident memory is read from /proc before and with the streams open.
Each stream costs keygate two sockets, so N is capped by the file-descriptor limit (printed).

Usage: bench/idle_streams.py [--streams 9000] [--request-kb 0] [--threads 1]
"""
import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYGATE = Path(os.environ.get("KEYGATE", ROOT / "build" / "keygate"))  # another build may be measured
FIRST = ('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
         '"choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":null}]}\n\n')


def rss_mb(pid, field="VmRSS"):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def mock_upstream(reader, writer):
    try:
        await reader.readuntil(b"\r\n\r\n")  # the header; the body is not needed
        chunk = FIRST.encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await writer.drain()
        await reader.read()  # idle until keygate closes the connection
    except (Exception, asyncio.CancelledError):  # cancelled at teardown: not a failure
        pass
    writer.close()


async def client(port, token, body, opened, hold):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write((f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())
    await writer.drain()
    seen = b""
    while b"data:" not in seen:
        piece = await reader.read(4096)
        if not piece:
            raise RuntimeError("stream closed before its first event: " + seen[:200].decode(errors="replace"))
        seen += piece
    opened.append(1)
    await hold.wait()
    writer.close()


async def main_async(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = Path(tempfile.mkdtemp(prefix="keygate-idle-"))
    server = await asyncio.start_server(mock_upstream, "127.0.0.1", 0, backlog=4096)
    mock_port = server.sockets[0].getsockname()[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        kg_port = s.getsockname()[1]
    data = work / "data"
    config = work / "keygate.json"
    config.write_text(json.dumps({"listen": f"127.0.0.1:{kg_port}", "threads": args.threads,
                                  "limits": {"max_connections": args.streams + 100},
                                  "providers": {"openai": {"base_url": f"http://127.0.0.1:{mock_port}/v1"}}}))
    kg = [str(KEYGATE)]
    subprocess.run(kg + ["init", "--data", str(data)], check=True, capture_output=True)
    token = subprocess.run(kg + ["users", "add", "idle", "--data", str(data)], check=True, capture_output=True,
                           text=True).stdout.strip()
    subprocess.run(kg + ["keys", "add", "--user", "idle", "--provider", "openai", "--data", str(data)],
                   input="sk-idle-streams-key-00000000001", check=True, capture_output=True, text=True)
    proc = subprocess.Popen(kg + ["serve", "--data", str(data), "--config", str(config)],
                            stderr=subprocess.DEVNULL, preexec_fn=lambda: resource.setrlimit(
                                resource.RLIMIT_NOFILE, (hard, hard)))
    try:
        await asyncio.sleep(1.0)
        idle = rss_mb(proc.pid)
        # --request-kb: a conversation of that size, as chat clients resend their whole history.
        history = [{"role": "user", "content": "x" * 1000}] * args.request_kb
        body = json.dumps({"model": "openai/gpt-4o-mini", "stream": True,
                           "messages": history + [{"role": "user", "content": "hi"}]})
        opened, hold = [], asyncio.Event()
        tasks = []
        t0 = time.time()
        for i in range(args.streams):
            tasks.append(asyncio.create_task(client(kg_port, token, body, opened, hold)))
            if i % 200 == 199:
                await asyncio.sleep(0.05)
        while len(opened) < args.streams and time.time() - t0 < 120:
            failed = [t for t in tasks if t.done() and t.exception()]
            if failed:
                raise failed[0].exception()
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        with_streams = rss_mb(proc.pid)
        print(f"fd limit {hard}; streams open: {len(opened)} of {args.streams}")
        print(f"keygate RSS idle: {idle:.1f} MB; with the streams open: {with_streams:.1f} MB "
              f"({(with_streams - idle) * 1024 / max(1, len(opened)):.1f} KB per stream)")
        hold.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        server.close()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=9000)
    ap.add_argument("--request-kb", type=int, default=0, help="size of each streaming request")
    ap.add_argument("--threads", type=int, default=1, help="keygate's I/O threads")
    args = ap.parse_args()
    if not KEYGATE.exists():
        raise SystemExit("build/keygate is missing: run scripts/setup.sh first")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
