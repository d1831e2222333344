#!/usr/bin/env python3
"""A tiny kubespray-offline outputs/ payload for the firstboot tests, generated, never downloaded.

make-payload.py PAYLOAD OCI [RECORD_ONLY]
  PAYLOAD: files/, images/{images.list,additional-images.list}, pypi/ (pypi-mirror layout with one
           real wheel), rpms/local/, debs/local/, config.sh, an empty registry/ store root, and
           the payload record gapbox-payload.json as gapbox build writes it.
  OCI:     one OCI image layout per image to seed the registry with (OCI/<n>), and OCI/seed.list:
           "<layout dir> <registry name:tag>" lines, for skopeo copy.
  RECORD_ONLY: a second payload with the same record whose images.list names one image under a
           registry that only the record strips (the profile's extra one at build time); the
           store it is seeded into is PAYLOAD's.
Everything is deterministic (fixed timestamps), so the payload is the same on every run.
"""
import base64
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import zipfile

EPOCH = 1700000000

# (listed reference, registry name the builder stores it under, seeded?)
IMAGES = [
    ("docker.io/library/nginx:1.29.2", "library/nginx:1.29.2", True),
    ("registry.k8s.io/pause:3.10", "pause:3.10", True),
    ("quay.io/calico/node:v3.30.5", "calico/node:v3.30.5", False),  # listed, never pushed: "missing"
]
ADDITIONAL = [
    ("busybox:1.36.1", "library/busybox:1.36.1", True),
]
# A registry the build stripped only because the profile said so: the appliance knows it from
# the payload record alone.
RECORD_ONLY_REGISTRY = "registry.gapbox.test"
RECORD_ONLY = [
    (f"{RECORD_ONLY_REGISTRY}/tools/probe:1.0", "tools/probe:1.0", True),
]
# The registries kubespray-offline's load-push-all-images.sh strips (lib/imageref.c).
BUILTIN_STRIP = ["docker.io", "quay.io", "registry.k8s.io", "k8s.gcr.io", "ghcr.io", "gcr.io"]


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.chmod(path, mode)
    os.utime(path, (EPOCH, EPOCH))


def wheel(name, version):
    """A minimal but valid pure-Python wheel."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": f'"""gapbox test package."""\n__version__ = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: gapbox test\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: gapbox-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        b64 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{path},sha256={b64},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in files.items():
            zi = zipfile.ZipInfo(path, date_time=(2023, 11, 14, 22, 13, 20))
            zi.external_attr = 0o644 << 16
            z.writestr(zi, text)
    return f"{dist}-{version}-py3-none-any.whl", buf.getvalue()


def pypi(root):
    name, version = "gbtest-pkg", "1.0"
    whl, data = wheel(name, version)
    write(f"{root}/pypi/files/{whl}", data)
    os.makedirs(f"{root}/pypi/{name}", exist_ok=True)
    link = f"{root}/pypi/{name}/{whl}"
    if not os.path.lexists(link):
        os.symlink(f"../files/{whl}", link)
    sha = hashlib.sha256(data).hexdigest()
    write(f"{root}/pypi/{name}/index.html",
          f'<!DOCTYPE html>\n<html><body>\n<a href="{whl}#sha256={sha}">{whl}</a><br/>\n</body></html>\n')
    write(f"{root}/pypi/index.html",
          f'<!DOCTYPE html>\n<html><body>\n<a href="{name}/">{name}</a><br/>\n</body></html>\n')


def layer(text):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        data = text.encode()
        ti = tarfile.TarInfo("etc/gapbox-test")
        ti.size, ti.mtime, ti.mode = len(data), EPOCH, 0o644
        t.addfile(ti, io.BytesIO(data))
    diff = raw.getvalue()
    return diff, gzip.compress(diff, mtime=EPOCH)


def blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    write(f"{layout}/blobs/sha256/{digest}", data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def oci_layout(layout, ref):
    diff, gz = layer(f"{ref}\n")
    lay = blob(layout, gz)
    lay["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    config = {
        "architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(diff).hexdigest()]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "gapbox tests"}],
    }
    cfg = blob(layout, json.dumps(config, sort_keys=True).encode())
    cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cfg, "layers": [lay]}
    man = blob(layout, json.dumps(manifest, sort_keys=True).encode())
    man["mediaType"] = manifest["mediaType"]
    man["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    write(f"{layout}/index.json", json.dumps({"schemaVersion": 2, "manifests": [man]}))
    write(f"{layout}/oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}))
    return man


def record(root, stored, node_os):
    """gapbox-payload.json as lib/payloadrecord.c formats it: STORED is (ref, name, manifest),
    NODE_OS the node OS families of its package repositories."""
    images = []
    for ref, name, man in stored:
        repository, tag = name.rsplit(":", 1)
        archive = "images/" + ref.replace("/", "_").replace(":", "-") + ".tar.gz"
        images.append({"ref": ref, "repository": repository, "tag": tag, "digest": man["digest"],
                       "media_type": man["mediaType"], "archive": archive})
    rec = {"format": 1, "arch": "amd64", "registry_root": "registry/docker/registry/v2",
           "strip_registries": BUILTIN_STRIP + [RECORD_ONLY_REGISTRY], "node_os": node_os, "images": images}
    write(f"{root}/gapbox-payload.json", json.dumps(rec, indent=2))


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    root, oci = sys.argv[1], sys.argv[2]
    write(f"{root}/files/kubernetes/v1.33.7/kubectl", "#!/bin/sh\necho kubectl v1.33.7\n", 0o755)
    write(f"{root}/files/kubespray-2.29.1.tar.gz", gzip.compress(b"", mtime=EPOCH))
    write(f"{root}/files/files.list", "https://dl.k8s.io/release/v1.33.7/bin/linux/amd64/kubectl\n")
    write(f"{root}/images/images.list", "".join(ref + "\n" for ref, _, _ in IMAGES))
    write(f"{root}/images/additional-images.list", "".join(ref + "\n" for ref, _, _ in ADDITIONAL))
    pypi(root)
    write(f"{root}/rpms/local/repodata/repomd.xml", '<?xml version="1.0"?>\n<repomd/>\n')
    write(f"{root}/debs/local/Packages", "")
    write(f"{root}/debs/local/Release", "Origin: gapbox tests\n")
    write(f"{root}/config.sh", "KUBESPRAY_VERSION=2.29.1\nREGISTRY_PORT=35000\n")
    os.makedirs(f"{root}/playbook", exist_ok=True)
    os.makedirs(f"{root}/registry", exist_ok=True)
    seed, stored = [], []
    for i, (ref, name, seeded) in enumerate(IMAGES + ADDITIONAL + RECORD_ONLY):
        if seeded:
            stored.append((ref, name, oci_layout(f"{oci}/{i}", ref)))
            seed.append(f"{oci}/{i} {name}\n")
    write(f"{oci}/seed.list", "".join(seed))
    record(root, stored, ["debian", "rhel"])
    if len(sys.argv) == 4:
        other = sys.argv[3]
        # A payload whose rpms are tagged el9, and no deb repository.
        record(other, stored, ["rhel9"])
        write(f"{other}/images/images.list", "".join(ref + "\n" for ref, _, _ in RECORD_ONLY))
        os.makedirs(f"{other}/registry", exist_ok=True)


main()
