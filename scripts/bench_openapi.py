#!/usr/bin/env python3
"""Issue 3 benchmarks: /openapi/v3 group-version documents served from memory (p50/p99, gzip and
plain, beside the /version floor), and kubectl's first `apply` on an empty discovery cache.

Usage: scripts/bench_openapi.py [--runs 3] [--bin target/release/k3rs]
Starts a fresh release server per run on a loopback port; the bench is pinned to core 1 and the
server to core 0 when taskset exists."""

import argparse, base64, http.client, json, os, shutil, socket, ssl, subprocess, tempfile, time

MANIFEST = """apiVersion: v1
kind: Namespace
metadata: {name: bench}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: bench}
data: {a: b}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: bench}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.25}]}
"""


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(len(xs) * p))]


def kubectl():
    real = os.path.realpath(shutil.which("kubectl"))
    return os.path.join(os.path.dirname(real), "kubectl.1.33")


def one_run(binary, pin):
    d = tempfile.mkdtemp(prefix="k3rs-oa-")
    open(f"{d}/c.yaml", "w").write("{}\n")
    port = free_port()
    cmd = [binary, "server", "--disable-agent", "--data-dir", d, "--bind-address", "127.0.0.1",
           f"--https-listen-port={port}", "--write-kubeconfig", f"{d}/kc.yaml", "--config", f"{d}/c.yaml"]
    if pin:
        cmd = ["taskset", "-c", "0"] + cmd
    srv = subprocess.Popen(cmd, stderr=open(f"{d}/log", "w"))
    try:
        while not os.path.exists(f"{d}/kc.yaml"):
            time.sleep(0.01)
        kc = open(f"{d}/kc.yaml").read()
        get = lambda key: base64.b64decode(kc.split(key + ": ")[1].split()[0])
        open(f"{d}/ca", "wb").write(get("certificate-authority-data"))
        open(f"{d}/crt", "wb").write(get("client-certificate-data"))
        open(f"{d}/key", "wb").write(get("client-key-data"))
        ctx = ssl.create_default_context(cafile=f"{d}/ca")
        ctx.load_cert_chain(f"{d}/crt", f"{d}/key")
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
        time.sleep(1.0)  # let the background document build finish

        def timed(path, headers, n=500):
            out = []
            for _ in range(n):
                t = time.perf_counter(); conn.request("GET", path, headers=headers)
                r = conn.getresponse(); r.read(); out.append((time.perf_counter() - t) * 1000)
                assert r.status == 200, (path, r.status)
            return out

        conn.request("GET", "/openapi/v3"); index = json.loads(conn.getresponse().read())
        rows = {}
        rows["floor /version"] = timed("/version", {})
        for key in ["api/v1", "apis/apps/v1"]:
            url = index["paths"][key]["serverRelativeURL"]
            rows[f"{key} gzip"] = timed(url, {"Accept-Encoding": "gzip"})
            rows[f"{key} plain"] = timed(url, {})
        # kubectl's first apply with an empty discovery and OpenAPI cache (fresh HOME).
        home = tempfile.mkdtemp(prefix="k3rs-oa-home-")
        env = dict(os.environ, KUBECONFIG=f"{d}/kc.yaml", HOME=home)
        t = time.perf_counter()
        subprocess.run([kubectl(), "apply", "-f", "-"], input=MANIFEST.encode(), env=env, check=True, capture_output=True)
        first_apply = (time.perf_counter() - t) * 1000
        shutil.rmtree(home)
        return rows, first_apply
    finally:
        srv.kill(); srv.wait(); shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bin", default="target/release/k3rs")
    a = ap.parse_args()
    pin = shutil.which("taskset") is not None
    if pin:
        os.sched_setaffinity(0, {1})
    print(f"load average before: {open('/proc/loadavg').read().split()[:3]}")
    for run in range(1, a.runs + 1):
        rows, first = one_run(a.bin, pin)
        print(f"run {run}: first kubectl apply (empty cache) {first:.0f} ms")
        for name, xs in rows.items():
            print(f"  {name:22} p50 {pct(xs, 0.5):6.2f} ms  p99 {pct(xs, 0.99):6.2f} ms")


if __name__ == "__main__":
    main()
