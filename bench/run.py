#!/usr/bin/env python3
"""keygate side-by-side benchmark (issue: performance).

Starts, on this machine only (loopback):
  * a fast mock upstream: nginx serving a fixed chat completion and a fixed SSE stream of N chunks;
  * nginx as a plain reverse proxy in front of it (one worker, keep-alive to the mock), and for
    reference nginx with its default proxy settings (a new upstream connection per request);
  * keygate with a user, a sealed personal key and usage recording on;
then drives each with wrk at 1, 16, 64 and 256 connections. The load generator and the mock share
core 0; the proxy under test gets core 1 (plus an unpinned keygate run). Prints one table and writes
JSON to bench/results/. It is a benchmark, not a test: nothing here is asserted in CI.

Usage: bench/run.py [--duration 10] [--connections 1,16,64,256] [--sse-chunks 20] [--quick]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
KEYGATE = ROOT / "build" / "keygate"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TTFC_SAMPLES = 200

COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1731000000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18}}, separators=(",", ":"))


def sse_body(chunks):
    events = []
    for i in range(chunks):
        delta = {"role": "assistant", "content": f"tok{i} "} if i == 0 else {"content": f"tok{i} "}
        events.append({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1731000000,
                       "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    events.append({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1731000000,
                   "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1731000000,
                   "model": "gpt-4o-mini", "choices": [],
                   "usage": {"prompt_tokens": 9, "completion_tokens": chunks, "total_tokens": 9 + chunks}})
    text = "".join("data: " + json.dumps(e, separators=(",", ":")) + "\n\n" for e in events)
    return text + "data: [DONE]\n\n"


def nginx_quote(text):
    # nginx quoted strings understand \\ \' \n escapes.
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need(tool, package):
    if shutil.which(tool) is None:
        print(f"== installing {package}")
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True)


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except FileNotFoundError:
            pass
    return total / CLK_TCK


def rss_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


class Nginx:
    def __init__(self, workdir, name, server_block, core):
        self.conf = workdir / f"{name}.conf"
        self.conf.write_text(f"""
user root;
worker_processes 1;
daemon off;
pid {workdir}/{name}.pid;
error_log {workdir}/{name}-error.log warn;
events {{ worker_connections 20000; }}
http {{
  log_format count '$request_uri';
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  {server_block}
}}
""")
        cmd = ["nginx", "-c", str(self.conf), "-p", str(workdir)]
        if core is not None:
            cmd = ["taskset", "-c", str(core)] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)

    def worker(self):
        kids = children(self.proc.pid)
        return kids[0] if kids else self.proc.pid

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        self.proc.wait(timeout=10)


def wrk(url, connections, duration, body_file, token, core):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(BENCH / "wrk_post.lua"), url]
    if core is not None:
        cmd = ["taskset", "-c", str(core)] + cmd
    env = dict(os.environ, KG_BODY_FILE=str(body_file), KG_TOKEN=token or "")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    m = re.search(r"RESULT (\{.*\})", out)
    if not m:
        raise RuntimeError("wrk printed no result:\n" + out)
    return json.loads(m.group(1))


def time_to_first_chunk(port, path, body, token, samples):
    """Median and p99 time from sending a streaming request to the first SSE byte, one connection."""
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               + (f"Authorization: Bearer {token}\r\n" if token else "")
               + f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
    times = []
    for _ in range(samples):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t0 = time.perf_counter()
            s.sendall(request)
            seen = b""
            while b"data:" not in seen:
                piece = s.recv(65536)
                if not piece:
                    break
                seen += piece
            times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1e6, times[int(len(times) * 0.99) - 1] * 1e6


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", default="1,16,64,256")
    ap.add_argument("--sse-chunks", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="3 s runs at 16 and 64 connections")
    args = ap.parse_args()
    if args.quick:
        args.duration, args.connections = 3, "16,64"
    conns = [int(c) for c in args.connections.split(",")]
    if not KEYGATE.exists():
        sys.exit("build/keygate is missing: run scripts/setup.sh first")
    for tool, pkg in (("nginx", "nginx-light"), ("wrk", "wrk"), ("taskset", "util-linux")):
        need(tool, pkg)
    cores = os.cpu_count() or 1
    load_core, proxy_core = (0, 1) if cores >= 2 else (None, None)

    work = Path(tempfile.mkdtemp(prefix="keygate-bench-"))
    procs = []
    try:
        mock_port, proxy_port, plain_proxy_port, kg_port = free_port(), free_port(), free_port(), free_port()
        mock = Nginx(work, "mock", f"""
  server {{
    listen 127.0.0.1:{mock_port} backlog=4096;
    access_log {work}/mock-access.log count buffer=256k flush=1s;
    location = /v1/chat/completions {{ default_type application/json; return 200 {nginx_quote(COMPLETION)}; }}
    location = /sse/v1/chat/completions {{ default_type text/event-stream; return 200 {nginx_quote(sse_body(args.sse_chunks))}; }}
    location = /v1/models {{ default_type application/json; return 200 '{{"object":"list","data":[]}}'; }}
  }}""", load_core)
        procs.append(mock)
        proxy = Nginx(work, "proxy", f"""
  upstream mock {{ server 127.0.0.1:{mock_port}; keepalive 512; }}
  server {{
    listen 127.0.0.1:{proxy_port} backlog=4096;
    access_log off;
    location / {{
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}""", proxy_core)
        procs.append(proxy)
        # nginx with its default proxy settings: HTTP/1.0 upstream, a new connection per request.
        # Not the baseline (keygate pools its upstream connections; so does the nginx above), but
        # the setup the reference figures (25.7k req/s, 34 us/req) look like.
        plain_proxy = Nginx(work, "plain-proxy", f"""
  server {{
    listen 127.0.0.1:{plain_proxy_port} backlog=4096;
    access_log off;
    location / {{ proxy_pass http://127.0.0.1:{mock_port}; proxy_buffering off; }}
  }}""", proxy_core)
        procs.append(plain_proxy)

        # keygate: a user with a sealed personal key for each mock provider; usage recording on.
        data = work / "kg-data"
        config = work / "keygate.json"
        config.write_text(json.dumps({
            "listen": f"127.0.0.1:{kg_port}", "threads": 1,
            "providers": {"openai": {"base_url": f"http://127.0.0.1:{mock_port}/v1"},
                          "mock-sse": {"kind": "openai", "base_url": f"http://127.0.0.1:{mock_port}/sse/v1"}}}))
        kg = [str(KEYGATE)]
        subprocess.run(kg + ["init", "--data", str(data)], check=True, capture_output=True)
        token = subprocess.run(kg + ["users", "add", "bench", "--data", str(data)], check=True,
                               capture_output=True, text=True).stdout.strip()
        for provider, key in (("openai", "sk-bench-personal-key-000000000001"),
                              ("mock-sse", "sk-bench-personal-key-000000000002")):
            subprocess.run(kg + ["keys", "add", "--user", "bench", "--provider", provider, "--data", str(data),
                                 "--config", str(config)], input=key, check=True, capture_output=True, text=True)
        log = open(work / "keygate.log", "w")
        cmd = kg + ["serve", "--data", str(data), "--config", str(config)]
        if proxy_core is not None:
            cmd = ["taskset", "-c", str(proxy_core)] + cmd
        keygate = subprocess.Popen(cmd, stderr=log)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", kg_port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)
        idle_rss_kb = rss_kb(keygate.pid, "VmRSS")

        body = work / "chat.json"
        body.write_text(json.dumps({"model": "openai/gpt-4o-mini",
                                    "messages": [{"role": "user", "content": "Say hello"}]}))
        sse_body_file = work / "chat-sse.json"
        sse_request = json.dumps({"model": "mock-sse/gpt-4o-mini", "stream": True,
                                  "messages": [{"role": "user", "content": "Say hello"}]})
        sse_body_file.write_text(sse_request)

        targets = {
            "direct": (mock_port, None, [], "/v1/chat/completions", "/sse/v1/chat/completions"),
            "nginx": (proxy_port, None, proxy.pids(), "/v1/chat/completions", "/sse/v1/chat/completions"),
            "nginx-new-conn": (plain_proxy_port, None, plain_proxy.pids(), "/v1/chat/completions",
                               "/sse/v1/chat/completions"),
            "keygate": (kg_port, token, [keygate.pid], "/v1/chat/completions", "/v1/chat/completions"),
        }
        results = []
        keygate_requests = 0

        def run(name, kind, c, core):
            nonlocal keygate_requests
            port, tok, pids, path, sse_path = targets[name]
            url_path = path if kind == "json" else sse_path
            bfile = body if kind == "json" else sse_body_file
            if name == "keygate" and kind == "sse":
                bfile = sse_body_file
            elif kind == "sse":
                bfile = body  # nginx/direct: the mock ignores the body
            before_up = count_lines(work / "mock-access.log")
            cpu0 = cpu_seconds(pids)
            r = wrk(f"http://127.0.0.1:{port}{url_path}", c, args.duration, bfile, tok, core)
            cpu1 = cpu_seconds(pids)
            time.sleep(1.2)  # the mock's access log flushes every second
            upstream = count_lines(work / "mock-access.log") - before_up
            errors = sum(r[k] for k in r if k.startswith("errors_"))
            row = {"target": name, "kind": kind, "connections": c, "pinned": core is not None,
                   "rps": r["requests"] / (r["duration_us"] / 1e6), "requests": r["requests"], "errors": errors,
                   "p50_us": r["p50_us"], "p99_us": r["p99_us"], "p999_us": r["p999_us"],
                   "cpu_us_per_req": (cpu1 - cpu0) * 1e6 / r["requests"] if pids and r["requests"] else None,
                   "upstream_requests": upstream}
            if name == "keygate":
                keygate_requests += r["requests"]
                row["peak_rss_mb"] = rss_kb(keygate.pid, "VmHWM") / 1024
            elif name.startswith("nginx"):
                row["peak_rss_mb"] = sum(rss_kb(p, "VmHWM") for p in pids) / 1024
            results.append(row)
            print(f"  {name:14} {kind:4} c={c:<4} {row['rps']:>9.0f} req/s  p99 {row['p99_us']/1000:7.2f} ms  "
                  f"errors {errors}  upstream {upstream}", flush=True)

        print(f"== keygate idle RSS {idle_rss_kb/1024:.1f} MB; {args.duration}s per run")
        for kind in ("json", "sse"):
            for c in conns:
                for name in ("direct", "nginx", "keygate"):
                    run(name, kind, c, load_core)
                if kind == "json":
                    run("nginx-new-conn", kind, c, load_core)
        unpinned = [c for c in conns if c in (16, 64)] or conns[:1]
        # Unpinned: keygate may use both cores (load generator and mock compete with it).
        subprocess.run(["taskset", "-a", "-p", "-c", f"0-{cores-1}", str(keygate.pid)], capture_output=True)
        for c in unpinned:
            run("keygate", "json", c, None)
            results[-1]["pinned"] = False

        ttfc = {}
        for name in ("direct", "nginx", "keygate"):
            port, tok, _, _, sse_path = targets[name]
            ttfc[name] = time_to_first_chunk(port, sse_path, sse_request, tok, TTFC_SAMPLES)
        keygate_requests += TTFC_SAMPLES  # each sample is one keygate request with its usage row

        keygate.send_signal(signal.SIGTERM)
        keygate.wait(timeout=60)
        with sqlite3.connect(data / "keygate.db") as db:
            usage_rows = db.execute("SELECT COUNT(*) FROM usage").fetchone()[0]

        report(results, ttfc, idle_rss_kb, usage_rows, keygate_requests, args)
    finally:
        for p in procs:
            try:
                p.stop()
            except Exception:
                pass
        shutil.rmtree(work, ignore_errors=True)


def report(results, ttfc, idle_rss_kb, usage_rows, keygate_requests, args):
    direct = {(r["kind"], r["connections"]): r for r in results if r["target"] == "direct"}
    print()
    print(f"machine: {os.cpu_count()} cores; {platform_line()}")
    print(f"{'target':14} {'kind':4} {'conns':>5} {'pin':>3} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'p99.9 ms':>8} {'+p99 ms':>7} {'CPU us/req':>10} {'RSS MB':>6} {'errors':>6} {'upstream':>8}")
    for r in results:
        d = direct.get((r["kind"], r["connections"]))
        added = (r["p99_us"] - d["p99_us"]) / 1000 if d and r["target"] != "direct" else 0
        cpu = f"{r['cpu_us_per_req']:.1f}" if r.get("cpu_us_per_req") else "-"
        rss = f"{r['peak_rss_mb']:.1f}" if r.get("peak_rss_mb") else "-"
        print(f"{r['target']:14} {r['kind']:4} {r['connections']:>5} {'y' if r['pinned'] else 'n':>3} "
              f"{r['rps']:>9.0f} {r['p50_us']/1000:>7.2f} {r['p99_us']/1000:>7.2f} {r['p999_us']/1000:>8.2f} "
              f"{added:>7.2f} {cpu:>10} {rss:>6} {r['errors']:>6} {r['upstream_requests']:>8}")
    print()
    for name, (p50, p99) in ttfc.items():
        print(f"time to first SSE chunk via {name:8}: p50 {p50/1000:.3f} ms  p99 {p99/1000:.3f} ms")
    print(f"keygate idle RSS: {idle_rss_kb/1024:.1f} MB")
    # wrk does not count the requests still in flight when a run ends, but keygate serves and
    # records them: rows may exceed wrk's count by at most the open connections of each run.
    in_flight = sum(r["connections"] for r in results if r["target"] == "keygate")
    ok = keygate_requests <= usage_rows <= keygate_requests + in_flight
    print(f"usage rows: {usage_rows} for {keygate_requests} keygate requests counted by wrk (and the "
          f"time-to-first-chunk samples), at most {in_flight} more in flight: {'OK' if ok else 'MISMATCH'}")
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    path = out / time.strftime("bench-%Y%m%d-%H%M%S.json")
    path.write_text(json.dumps({"results": results, "ttfc_us": ttfc, "idle_rss_kb": idle_rss_kb,
                                "usage_rows": usage_rows, "keygate_requests": keygate_requests,
                                "duration_s": args.duration, "machine": platform_line()}, indent=2))
    print(f"results written to {path}")


def platform_line():
    try:
        model = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                     if l.startswith("model name"))
    except StopIteration:
        model = "unknown CPU"
    return f"{model}, {os.uname().release}"


if __name__ == "__main__":
    main()
