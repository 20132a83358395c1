#!/usr/bin/env python3
"""Generate crates/api/src/protobuf/schema.txt: the compact protobuf schema k3rs uses to decode
`application/vnd.kubernetes.protobuf` request bodies.

Inputs (facts only: message names, field numbers, wire types, JSON names, pointer-ness):
  * the `k8s-pb` crate (prost code generated from upstream generated.proto files) for the
    messages, field numbers and wire types;
  * the `k8s-openapi` crate (all v1_NN modules) for the exact JSON field names, which fields are required
    (non-omitempty in Go, so a zero value is still printed) and which embedded structs are inlined;
  * scripts/protobuf_pointer_fields.txt, hand-collected from upstream Go types: the scalar fields
    that are Go pointers (so an explicit zero/false/"" is meaningful and must survive).

Both crates come from the local cargo registry (`cargo fetch` a crate depending on them, or any
checkout whose lockfile has them). Run: python3 scripts/gen_protobuf_schema.py

Output format, one message per line:
  <pkg>.<Message> <field>=<number>:<type><flags> ...
  type  : s string, y bytes, b bool, i int32, l int64, d double, a message name (no dot = same
          package), `{k:v}` a map; a leading `*` means repeated.
  flags : `!` keep the field even when it holds the zero value (Go pointer or non-omitempty);
          `^` the field is an embedded struct whose fields JSON inlines into the parent.
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates/api/src/protobuf/schema.txt")
PTRS = os.path.join(ROOT, "scripts/protobuf_pointer_fields.txt")

REG = os.path.expanduser(os.environ.get("CARGO_HOME", "~/.cargo")) + "/registry/src/*/"


def find_crate(prefix):
    hits = sorted(glob.glob(REG + prefix + "*"))
    if not hits:
        sys.exit(f"crate {prefix}* not found in the cargo registry")
    return hits[-1]


PB = find_crate("k8s-pb-0.") + "/src"
# newest first: the JSON name of a field is taken from the newest version that has it
OA_DIRS = sorted(glob.glob(find_crate("k8s-openapi-0.") + "/src/v1_*"), key=lambda p: -int(p.rsplit("_", 1)[1]))

# module path (relative to k8s-pb src) -> short package name used in the schema
PACKAGES = {
    "api/core/v1": "core.v1",
    "api/apps/v1": "apps.v1",
    "api/batch/v1": "batch.v1",
    "api/rbac/v1": "rbac.v1",
    "api/policy/v1": "policy.v1",
    "api/scheduling/v1": "scheduling.v1",
    "api/networking/v1": "networking.v1",
    "api/autoscaling/v1": "autoscaling.v1",
    "api/autoscaling/v2": "autoscaling.v2",
    "api/authentication/v1": "authentication.v1",
    "api/authorization/v1": "authorization.v1",
    "api/coordination/v1": "coordination.v1",
    "api/discovery/v1": "discovery.v1",
    "api/storage/v1": "storage.v1",
    "api/certificates/v1": "certificates.v1",
    "api/events/v1": "events.v1",
    "apimachinery/pkg/apis/meta/v1": "meta.v1",
    "apimachinery/pkg/runtime": "runtime",
    "apimachinery/pkg/util/intstr": "intstr",
    "apimachinery/pkg/api/resource": "resource",
}
# k8s-openapi definition prefix -> short package
OA_PREFIX = {
    "io.k8s.api.core.v1": "core.v1",
    "io.k8s.api.apps.v1": "apps.v1",
    "io.k8s.api.batch.v1": "batch.v1",
    "io.k8s.api.rbac.v1": "rbac.v1",
    "io.k8s.api.policy.v1": "policy.v1",
    "io.k8s.api.scheduling.v1": "scheduling.v1",
    "io.k8s.api.networking.v1": "networking.v1",
    "io.k8s.api.autoscaling.v1": "autoscaling.v1",
    "io.k8s.api.autoscaling.v2": "autoscaling.v2",
    "io.k8s.api.authentication.v1": "authentication.v1",
    "io.k8s.api.authorization.v1": "authorization.v1",
    "io.k8s.api.coordination.v1": "coordination.v1",
    "io.k8s.api.discovery.v1": "discovery.v1",
    "io.k8s.api.storage.v1": "storage.v1",
    "io.k8s.api.certificates.v1": "certificates.v1",
    "io.k8s.api.events.v1": "events.v1",
    "io.k8s.apimachinery.pkg.apis.meta.v1": "meta.v1",
}
SCALARS = {"string": "s", "bytes": "y", "bool": "b", "int32": "i", "int64": "l", "double": "d"}


def parse_pb(modpath):
    """-> list of (MessageName, [(snake, number, kind, type)]) in file order.
    kind: 'opt' | 'rep' | 'map'; type: scalar code, ('msg', pkg, Name) or (k, v) for maps."""
    text = open(os.path.join(PB, modpath, "mod.rs")).read()
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("//")]
    msgs = []
    i = 0
    while i < len(lines):
        m = re.match(r"pub struct (\w+) \{", lines[i])
        if not m:
            i += 1
            continue
        name, fields = m.group(1), []
        i += 1
        while lines[i] != "}":
            a = re.match(r"\s*#\[prost\((.*)\)\]", lines[i])
            if not a:
                i += 1
                continue
            attr = a.group(1)
            decl = ""
            i += 1
            while True:
                decl += (" " if decl else "") + lines[i].strip()
                i += 1
                if decl.endswith(",") and decl.count("<") == decl.count(">"):
                    break
            fm = re.match(r"pub (?:r#)?(\w+): (.*),$", decl)
            if not fm:
                sys.exit(f"cannot parse {modpath}: {decl}")
            snake, rty = fm.group(1), fm.group(2)
            tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
            first = attr.split(",")[0].strip()
            if first.startswith("btree_map"):
                k, v = re.search(r'btree_map = "(\w+), (\w+)"', attr).groups()
                vt = resolve(modpath, rty.rstrip("> ,").split(",")[-1].strip()) if v == "message" else SCALARS[v]
                fields.append((snake, tag, "map", (SCALARS[k], vt)))
                continue
            kind = "rep" if "repeated" in attr else "opt"
            if first == "message":
                inner = re.sub(r"^(::core::option::Option|::prost::alloc::vec::Vec|::prost::alloc::boxed::Box)<", "", rty)
                inner = re.sub(r"^(::prost::alloc::boxed::Box)<", "", inner).rstrip(">")
                fields.append((snake, tag, kind, resolve(modpath, inner)))
            else:
                fields.append((snake, tag, kind, SCALARS[first.split()[0]]))
        msgs.append((name, fields))
        i += 1
    return msgs


def resolve(modpath, rust_path):
    parts = rust_path.replace(" ", "").strip(",").split("::")
    here = modpath.split("/")
    while parts and parts[0] == "super":
        here = here[:-1]
        parts = parts[1:]
    target = "/".join(here + parts[:-1])
    if target not in PACKAGES:
        sys.exit(f"type {rust_path} from {modpath}: package {target} not covered")
    return ("msg", PACKAGES[target], parts[-1])


def parse_openapi():
    """-> {(pkg, lowercased Go name): (GoName, {snake_nounderscore: (json, required)})}.
    JSON names come from the newest API version; a field counts as required (non-omitempty) when
    any version marks it so (newer OpenAPI specs mark some non-omitempty fields optional)."""
    out = {}
    for oa in OA_DIRS:
        for path in glob.glob(oa + "/**/*.rs", recursive=True):
            text = open(path).read()
            m = re.match(r"// Generated from definition ([\w.]+)\.(\w+)\n", text)
            if not m or m.group(1) not in OA_PREFIX:
                continue
            st = re.search(r"pub struct \w+ \{\n(.*?)\n\}", text, re.S)
            if not st:
                continue
            required = {}
            for fm in re.finditer(r"^    pub (?:r#)?(\w+): (.*),$", st.group(1), re.M):
                required[fm.group(1)] = not fm.group(2).startswith("Option<")
            key = (OA_PREFIX[m.group(1)], m.group(2).lower())
            fields = out.setdefault(key, (m.group(2), {}))[1]
            for jm in re.finditer(r'"([^"]+)" => Field::Key_(\w+),', text):
                json, snake = jm.groups()
                k = snake.replace("_", "")
                was = fields.get(k, (json, False))[1]
                fields[k] = (json, was or required.get(snake, False))
    return out


def lower_camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def main():
    openapi = parse_openapi()
    pointers = set()
    for ln in open(PTRS):
        ln = ln.split("#")[0].split()
        if ln:
            pkg, msg, fields = ln[0], ln[1], ln[2:]
            for f in fields:
                pointers.add((pkg, msg.lower(), f.lower()))
    used_ptrs = set()
    all_msgs = {}
    for modpath, pkg in PACKAGES.items():
        for name, fields in parse_pb(modpath):
            all_msgs[(pkg, name.lower())] = (pkg, name, fields)
    global CANON
    CANON = {k: (openapi[k][0] if k in openapi else v[1]) for k, v in all_msgs.items()}
    warnings = []
    out_lines = []
    for (pkg, lname), (pkg, name, fields) in sorted(all_msgs.items()):
        oa = openapi.get((pkg, lname))
        goname = oa[0] if oa else name
        specs = []
        for snake, tag, kind, ty in fields:
            key = snake.replace("_", "")
            flags = ""
            if oa and key in oa[1]:
                json, required = oa[1][key]
            else:
                json, required = lower_camel(snake), False
                if oa and isinstance(ty, tuple) and ty[0] == "msg":
                    sub = all_msgs.get((ty[1], ty[2].lower()))
                    subkeys = {f[0].replace("_", "") for f in sub[2]} if sub else set()
                    if subkeys and subkeys <= set(oa[1]):
                        flags += "^"
                    else:
                        warnings.append(f"{pkg}.{goname}.{snake}: not in openapi")
                elif oa:
                    warnings.append(f"{pkg}.{goname}.{snake}: not in openapi")
            if (pkg, lname, key) in pointers:
                used_ptrs.add((pkg, lname, key))
                if kind == "opt" and not isinstance(ty, tuple):
                    flags += "!"
            elif required and kind == "opt" and not isinstance(ty, tuple):
                flags += "!"
            specs.append(f"{json}={tag}:{'*' if kind == 'rep' else ''}{fmt_type(pkg, kind, ty)}{flags}")
        out_lines.append(f"{pkg}.{goname} " + " ".join(specs))
    for p in sorted(pointers - used_ptrs):
        warnings.append(f"pointer field not found: {p}")
    header = [
        "# Generated by scripts/gen_protobuf_schema.py - do not edit by hand.",
        "# <pkg>.<Message> <jsonName>=<field>:<type><flags>; types s string, y bytes, b bool,",
        "# i int32, l int64, d double, {k:v} map, *T repeated, Name message (no dot: same package);",
        "# flags ! keep zero value (Go pointer / non-omitempty), ^ inlined embedded struct.",
    ]
    with open(OUT, "w") as f:
        f.write("\n".join(header + out_lines) + "\n")
    for w in warnings:
        print("warning:", w, file=sys.stderr)
    print(f"{len(out_lines)} messages, {os.path.getsize(OUT)} bytes -> {OUT}")


CANON = {}


def fmt_type(pkg, kind, ty):
    if kind == "map":
        return "{" + ty[0] + ":" + fmt_type(pkg, "opt", ty[1]) + "}"
    if isinstance(ty, tuple):
        name = CANON.get((ty[1], ty[2].lower()), ty[2])
        return name if ty[1] == pkg else f"{ty[1]}.{name}"
    return ty


if __name__ == "__main__":
    main()
