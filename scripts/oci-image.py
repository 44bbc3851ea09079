#!/usr/bin/env python3
"""Build one of pitstop's images as an OCI archive, without a Docker engine.

    scripts/oci-image.py --dockerfile workloads/Dockerfile --binary target/release/pitstop \
        --name ghcr.io/pitstop-io/pitstop:0.1.0 --out target/images/pitstop.oci.tar

The Dockerfile stays the single description of the image: its final stage's LABEL, USER,
EXPOSE, ENV, ENTRYPOINT and CMD become the image config, and its `COPY --from=build SRC
DEST` says where the binary goes. The base layer stands in for distroless/static-debian12
:nonroot (passwd/group with nonroot 65532, nsswitch.conf, CA certificates, /tmp, no shell),
plus the C libraries the binary links when it is not static (glibc builds: what `ldd`
names), which is distroless/cc's content. The archive is reproducible: fixed times
(SOURCE_DATE_EPOCH, else the last commit), sorted entries, numeric owners, gzip without a
timestamp; the same inputs give the same digests. `skopeo copy oci-archive:FILE
docker://REGISTRY/NAME:TAG` pushes it; `ctr images import FILE` loads it into containerd.
"""
import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import tempfile

NONROOT = 65532
PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
NSSWITCH = "passwd: files\ngroup: files\nhosts: files dns\n"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]


class Stage:
    """What the Dockerfile's final stage says about the image."""

    def __init__(self):
        self.labels, self.env, self.ports = {}, {}, []
        self.user, self.entrypoint, self.cmd, self.copy_dest = None, None, None, None


def instructions(text):
    """Dockerfile instructions as (KEYWORD, args), continuations joined, comments dropped."""
    joined, out = "", []
    for line in text.splitlines():
        t = line.strip()
        if not t or t.startswith("#"):
            continue
        if t.endswith("\\"):
            joined += t[:-1] + " "
            continue
        joined += t
        keyword, _, args = joined.partition(" ")
        out.append((keyword.upper(), args.strip()))
        joined = ""
    return out


def final_stage(text, args):
    """The last FROM's instructions, with ${ARG} substituted from `args`."""
    stage = None
    for keyword, rest in instructions(text):
        rest = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), rest)
        if keyword == "FROM":
            stage = Stage()
        elif stage is None:
            continue
        elif keyword == "LABEL":
            for pair in shlex.split(rest):
                k, _, v = pair.partition("=")
                stage.labels[k] = v
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                k, _, v = pair.partition("=")
                stage.env[k] = v
        elif keyword == "USER":
            stage.user = rest
        elif keyword == "EXPOSE":
            stage.ports += [p if "/" in p else p + "/tcp" for p in rest.split()]
        elif keyword == "ENTRYPOINT":
            stage.entrypoint = json.loads(rest)
        elif keyword == "CMD":
            stage.cmd = json.loads(rest)
        elif keyword == "COPY":
            stage.copy_dest = rest.split()[-1]
    if stage is None or stage.copy_dest is None or stage.entrypoint is None:
        sys.exit("oci-image.py: the Dockerfile's final stage needs FROM, COPY and ENTRYPOINT")
    return stage


def linked_libraries(binary):
    """Absolute paths of the shared libraries `binary` loads ([] for a static binary)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m and "vdso" not in line:
            libs.append(m.group(1))
    return libs


class Layer:
    """A reproducible tar: every entry root-owned unless said, times fixed, sorted on write."""

    def __init__(self, mtime):
        self.mtime, self.entries = mtime, {}

    def directory(self, path, mode=0o755, uid=0):
        if not path.strip("/"):
            return
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in self.entries:
                self.entries[sub] = ("dir", 0o755, 0, None)
        self.entries[path.strip("/")] = ("dir", mode, uid, None)

    def file(self, path, data, mode=0o644):
        self.directory(os.path.dirname(path))
        self.entries[path.strip("/")] = ("file", mode, 0, data)

    def tar(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            for name in sorted(self.entries):
                kind, mode, uid, data = self.entries[name]
                info = tarfile.TarInfo(name + ("/" if kind == "dir" else ""))
                info.mode, info.uid, info.gid, info.mtime = mode, uid, uid, self.mtime
                info.uname = info.gname = ""
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    t.addfile(info)
                else:
                    info.size = len(data)
                    t.addfile(info, io.BytesIO(data))
        return buf.getvalue()


def stripped(binary):
    """The binary without symbols or debug info, as the Dockerfile's release profile builds it."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "bin")
        subprocess.run(["strip", "--strip-all", "-o", out, binary], check=True)
        with open(out, "rb") as f:
            return f.read()


def rootfs(stage, binary, mtime):
    layer = Layer(mtime)
    layer.file("etc/passwd", PASSWD.encode())
    layer.file("etc/group", GROUP.encode())
    layer.file("etc/nsswitch.conf", NSSWITCH.encode())
    layer.directory("tmp", mode=0o1777)
    layer.directory("home/nonroot", mode=0o700, uid=NONROOT)
    for bundle in CA_BUNDLES:
        if os.path.exists(bundle):
            with open(bundle, "rb") as f:
                layer.file("etc/ssl/certs/ca-certificates.crt", f.read())
            break
    for lib in linked_libraries(binary):
        # The loader is found by its absolute path; the rest by the multiarch search path.
        dest = lib if lib.startswith("/lib64/") else "/lib/x86_64-linux-gnu/" + os.path.basename(lib)
        with open(os.path.realpath(lib), "rb") as f:
            layer.file(dest, f.read(), mode=0o755)
    layer.file(stage.copy_dest, stripped(binary), mode=0o755)
    return layer.tar()


def blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"digest": "sha256:" + digest, "size": len(data)}


def image(stage, layer_tar, name, mtime):
    """The OCI layout's files: oci-layout, index.json and the blobs, by path."""
    blobs = {}
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, compresslevel=6) as z:
        z.write(layer_tar)
    layer = blob(blobs, gz.getvalue())
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    created = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)
    env = {"PATH": DEFAULT_PATH, "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt", **stage.env}
    config = {
        "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": stage.user,
            "Env": [f"{k}={v}" for k, v in env.items()],
            "Entrypoint": stage.entrypoint,
            "Cmd": stage.cmd,
            "WorkingDir": "/",
            "Labels": stage.labels,
            "ExposedPorts": {p: {} for p in stage.ports},
        },
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
        "history": [{"created": created.strftime("%Y-%m-%dT%H:%M:%SZ"), "created_by": "scripts/oci-image.py"}],
    }
    cfg = blob(blobs, json.dumps(config, sort_keys=True, separators=(",", ":")).encode())
    cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": cfg,
        "layers": [layer],
        "annotations": {k: v for k, v in stage.labels.items() if k.startswith("org.opencontainers")},
    }
    man = blob(blobs, json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
    man["mediaType"] = manifest["mediaType"]
    man["annotations"] = {
        # containerd names the image from the first; skopeo and the OCI spec read the tag.
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
    }
    man["platform"] = {"architecture": "amd64", "os": "linux"}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [man]}
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": json.dumps(index, sort_keys=True).encode()}
    for digest, data in blobs.items():
        files["blobs/sha256/" + digest] = data
    return files, man["digest"]


def write_archive(files, out, mtime):
    layer = Layer(mtime)
    layer.directory("blobs/sha256")
    for path, data in files.items():
        layer.file(path, data)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(layer.tar())
    os.replace(tmp, out)


def source_date(root):
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    out = subprocess.run(["git", "-C", root, "log", "-1", "--format=%ct"], capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dockerfile", required=True)
    p.add_argument("--binary", required=True)
    p.add_argument("--name", required=True, help="registry/repository:tag")
    p.add_argument("--version", required=True, help="the Dockerfile's VERSION build argument")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    with open(a.dockerfile) as f:
        stage = final_stage(f.read(), {"VERSION": a.version})
    mtime = source_date(os.path.dirname(os.path.abspath(a.dockerfile)))
    files, digest = image(stage, rootfs(stage, a.binary, mtime), a.name, mtime)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    write_archive(files, a.out, mtime)
    print(f"{a.out}: {a.name} {digest} ({os.path.getsize(a.out) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
