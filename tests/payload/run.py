#!/usr/bin/env python3
"""Payload tests: a fixture outputs/ goes through gapbox check-outputs and gapbox build; the
registry store is taken out of the image's payload and served by Debian's docker-registry
on 127.0.0.1, where skopeo must find every image, with digests equal to the source's. Then
every kind of bad input must be refused, naming the file, with nothing written."""

import gzip
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GAPBOX = os.path.join(ROOT, "build/host/gapbox")
GEN = os.path.join(ROOT, "tests/fixtures/gen-outputs")
ARCH = os.environ.get("ARCH", "amd64")
WORK = os.path.join(ROOT, "build/test/payload-" + ARCH)

passed = failed = 0


def ok(name):
    global passed
    passed += 1
    print(f"ok - {name}", flush=True)


def not_ok(name, why):
    global failed
    failed += 1
    print(f"not ok - {name}: {why}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """docker-registry serving DIR on a loopback port."""

    def __init__(self, name, rootdir):
        self.port = free_port()
        self.conf = os.path.join(WORK, f"{name}.yml")
        with open(self.conf, "w") as f:
            f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {rootdir}\n  delete:\n    enabled: false\n"
                    f"http:\n  addr: 127.0.0.1:{self.port}\n")
        self.log = open(os.path.join(WORK, f"{name}.log"), "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.base = f"127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{self.base}/v2/", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"docker-registry did not answer on {self.base}")

    def get(self, path):
        return json.load(urllib.request.urlopen(f"http://{self.base}{path}", timeout=5))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def skopeo(*args):
    return run(["skopeo", "--override-arch", ARCH, "--override-os", "linux", *args])


def source_facts(path):
    """What the source archive says: the top manifest digest (OCI) or the layer digests
    (docker-archive), read independently of gapbox."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as raw, tarfile.open(fileobj=raw, mode="r|") as t:
        members = {}
        for m in t:
            if m.isfile():
                members[m.name.lstrip("./")] = t.extractfile(m).read()
    if "index.json" in members:
        index = json.loads(members["index.json"])
        return {"format": "oci", "digest": index["manifests"][0]["digest"]}
    manifest = json.loads(members["manifest.json"])[0]
    layers = ["sha256:" + hashlib.sha256(members[l]).hexdigest() for l in manifest["Layers"]]
    config = "sha256:" + hashlib.sha256(members[manifest["Config"]]).hexdigest()
    return {"format": "docker-archive", "layers": layers, "config": config}


# load-push-all-images.sh's prefixes, in its order.
UPSTREAM_STRIP = ["registry.k8s.io", "k8s.gcr.io", "gcr.io", "ghcr.io", "docker.io", "quay.io"]


def split_ref(line):
    """(name, tag) of a list line: the tag follows the last ':' after the last '/'."""
    name = line.split("@")[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return (name[:colon], name[colon + 1:]) if colon > slash else (name, "latest")


def upstream_names(line, additional):
    """Where kubespray-offline pushes LINE (load-push-all-images.sh, on the text), and where a
    node's containerd mirror asks for it (the path below the host, library/ for a one-part
    Docker Hub name) when the host is one the nodes mirror."""
    name, _ = split_ref(line)
    push = name if "/" in name else "docker.io/library/" + name
    for prefix in UPSTREAM_STRIP + additional:
        if push.startswith(prefix + "/"):
            push = push[len(prefix) + 1:]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "docker.io", name
    if host == "docker.io" and "/" not in path:
        path = "library/" + path
    mirrored = UPSTREAM_STRIP + [a.split("/")[0] for a in additional]
    return [push] + ([path] if host in mirrored and path != push else [])


def expected_store(outputs):
    """Every repository:tag the store must serve, from the lists and config.sh as the upstream
    scripts read them (config.sh sourced by bash, as they do)."""
    r = run(["bash", "-c", ". ./config.sh >/dev/null 2>&1; echo $ADDITIONAL_CONTAINER_REGISTRY_LIST"], cwd=outputs)
    additional = r.stdout.split()
    want = {}
    for lst in sorted(os.listdir(os.path.join(outputs, "images"))):
        if not lst.endswith(".list"):
            continue
        for line in open(os.path.join(outputs, "images", lst)):
            line = line.split("#")[0].strip()
            if line:
                for n in upstream_names(line, additional):
                    want.setdefault(n, set()).add(split_ref(line)[1])
    return want, additional


def check_registry(store, summary, outputs):
    reg = Registry("registry", store)
    reg2 = None
    try:
        want, additional = expected_store(outputs)
        for img in summary["images"]:
            if not img.get("listed", True):   # an archive no list names: the name it carries
                for n in upstream_names(img["ref"], additional):
                    want.setdefault(n, set()).add(split_ref(img["ref"])[1])
        expect_repos = sorted(want)
        catalog = reg.get("/v2/_catalog")["repositories"]
        if sorted(catalog) == expect_repos:
            ok(f"/v2/_catalog lists the {len(expect_repos)} repositories the upstream scripts and the nodes' mirrors use")
        else:
            not_ok("/v2/_catalog", f"got {catalog}, expected {expect_repos}")
        for repo in expect_repos:
            tags = sorted(reg.get(f"/v2/{repo}/tags/list")["tags"])
            if tags == sorted(want[repo]):
                ok(f"tags/list of {repo}: {tags}")
            else:
                not_ok(f"tags/list of {repo}", f"got {tags}, expected {sorted(want[repo])}")
        for img in summary["images"]:
            for alias in img.get("aliases", []):
                a = f"docker://{reg.base}/{alias}:{img['tag']}"
                got = skopeo("inspect", "--raw", "--tls-verify=false", a)
                d = "sha256:" + hashlib.sha256(got.stdout.encode()).hexdigest() if got.returncode == 0 else got.stderr
                if d == img["digest"]:
                    ok(f"{alias}:{img['tag']} (the mirror's name of {img['ref']}) serves {d}")
                else:
                    not_ok(f"{alias}:{img['tag']}", f"got {d}, expected {img['digest']}")

        reg2 = Registry("registry2", os.path.join(WORK, "registry2"))
        for img in summary["images"]:
            name = f"{img['repository']}:{img['tag']}"
            ref = f"docker://{reg.base}/{name}"
            r = skopeo("inspect", "--tls-verify=false", ref)
            if r.returncode != 0:
                not_ok(f"skopeo inspect {name}", r.stderr.strip())
                continue
            info = json.loads(r.stdout)
            raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", ref).stdout)
            top = "sha256:" + hashlib.sha256(
                skopeo("inspect", "--raw", "--tls-verify=false", ref).stdout.encode()).hexdigest()
            src = source_facts(os.path.join(outputs, img["archive"]))
            if src["format"] == "oci":
                good = top == src["digest"] == img["digest"]
                what = f"manifest digest {top} equals the archive's {src['digest']}"
            else:
                good = info["Layers"] == src["layers"] and raw["config"]["digest"] == src["config"]
                what = f"{len(src['layers'])} layers and the config equal the archive's"
            if good:
                ok(f"skopeo inspect {name}: {what}")
            else:
                not_ok(f"skopeo inspect {name}", f"registry {top} {info['Layers']}, source {src}")

            dest = os.path.join(WORK, "pulled", name.replace("/", "_").replace(":", "_"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            r = skopeo("copy", "--src-tls-verify=false", ref, f"oci:{dest}:{img['tag']}")
            if r.returncode == 0:
                ok(f"skopeo copy {name} (every blob fetched and verified)")
            else:
                not_ok(f"skopeo copy {name}", r.stderr.strip())

            if src["format"] == "oci":
                dst = f"docker://{reg2.base}/{name}"
                r = skopeo("copy", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false", ref, dst)
                got = skopeo("inspect", "--raw", "--tls-verify=false", dst)
                d2 = "sha256:" + hashlib.sha256(got.stdout.encode()).hexdigest() if got.returncode == 0 else None
                # An index whose other platforms are absent is copied as the one platform it has.
                want = top if not raw.get("manifests") else next(
                    m["digest"] for m in raw["manifests"] if m["platform"]["architecture"] == ARCH)
                if r.returncode == 0 and d2 == want:
                    ok(f"skopeo copy {name} into a fresh registry keeps digest {d2}")
                else:
                    not_ok(f"second copy of {name}", f"{r.stderr.strip()} got {d2}, expected {want}")
    finally:
        reg.stop()
        if reg2:
            reg2.stop()


def extract_payload(iso, dest):
    os.makedirs(dest, exist_ok=True)
    for part in ("payload.sfs", "payload-stored.sfs"):
        sfs = os.path.join(WORK, part)
        r = run(["xorriso", "-osirrox", "on", "-indev", iso, "-extract", f"/gapbox/{part}", sfs])
        if r.returncode != 0:
            raise RuntimeError(f"cannot extract /gapbox/{part} from {iso}: {r.stderr}")
        r = run(["unsquashfs", "-f", "-d", dest, sfs])
        if r.returncode != 0:
            raise RuntimeError(f"unsquashfs {sfs}: {r.stderr}")


def tree_state(path):
    state = {}
    for d, _, files in os.walk(path):
        for f in files:
            p = os.path.join(d, f)
            st = os.lstat(p)
            state[p] = (st.st_size, st.st_mtime_ns)
    return state


def check_defects():
    kinds = ["truncated-gzip", "dotdot-entry", "symlink-escape", "digest-mismatch", "wrong-arch-binary",
             "wrong-arch-image", "missing-archive", "version-mismatch"]
    for kind in kinds:
        out = os.path.join(WORK, "defect-" + kind)
        shutil.rmtree(out, ignore_errors=True)
        r = run([GEN, "--arch", ARCH, "--defect", kind, out])
        if r.returncode != 0:
            not_ok(f"defect {kind}", f"the generator failed: {r.stderr}")
            continue
        with open(os.path.join(out, "DEFECTS")) as f:
            files = sorted({line.split("\t")[1] for line in f if line.strip()})
        r = run([GAPBOX, "check-outputs", out, "--arch", ARCH])
        errors = [l for l in r.stdout.splitlines() if l.startswith("error:")]
        named = all(any(f"error: {fn}" in l for l in errors) for fn in files)
        if r.returncode != 1 or not named:
            not_ok(f"check-outputs refuses {kind}", f"exit {r.returncode}, expected errors naming {files}:\n{r.stdout}{r.stderr}")
            continue
        before = tree_state(out)
        iso = os.path.join(WORK, f"defect-{kind}.iso")
        r = run([GAPBOX, "build", os.path.join(ROOT, f"profiles/debian12-{ARCH}.yaml"), "--outputs", out, "-o", iso])
        leftovers = [n for n in os.listdir(WORK) if n.startswith(".gapbox-build-")]
        if r.returncode == 0 or os.path.exists(iso) or leftovers or tree_state(out) != before:
            not_ok(f"build refuses {kind}", f"exit {r.returncode}, image {os.path.exists(iso)}, left {leftovers}")
            continue
        ok(f"{kind} refused: {errors[0]}")


def check_ansible_in_container():
    """kubespray-offline's ansible_in_container=true: Ansible as an image no list names, no
    pypi/. Accepted, the image imported under the name it carries."""
    out = os.path.join(WORK, "ansible-in-container")
    r = run([GEN, "--arch", ARCH, "--ansible-in-container", out])
    if r.returncode != 0:
        not_ok("ansible-in-container fixture", r.stderr)
        return
    r = run([GAPBOX, "check-outputs", out, "--arch", ARCH])
    lines = r.stdout.splitlines()
    imported = [l for l in lines if l.startswith("note: images/kubespray-offline-ansible.tar.gz: ")
                and "imported as library/kubespray-offline-ansible:latest" in l]
    pypi = [l for l in lines if "pypi" in l and not l.startswith("note:")]
    if r.returncode == 0 and imported and not pypi:
        ok("ansible_in_container payload accepted: " + imported[0])
    else:
        not_ok("ansible_in_container payload", r.stdout + r.stderr)


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    outputs = os.path.join(WORK, "outputs")
    r = run([GEN, "--arch", ARCH, outputs])
    if r.returncode != 0:
        not_ok("fixture", r.stderr)
        return
    check_record = os.path.join(WORK, "check-outputs-record.json")
    r = run([GAPBOX, "check-outputs", outputs, "--arch", ARCH, "--record", check_record])
    if r.returncode == 0 and " 0 errors" in r.stdout:
        ok("check-outputs: " + r.stdout.strip().splitlines()[-1])
    else:
        not_ok("check-outputs of a good fixture", r.stdout + r.stderr)
    # config.sh shows kubespray-offline's defaults; the files are the 2.30.0 override's.
    notes = [l for l in r.stdout.splitlines() if l.startswith("note: config.sh:")]
    want = ["KUBESPRAY_VERSION=2.29.1", "CONTAINERD_VERSION=2.1.5", "NERDCTL_VERSION=2.1.6"]
    if all(any(w in n and "overridden at download time" in n for n in notes) for w in want) and len(notes) == 3:
        ok(f"check-outputs notes the {len(notes)} versions overridden at download time")
    else:
        not_ok("overridden versions", f"expected notes for {want}, got {notes}")

    iso = os.path.join(WORK, "payload.iso")
    r = run([GAPBOX, "build", os.path.join(ROOT, f"profiles/debian12-{ARCH}.yaml"), "--outputs", outputs, "-o", iso])
    if r.returncode != 0:
        not_ok("build with payload", r.stderr[-3000:])
        return
    ok("build with payload: " + [l for l in r.stderr.splitlines() if "payload:" in l][-1])
    r = run(["xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/gapbox/manifest.json",
             os.path.join(WORK, "manifest.json")])
    versions = json.load(open(os.path.join(WORK, "manifest.json"))).get("payload", {}).get("versions", {}) \
        if r.returncode == 0 else {}
    want = {"kubespray": "2.30.0", "containerd": "2.2.1", "nerdctl": "2.2.1", "runc": "1.3.4",
            "cni": "1.8.0", "etcd": "3.5.26", "kube": "1.33.7"}
    if all(versions.get(k) == v for k, v in want.items()):
        ok("the manifest records the versions read from files/: " +
           ", ".join(f"{k} {versions[k]}" for k in want))
    else:
        not_ok("manifest versions", f"got {versions}, expected {want}")
    r = run([GAPBOX, "inspect", iso])
    if r.returncode == 0 and "payload.sfs" in r.stdout and "payload-stored.sfs" in r.stdout:
        ok("inspect verifies payload.sfs and payload-stored.sfs")
    else:
        not_ok("inspect", r.stdout + r.stderr)

    payload = os.path.join(WORK, "payload")
    extract_payload(iso, payload)
    r = run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=payload)
    nsums = sum(1 for _ in open(os.path.join(payload, "SHA256SUMS")))
    if r.returncode == 0:
        ok(f"SHA256SUMS: all {nsums} files verify")
    else:
        not_ok("SHA256SUMS", r.stdout + r.stderr)
    kept = [n for n in os.listdir(os.path.join(payload, "images")) if n.endswith((".tar", ".tar.gz"))]
    if not kept and os.path.exists(os.path.join(payload, "images/images.list")):
        ok("image archives left out, lists kept")
    else:
        not_ok("image archives left out", f"payload/images holds {kept}")
    link = os.path.join(payload, "pypi/gapbox-fixture-hello")
    links = [os.readlink(os.path.join(link, n)) for n in os.listdir(link) if os.path.islink(os.path.join(link, n))]
    if links and all(l.startswith("../files/") for l in links):
        ok(f"pypi symlinks kept relative: {links}")
    else:
        not_ok("pypi symlinks", str(links))
    with open(os.path.join(payload, "gapbox-payload.json")) as f:
        summary = json.load(f)
    # The fixture's deb index lists a package; its rpm has repodata and no el<N> release tag.
    if summary.get("node_os") == ["debian", "rhel"]:
        ok("payload record: node_os is ['debian', 'rhel'], from the repositories' metadata")
    else:
        not_ok("payload record: node_os", f"expected ['debian', 'rhel'], got {summary.get('node_os')!r}")
    with open(check_record) as f:
        checked = json.load(f)
    downloads = summary.get("kubespray") and summary["kubespray"]["downloads"]
    if summary == checked and downloads and any(d["path"] for d in downloads):
        ok("the payload record is the one check-outputs --record wrote, with kubespray %s's %d downloads"
           % (summary["kubespray"]["version"], len(downloads)))
    else:
        not_ok("the payload record is the one check-outputs --record wrote",
               json.dumps(summary.get("kubespray"))[:400] + " / " + json.dumps(checked.get("kubespray"))[:400])
    check_registry(os.path.join(payload, "registry"), summary, outputs)
    check_ansible_in_container()
    check_defects()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash of the harness is a failure, reported like one
        not_ok("payload tests", repr(e))
    print(f"payload: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
