#!/usr/bin/env python3
"""Restart latency: the gateway's POST /chromium/restart (stop to ready) against Chromium's own cold start.

  bench/restart-latency.py [--rounds N] [--pause S]
      1. starts a gateway (./run, temp data dir, free ports), runs N restarts one after another with only
         its browser alive, and prints the medians of the phases the gateway measures itself;
      2. stops the gateway, then restarts the same Chromium command line N times by itself (stop, then
         launch at once; only that browser alive) and prints the same phases measured from outside.
  bench/restart-latency.py --api http://127.0.0.1:10001 [--rounds N]
      restarts on a gateway you started yourself (step 1 only).
  bench/restart-latency.py --bare [--chromium PATH] [--rounds N]
      step 2 only, with the gateway's default flags.

Each restart answer carries "phases": stop_ms (SIGTERM sent until the old browser's process group was
gone), launch_to_devtools_ms (spawn until the DevTools line was read), devtools_to_ready_ms (that line until
Browser.getVersion was answered) and gateway_ms (elapsed_ms minus those three: the gateway's own overhead).
A warm-up round of each kind is run first and not counted; --pause seconds separate a ready browser from
its stop. Run it on an otherwise idle machine: two
browsers, or a build, on a small machine skew everything.
"""
import argparse, base64, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The gateway's own flags (ChromiumCommandLine.Build) for --bare without a gateway to ask.
DEFAULT_FLAGS = ["--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "--headless=new",
                 "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-breakpad",
                 "--metrics-recording-only", "--password-store=basic", "--use-mock-keychain", "--disable-gpu"]


def ws_getversion(url, timeout=5):
    """One Browser.getVersion round trip on a DevTools browser URL; raises if it fails."""
    hostport, path = url[len("ws://"):].split("/", 1)
    host, port = hostport.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            buf += chunk
        if not buf.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(buf.split(b"\r\n", 1)[0].decode())
        payload = b'{"id":1,"method":"Browser.getVersion"}'
        mask = os.urandom(4)
        s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        data = buf.split(b"\r\n\r\n", 1)[1]
        while b'"id":1' not in data:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the answer")
            data += chunk


def group_alive(pgid):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def http(method, url, timeout=120):
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=timeout) as r:
        return json.load(r)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def line(name, values):
    values = [v for v in values if v is not None]
    if not values:
        print(f"  {name:34} (none)")
        return
    print(f"  {name:34} median {statistics.median(values):7.1f} ms   min {min(values):7.1f}   max {max(values):7.1f}")


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def restarts(api, rounds, pause):
    """N sequential restarts; returns the phase lists and the browser's command line."""
    keys = ["stop_ms", "launch_to_devtools_ms", "devtools_to_ready_ms", "gateway_ms",
            "request_to_stop_ms", "stopped_to_launch_ms", "ready_to_answer_ms"]
    got = {k: [] for k in keys + ["elapsed_ms"]}
    print(f"gateway: {rounds} restarts on {api} (+1 warm-up), load average {load()}", flush=True)
    for i in range(rounds + 1):
        r = http("POST", api + "/chromium/restart")
        phases = r.get("phases") or {}
        if i > 0:
            got["elapsed_ms"].append(r["elapsed_ms"])
            for k in keys:
                got[k].append(phases.get(k))
        time.sleep(pause)
    command_line = http("GET", api + "/chromium").get("command_line")
    print(f"gateway POST /chromium/restart, medians of {rounds} (load average now {load()}):")
    line("elapsed (stop to ready)", got["elapsed_ms"])
    line("  stop (SIGTERM to group gone)", got["stop_ms"])
    line("  launch to DevTools line", got["launch_to_devtools_ms"])
    line("  DevTools line to getVersion", got["devtools_to_ready_ms"])
    line("  gateway_ms (the rest)", got["gateway_ms"])
    line("    request to stop signal", got["request_to_stop_ms"])
    line("    group gone to next launch", got["stopped_to_launch_ms"])
    line("    getVersion to answer", got["ready_to_answer_ms"])
    print("  gateway_ms per round:", [round(v, 1) for v in got["gateway_ms"] if v is not None])
    return got, command_line


def bare(command, rounds, pause):
    """N restarts of Chromium alone (own process group), measured from outside as the gateway does them:
    SIGTERM to the group, SIGKILL to what is left once the browser exited, wait until the group is gone,
    launch the next one at once, wait for its DevTools line and a Browser.getVersion answer."""
    got = {k: [] for k in ["stop_exit", "stop_gone", "line", "ready", "total"]}
    prof = tempfile.mkdtemp(prefix="cdpgw-restart-latency-")
    command = [a for a in command if not a.startswith("--user-data-dir=")]
    command.insert(1, f"--user-data-dir={prof}")

    def launch():
        t0 = time.monotonic()
        p = subprocess.Popen(["setsid"] + command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        url = None
        for raw in p.stderr:
            if b"DevTools listening on " in raw:
                url = raw.decode().split("DevTools listening on ", 1)[1].strip()
                break
        t1 = time.monotonic()
        if url is None:
            sys.exit("bare Chromium printed no DevTools line")
        while True:
            try:
                ws_getversion(url)
                break
            except OSError:
                time.sleep(0.01)  # the gateway's probe retries every 10 ms too
        t2 = time.monotonic()
        # Keep reading its output (as the gateway does), so a full pipe never stalls it.
        threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
        return p, (t1 - t0) * 1000, (t2 - t1) * 1000

    def stop(p):
        t3 = time.monotonic()
        os.killpg(p.pid, signal.SIGTERM)
        p.wait()
        t4 = time.monotonic()
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while group_alive(p.pid):
            time.sleep(0.005)
        t5 = time.monotonic()
        return (t4 - t3) * 1000, (t5 - t3) * 1000

    print(f"bare Chromium: {rounds} restarts (+1 warm-up start), load average {load()}", flush=True)
    try:
        p, _, _ = launch()
        for _ in range(rounds):
            time.sleep(pause)
            exit_ms, gone_ms = stop(p)
            p, line_ms, ready_ms = launch()
            got["stop_exit"].append(exit_ms)
            got["stop_gone"].append(gone_ms)
            got["line"].append(line_ms)
            got["ready"].append(ready_ms)
            got["total"].append(gone_ms + line_ms + ready_ms)
        stop(p)
    finally:
        shutil.rmtree(prof, ignore_errors=True)
    print(f"bare Chromium, medians of {rounds} (load average now {load()}):")
    line("stop + cold start", got["total"])
    line("  SIGTERM to browser exit", got["stop_exit"])
    line("  SIGTERM to group gone", got["stop_gone"])
    line("  launch to DevTools line", got["line"])
    line("  DevTools line to getVersion", got["ready"])
    return got


def start_gateway(chromium):
    data = tempfile.mkdtemp(prefix="cdpgw-restart-latency-data-")
    api_port, cdp_port = free_port(), free_port()
    args = [os.path.join(ROOT, "run"), "--api-port", str(api_port), "--cdp-port", str(cdp_port),
            "--data-dir", data, "--chromium", chromium]
    log = open(os.path.join(data, "gateway.log"), "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + 300  # ./run may build first
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the gateway exited ({proc.returncode}); see {log.name}")
        try:
            if http("GET", api + "/health", timeout=2).get("status") == "ready":
                return proc, api, data
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    sys.exit("the gateway did not become ready")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--pause", type=float, default=0.5, help="seconds between a browser being ready and its stop")
    ap.add_argument("--api", help="a running gateway's API URL: measure its restarts only")
    ap.add_argument("--bare", action="store_true", help="measure bare Chromium only")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    opts = ap.parse_args()

    if opts.api:
        restarts(opts.api.rstrip("/"), opts.rounds, opts.pause)
        return
    if opts.bare:
        flags = DEFAULT_FLAGS + (["--no-sandbox"] if os.geteuid() == 0 else []) + ["about:blank"]
        bare([opts.chromium] + flags, opts.rounds, opts.pause)
        return

    proc, api, data = start_gateway(opts.chromium)
    try:
        gw, command_line = restarts(api, opts.rounds, opts.pause)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    # The browser's own command line, without the launch chain (setpriv ... setsid).
    i = command_line.index(opts.chromium) if opts.chromium in command_line else len(command_line) - 1
    time.sleep(1)
    own = bare(command_line[i:], opts.rounds, opts.pause)
    print("summary:")
    print(f"  Chromium alone, stop + cold start  {med(own['total']):7.1f} ms "
          f"(SIGTERM to group gone {med(own['stop_gone']):.0f}, to DevTools line {med(own['line']):.0f}, "
          f"to getVersion {med(own['line']) + med(own['ready']):.0f})")
    print(f"  gateway restart, stop to ready     {med(gw['elapsed_ms']):7.1f} ms "
          f"(of which gateway_ms {med(gw['gateway_ms']):.1f})")


if __name__ == "__main__":
    main()
