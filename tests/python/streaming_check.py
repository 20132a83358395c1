"""The official Kubernetes Python client's streaming against a k3rs pod: exec over WebSocket
v4.channel.k8s.io (output, exit code) and port-forward over the WebSocket channel protocol.
Run by tests/streaming.rs with: kubeconfig, pod name, container, httpd port."""

import sys

from kubernetes import client, config
from kubernetes.stream import portforward, stream

kubeconfig, pod, container, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config.load_kube_config(kubeconfig)
api = client.CoreV1Api()

out = stream(
    api.connect_get_namespaced_pod_exec, pod, "default", container=container,
    command=["sh", "-c", "echo py-out"], stderr=True, stdin=False, stdout=True, tty=False,
)
assert out.strip() == "py-out", repr(out)

resp = stream(
    api.connect_get_namespaced_pod_exec, pod, "default", container=container,
    command=["sh", "-c", "echo py-err >&2; exit 3"], stderr=True, stdin=False, stdout=True,
    tty=False, _preload_content=False,
)
resp.run_forever(timeout=20)
assert resp.returncode == 3, resp.returncode
assert "py-err" in resp.read_stderr(), "stderr"

pf = portforward(api.connect_get_namespaced_pod_portforward, pod, "default", ports=str(port))
sock = pf.socket(port)
sock.setblocking(True)
sock.settimeout(20)
sock.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
data = b""
while True:
    chunk = sock.recv(4096)
    if not chunk:
        break
    data += chunk
sock.close()
assert b"hello-from-httpd" in data, data
pf.close()
print("ok")
