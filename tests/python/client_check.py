"""The official Kubernetes Python client against a k3rs server: create from YAML,
server-side apply, patch, and watch. Run by tests/python_client.rs with the admin kubeconfig."""

import sys
import threading

from kubernetes import client, config, utils, watch
from kubernetes.dynamic import DynamicClient

NS = "pyclient"

MANIFEST = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": NS}, "data": {"color": "blue"}},
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            },
        },
    },
]


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def main(kubeconfig):
    config.load_kube_config(config_file=kubeconfig)
    api = client.ApiClient()
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)

    # Create from YAML (utils.create_from_yaml accepts parsed documents).
    utils.create_from_yaml(api, yaml_objects=MANIFEST)
    check(core.read_namespaced_config_map("settings", NS).data == {"color": "blue"}, "configmap created")
    check(apps.read_namespaced_deployment("web", NS).spec.replicas == 1, "deployment created")

    # Watch: events for a new object, its change and its deletion.
    seen = []
    ready = threading.Event()

    def watcher():
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, NS, timeout_seconds=10):
            name = ev["object"].metadata.name
            if name == "watched":
                seen.append(ev["type"])
            if ev["type"] == "ADDED" and name == "settings":
                ready.set()
            if seen[-1:] == ["DELETED"]:
                w.stop()

    t = threading.Thread(target=watcher)
    t.start()
    check(ready.wait(10), "watch started")
    core.create_namespaced_config_map(NS, {"metadata": {"name": "watched"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("watched", NS, {"data": {"a": "2"}})
    core.delete_namespaced_config_map("watched", NS)
    t.join(15)
    check(seen == ["ADDED", "MODIFIED", "DELETED"], f"watch events {seen}")

    # Patch (the client sends a strategic merge patch for objects).
    apps.patch_namespaced_deployment(
        "web", NS, {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}}}
    )
    dep = apps.read_namespaced_deployment("web", NS)
    check(dep.spec.template.spec.containers[0].image == "nginx:1.26", "strategic patch")
    check(len(dep.spec.template.spec.containers) == 1, "patch merged by name")

    # Server-side apply through the dynamic client.
    dyn = DynamicClient(api)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    applied = cms.server_side_apply(
        body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "namespace": NS}, "data": {"k": "v"}},
        field_manager="python-client",
    )
    check(applied.data.k == "v", "server-side apply created")
    managers = [m.manager for m in applied.metadata.managedFields]
    check("python-client" in managers, f"managedFields {managers}")

    core.delete_namespace(NS)
    print("python client: all checks passed")


if __name__ == "__main__":
    main(sys.argv[1])
