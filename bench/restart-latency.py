#!/usr/bin/env python3
# Restart latency: Chromium's own cold start (launch to DevTools line, to Browser.getVersion answered,
# SIGTERM to exit) against POST /chromium/restart on a running gateway (stop to ready).
# Usage: bench/restart-latency.py http://127.0.0.1:API_PORT [ROUNDS]   (start the gateway first with ./run)
import subprocess, time, os, signal, socket, base64, json, statistics, urllib.request, shutil, sys
def ws_getversion(url):
    hostport, path = url[5:].split("/",1)
    host, port = hostport.split(":")
    s = socket.create_connection((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    buf=b""
    while b"\r\n\r\n" not in buf: buf+=s.recv(4096)
    payload=b'{"id":1,"method":"Browser.getVersion"}'
    mask=os.urandom(4)
    s.sendall(bytes([0x81, 0x80|len(payload)])+mask+bytes(b^mask[i%4] for i,b in enumerate(payload)))
    data=buf.split(b"\r\n\r\n",1)[1]
    while b'"id":1' not in data: data+=s.recv(65536)
    s.close()
prof="/tmp/cdpgw-restart-latency-profile"; shutil.rmtree(prof, ignore_errors=True)
args=["/usr/bin/chromium","--remote-debugging-port=0","--remote-debugging-address=127.0.0.1",f"--user-data-dir={prof}","--headless=new","--no-first-run","--no-default-browser-check","--disable-background-networking","--disable-component-update","--disable-sync","--disable-default-apps","--disable-breakpad","--metrics-recording-only","--password-store=basic","--use-mock-keychain","--disable-gpu","--no-sandbox","about:blank"]
api=sys.argv[1]
rounds=int(sys.argv[2]) if len(sys.argv)>2 else 10
line_ms=[]; ready_ms=[]; stop_ms=[]; el=[]
# Interleaved rounds, so both paths see the same machine: a bare Chromium cold start and stop, then one
# gateway restart. The first round of each is a warm-up.
for i in range(rounds+1):
    t0=time.monotonic()
    p=subprocess.Popen(["setsid"]+args,stderr=subprocess.PIPE,stdout=subprocess.DEVNULL)
    for line in p.stderr:
        if b"DevTools listening on" in line:
            url=line.decode().split("DevTools listening on ")[1].strip(); break
    t1=time.monotonic()
    while True:
        try: ws_getversion(url); break
        except Exception: time.sleep(0.01)
    t2=time.monotonic()
    time.sleep(0.5)
    t3=time.monotonic(); os.killpg(p.pid, signal.SIGTERM); p.wait(); t4=time.monotonic()
    p.stderr.close()
    time.sleep(0.5)
    r=json.load(urllib.request.urlopen(urllib.request.Request(api+"/chromium/restart",method="POST"),timeout=120))
    time.sleep(0.5)
    if i>0:
        line_ms.append((t1-t0)*1000); ready_ms.append((t2-t0)*1000); stop_ms.append((t4-t3)*1000); el.append(r["elapsed_ms"])
own=[s+r for s,r in zip(stop_ms, ready_ms)]
print("chromium launch->DevTools line   median %5.0f ms" % statistics.median(line_ms))
print("chromium launch->getVersion      median %5.0f ms" % statistics.median(ready_ms))
print("chromium SIGTERM(group)->exit    median %5.0f ms" % statistics.median(stop_ms))
print("chromium stop + cold start       median %5.0f ms %s" % (statistics.median(own), [round(x) for x in own]))
print("gateway POST /chromium/restart   median %5.0f ms %s" % (statistics.median(el), [round(x) for x in el]))
print("gateway overhead (per-round diff) median %5.0f ms" % statistics.median([g-o for g,o in zip(el, own)]))
