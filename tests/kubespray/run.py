#!/usr/bin/env python3
"""offline.yml's download URLs against the payload. For a 2.30-shaped and a 2.31-shaped fixture
outputs/ (tests/fixtures/gen-outputs), amd64 and arm64: `gapbox check-outputs --record` writes the
payload record a build would carry, the real gapbox-firstboot renders offline.yml and nginx.conf
from it, and the real nginx serves the payload on 127.0.0.1. Every *_download_url of offline.yml
is then expanded here, independently of gapbox, with jinja2 and stand-ins for the Ansible filters
kubespray uses, over kubespray's own defaults from the fixture's tarball, the architecture's facts
and offline.yml on top (the precedence Ansible gives them), and fetched: it must answer 200 with
the payload file's sha256, be the file kubespray-offline saved for kubespray's own URL of it, and
match kubespray's checksum where kubespray has one. Every *_download_url of download.yml must be
in offline.yml or left out with a comment, and only when its file is absent.

It must also fail when it should: a file taken away from what nginx serves is named with its
variable; a file absent when the record is written is left out of offline.yml with a comment
naming it; a file that does not hash to kubespray's checksum is a finding of check-outputs.

Then Ansible itself: tests/fixtures/fetch-debs downloads Debian 12's debs of Ansible and its
dependencies (cached in ${GAPBOX_CACHE:-/var/cache/gapbox}/debs/ARCH), gen-outputs --wheels-from
makes pypi/'s wheels of them for amd64 and arm64, and on this host a venv of Debian's python3
installs the kubespray tarball's requirements.txt from that pypi/ over HTTP and runs Ansible."""

import base64
import hashlib
import importlib.machinery
import importlib.util
import io
import operator
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile

import jinja2
import jinja2.meta
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GAPBOX = os.path.join(ROOT, "build/host/gapbox")
FIRSTBOOT = os.path.join(ROOT, "build/host/gapbox-firstboot")
GEN = os.path.join(ROOT, "tests/fixtures/gen-outputs")
CONFIG = os.path.join(ROOT, "tests/firstboot/configs/nat-off.yaml")
WORK = os.path.join(ROOT, "build/test/kubespray")
FIXTURES = [("2.30", "amd64"), ("2.30", "arm64"), ("2.31", "amd64"), ("2.31", "arm64")]
# The facts the templates use: ansible_architecture and ansible_system (v2.30.0, v2.31.0), or
# ansible_facts['architecture'] and ansible_facts['system'] (kubespray's master since).
FACTS = {arch: {"ansible_architecture": machine, "ansible_system": "Linux",
                "ansible_facts": {"architecture": machine, "system": "Linux"}}
         for arch, machine in (("amd64", "x86_64"), ("arm64", "aarch64"))}
DEFAULTS = "roles/kubespray_defaults/"

RESULTS = []  # one bool per check: passed


def expect(name, problems):
    """One TAP line: ok when PROBLEMS is empty, else each problem on a line of its own."""
    RESULTS.append(not problems)
    print("ok - %s" % name if not problems else "not ok - %s:\n  %s" % (name, "\n  ".join(problems)), flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---- kubespray's variables, the way Ansible templates them

def version_key(v):
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.+-]", str(v).lstrip("v"))]


VERSION_OPS = {"<": operator.lt, "lt": operator.lt, "<=": operator.le, "le": operator.le,
               ">": operator.gt, "gt": operator.gt, ">=": operator.ge, "ge": operator.ge,
               "==": operator.eq, "eq": operator.eq, "!=": operator.ne, "ne": operator.ne}


def version_test(value, other, op="eq"):
    """Ansible's `version` test (LooseVersion-like comparison)."""
    return VERSION_OPS[op](version_key(value), version_key(other))


def unrolled(f):
    def filter_list(*args, **kw):
        return list(f(*args, **kw))
    for attr in ("jinja_pass_arg",):
        if hasattr(f, attr):
            setattr(filter_list, attr, getattr(f, attr))
    return filter_list


class Vars:
    """Variables in layers (later ones win), templated lazily as Ansible does: a variable's
    template is rendered when it is used, after the variables it names."""

    def __init__(self, *layers):
        self.raw = {}
        for layer in layers:
            self.raw.update(layer)
        self.done = {}
        self.busy = set()
        self.env = jinja2.Environment(undefined=jinja2.StrictUndefined)
        self.env.filters["dict2items"] = lambda d: [{"key": k, "value": v} for k, v in d.items()]
        self.env.filters["split"] = lambda s, sep=None: str(s).split(sep)
        self.env.filters["d"] = self.env.filters["default"]
        # Ansible unrolls the generators of Jinja's select/reject/map into lists, so [0] works
        for name in ("select", "reject", "map"):
            self.env.filters[name] = unrolled(self.env.filters[name])
        self.env.tests["version"] = version_test
        self.env.globals["lookup"] = lambda kind, name: self.get(name) if kind == "vars" else None

    def get(self, name):
        if name not in self.done:
            if name not in self.raw:
                raise KeyError(name)
            if name in self.busy:
                raise RecursionError("%s refers to itself" % name)
            self.busy.add(name)
            try:
                self.done[name] = self.template(self.raw[name])
            finally:
                self.busy.discard(name)
        return self.done[name]

    def template(self, value):
        if isinstance(value, dict):
            return {k: self.template(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.template(v) for v in value]
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        names = jinja2.meta.find_undeclared_variables(self.env.parse(value))
        ctx = {n: self.get(n) for n in names if n in self.raw}
        return self.env.from_string(value).render(ctx)


def kubespray_files(tarball):
    """The kubespray defaults the test reads, from the release tarball."""
    want = {"download": DEFAULTS + "defaults/main/download.yml", "main": DEFAULTS + "defaults/main/main.yml",
            "vars": DEFAULTS + "vars/main/main.yml", "checksums": DEFAULTS + "vars/main/checksums.yml"}
    got = {}
    with tarfile.open(tarball) as t:
        for m in t.getmembers():
            below = m.name.split("/", 1)[1] if "/" in m.name else ""
            for key, rel in want.items():
                if below == rel:
                    text = t.extractfile(m).read().decode()
                    # checksums.yml's keys are versions: strings, as kubespray indexes them
                    loader = yaml.BaseLoader if key == "checksums" else yaml.SafeLoader
                    got[key] = yaml.load(text, Loader=loader) or {}
    missing = set(want) - set(got)
    if missing:
        raise RuntimeError("%s lacks %s" % (tarball, ", ".join(want[k] for k in sorted(missing))))
    return got


def load_gen_outputs():
    """gen-outputs as a module: its decide_relative_dir() is the one the fixture's files/ follow."""
    loader = importlib.machinery.SourceFileLoader("gen_outputs", GEN)
    spec = importlib.util.spec_from_loader("gen_outputs", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


GEN_OUTPUTS = load_gen_outputs()


def payload_rel(url, arch):
    """Where kubespray-offline's download-kubespray-files.sh saves URL under files/."""
    return "/".join(x for x in (GEN_OUTPUTS.decide_relative_dir(url, arch), url.rsplit("/", 1)[1]) if x)


def checksum_expr(download_yml, var):
    """The checksum expression of the downloads: entry that fetches VAR."""
    for entry in (download_yml.get("downloads") or {}).values():
        if isinstance(entry, dict) and str(entry.get("url", "")).replace(" ", "") == "{{%s}}" % var:
            return entry.get("checksum")
    return None


# ---- the check

def check_downloads(offline, ks, arch, payload, base):
    """Problems with OFFLINE (offline.yml's text) for the payload at PAYLOAD served at BASE."""
    problems = []
    site = yaml.safe_load(offline)
    facts = FACTS[arch]
    defaults = [ks["download"], ks["main"]]
    role_vars = [ks["vars"], ks["checksums"]]
    upstream = Vars(*defaults, facts, *role_vars)
    served = Vars(*defaults, site, {"http_server": base}, facts, *role_vars)
    left_out = dict(re.findall(r"^#   ([a-z0-9_]+_download_url): (.*)$", offline, re.M))
    for var in [k for k in ks["download"] if k.endswith("_download_url")]:
        try:
            rel = payload_rel(upstream.get(var), arch)
        except Exception as e:  # noqa: BLE001 - any templating failure is the finding
            problems.append("%s: kubespray's own URL does not expand: %s" % (var, e))
            continue
        present = os.path.isfile(os.path.join(payload, "files", rel))
        if var in left_out:
            if present:
                problems.append("%s is left out (%s) but files/%s is in the payload" % (var, left_out[var], rel))
            elif rel not in left_out[var]:
                problems.append("%s is left out without naming files/%s: %s" % (var, rel, left_out[var]))
            continue
        if var not in site:
            problems.append("%s is neither in offline.yml nor left out with a comment" % var)
            continue
        url = served.get(var)
        if url != "%s/files/%s" % (base, rel):
            problems.append("%s expands to %s, not %s/files/%s (where kubespray-offline saved %s)"
                            % (var, url, base, rel, upstream.get(var)))
            continue
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body, status = r.read(), r.status
        except urllib.error.HTTPError as e:
            body, status = b"", e.code
        except OSError as e:
            problems.append("%s: %s: %s" % (var, url, e))
            continue
        if status != 200:
            problems.append("%s: %s answered %d: files/%s is not served" % (var, url, status, rel))
            continue
        got = hashlib.sha256(body).hexdigest()
        if not present or got != sha256_file(os.path.join(payload, "files", rel)):
            problems.append("%s: %s does not have the sha256 of the payload's files/%s" % (var, url, rel))
        expr = checksum_expr(ks["download"], var)
        if expr:
            try:
                want = str(served.template(expr)).strip()
            except Exception as e:  # noqa: BLE001
                problems.append("%s: kubespray's checksum %s does not expand: %s" % (var, expr, e))
                continue
            if want.split(":", 1)[-1] != got:
                problems.append("%s: %s has sha256 %s, kubespray expects %s" % (var, url, got, want))
    return problems


class Nginx:
    """The nginx.conf gapbox-firstboot rendered, on 127.0.0.1:PORT, serving WORK/payload and
    WORK/root's node files (symlinks, re-pointed for each fixture)."""

    def __init__(self, rendered_root):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        d = os.path.join(WORK, "nginx")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(rendered_root, "etc/nginx/nginx.conf")) as f:
            conf = f.read()
        conf = re.sub(r"listen 80 default_server;", "listen 127.0.0.2:%d default_server;" % self.port, conf)
        conf = conf.replace("listen 127.0.0.1:80;", "listen 127.0.0.1:%d;" % self.port)
        conf = re.sub(r"\n\s*listen [0-9.]+:80;", "", conf)
        conf = re.sub(r"(?m)^pid .*", "pid %s/nginx.pid;" % d, conf)
        conf = conf.replace("/var/log/nginx/", d + "/").replace("/run/gapbox/payload/", WORK + "/payload/")
        conf = conf.replace("/run/gapbox/access.log", d + "/site.log")
        conf = conf.replace("/run/gapbox/www", WORK + "/root/run/gapbox/www")
        conf = conf.replace("/run/gapbox/status.json", WORK + "/root/run/gapbox/status.json")
        self.conf = os.path.join(d, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.log = open(os.path.join(d, "stdout.log"), "w")
        self.proc = subprocess.Popen(["nginx", "-c", self.conf, "-g", "daemon off;"], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.base = "http://127.0.0.1:%d" % self.port
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                urllib.request.urlopen(self.base + "/gapbox/offline.yml", timeout=2).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not answer on %s within 15 s (log: %s)" % (self.base, d))

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def point(link, target):
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(target, link)


def workspace(work, payload, arch, versions):
    """gapbox-kubespray init on this host, as on the admin but with its folders and the mirror
    given: the workspace from the payload with real wheels, a second run that keeps an edit and
    takes a site change, a mirror that lacks a requirement, patches that apply and one that does
    not. Returns the first init's time."""
    root = os.path.join(work, "root-ws")
    record(payload, arch)
    render(payload, root)
    node_files = os.path.join(work, "node-files")
    shutil.copytree(os.path.join(root, "run/gapbox/www/gapbox"), node_files)
    tool = os.path.join(work, "gapbox-kubespray")
    os.symlink(FIRSTBOOT, tool)
    key = os.path.join(work, "key", "id_ed25519")
    env = clean_env(work)
    ks = "kubespray-%s" % KS_VERSION["2.30"]

    def init(ws, pay=payload, base=None):
        cmd = [tool, "init", "--workspace", ws, "--payload", pay, "--node-files", node_files, "--ssh-key", key]
        return timed(cmd + ["--index-url", base or "http://127.0.0.1:9/"], env=env)

    server = PypiServer(os.path.join(payload, "pypi"), os.path.join(work, "http-ws.log"))
    try:
        ws = os.path.join(work, "ws")
        r, took = init(ws, base=server.base)
        inv = os.path.join(ws, ks, "inventory/mycluster")
        problems = [] if r.returncode == 0 else ["exit %d: %s%s" % (r.returncode, r.stdout, r.stderr)]
        for rel, src in (("inventory.ini", "inventory.ini"), ("group_vars/all/offline.yml", "offline.yml")):
            if not os.path.exists(os.path.join(inv, rel)) or \
                    sha256_file(os.path.join(inv, rel)) != sha256_file(os.path.join(node_files, src)):
                problems.append("inventory/mycluster/%s is not the admin's %s" % (rel, src))
        for rel in (ks + "/cluster.yml", ks + "/inventory/mycluster/group_vars", "venv/bin/ansible-playbook"):
            if not os.path.exists(os.path.join(ws, rel)):
                problems.append("no " + rel)
        v = run([os.path.join(ws, "venv/bin/ansible"), "--version"], env=env)
        if "ansible [core %s]" % versions.get("ansible-core") not in v.stdout:
            problems.append("ansible --version: " + v.stdout + v.stderr)
        if not os.path.exists(key + ".pub") or "Next, on this admin" not in r.stdout:
            problems.append("no SSH key made, or no next commands printed: " + r.stdout)
        expect("gapbox-kubespray init: %s extracted, inventory/mycluster with the admin's inventory.ini and "
               "offline.yml, Ansible %s in venv/ from the mirror, the SSH key made (%.1f s)"
               % (ks, versions.get("ansible-core"), took), problems)
        first = took

        # exec: the venv's commands, from any folder, in the kubespray folder when called from outside.
        opts = ["--workspace", ws, "--payload", payload, "--node-files", node_files, "--ssh-key", key]
        r = run([tool] + opts + ["exec", "python3", "-c", "import os, sys; print(os.getcwd()); print(sys.prefix)"],
                env=env, cwd=work)
        want = [os.path.join(ws, ks), os.path.join(ws, "venv")]
        expect("exec python3 from outside the workspace: the venv's, in the kubespray folder",
               [] if r.returncode == 0 and r.stdout.split() == want else ["exit %d: %s%s" % (r.returncode, r.stdout, r.stderr)])
        r = run([tool] + opts + ["exec", "ansible", "--version"], env=env, cwd=inv)
        expect("exec ansible --version: the venv's Ansible", [] if r.returncode == 0 and os.path.join(ws, "venv") in r.stdout
               else ["exit %d: %s%s" % (r.returncode, r.stdout, r.stderr)])

        # An operator's edit is kept; a change of the site reaches the files nobody edited.
        with open(os.path.join(inv, "inventory.ini"), "a") as f:
            f.write("# the operator's line\n")
        edited = sha256_file(os.path.join(inv, "inventory.ini"))
        with open(os.path.join(node_files, "offline.yml"), "a") as f:
            f.write("# the site changed\n")
        with open(os.path.join(node_files, "inventory.ini"), "a") as f:
            f.write("# the site changed too\n")
        r, took = init(ws, base=server.base)
        problems = [] if r.returncode == 0 else ["exit %d: %s" % (r.returncode, r.stderr)]
        if sha256_file(os.path.join(inv, "inventory.ini")) != edited:
            problems.append("the edited inventory.ini was changed")
        if "inventory.ini: kept as it is, edited since gapbox wrote it" not in r.stderr:
            problems.append("init did not say it kept inventory.ini: " + r.stderr)
        if sha256_file(os.path.join(inv, "group_vars/all/offline.yml")) != \
                sha256_file(os.path.join(node_files, "offline.yml")):
            problems.append("offline.yml (not edited) did not take the site's change")
        expect("gapbox-kubespray init again: the operator's inventory.ini kept (and said so), offline.yml "
               "updated with the site (%.1f s)" % took, problems)
    finally:
        server.stop()

    # A mirror that lacks a requirement: named, with what it has, before anything is installed.
    lacking = os.path.join(work, "outputs-lacking")
    shutil.copytree(payload, lacking, symlinks=True)
    shutil.rmtree(os.path.join(lacking, "pypi/jmespath"))
    ws = os.path.join(work, "ws-lacking")
    r, _ = init(ws, pay=lacking)
    want = "jmespath==%s (not in the mirror)" % versions.get("python3-jmespath")
    expect("a mirror without jmespath: init fails naming %s, nothing installed (no venv)" % want,
           [] if r.returncode != 0 and want in r.stderr and "nothing was installed" in r.stderr
           and not os.path.exists(os.path.join(ws, "venv")) else ["exit %d: %s" % (r.returncode, r.stderr)])

    # kubespray-offline's patches/<version>/*.patch, in name order; one that does not apply is named
    # and leaves no kubespray folder.
    patched = os.path.join(work, "outputs-patched")
    shutil.copytree(payload, patched, symlinks=True)
    pdir = os.path.join(patched, "patches", KS_VERSION["2.30"])
    os.makedirs(pdir)
    with open(os.path.join(pdir, "001-cluster.patch"), "w") as f:
        f.write("--- a/cluster.yml\n+++ b/cluster.yml\n@@ -0,0 +1 @@\n+# patched by 001\n")
    orig = run(["tar", "-xzOf", os.path.join(payload, "files", ks + ".tar.gz"), ks + "/cluster.yml"]).stdout
    with open(os.path.join(pdir, "002-cluster.patch"), "w") as f:
        f.write("--- a/cluster.yml\n+++ b/cluster.yml\n@@ -1,1 +1,2 @@\n # patched by 001\n+# patched by 002\n")
    ws = os.path.join(work, "ws-patched")
    r, _ = init(ws, pay=patched)
    text = open(os.path.join(ws, ks, "cluster.yml")).read() if os.path.exists(os.path.join(ws, ks, "cluster.yml")) else ""
    expect("patches/%s/*.patch applied in name order (001, then 002 on top of it)" % KS_VERSION["2.30"],
           [] if text == "# patched by 001\n# patched by 002\n" + orig and "applied " in r.stderr
           else ["cluster.yml starts %r; %s" % (text[:80], r.stderr)])
    with open(os.path.join(pdir, "003-missing.patch"), "w") as f:
        f.write("--- a/no-such-file.yml\n+++ b/no-such-file.yml\n@@ -1,1 +1,1 @@\n-x\n+y\n")
    ws = os.path.join(work, "ws-badpatch")
    r, _ = init(ws, pay=patched)
    leftovers = [n for n in os.listdir(ws)] if os.path.isdir(ws) else []
    expect("a patch that does not apply: init fails naming it, and leaves no kubespray folder",
           [] if r.returncode != 0 and "003-missing.patch does not apply" in r.stderr and
           not any(n.startswith((ks, ".kubespray")) for n in leftovers)
           else ["exit %d: %s; left %r" % (r.returncode, r.stderr, leftovers)])
    return "gapbox-kubespray init %.1f s" % first


def prepare(ks_shape, arch):
    """Fixture outputs/, its payload record and gapbox-firstboot's rendering: (payload, root)."""
    name = "%s-%s" % (ks_shape, arch)
    payload, root = os.path.join(WORK, "outputs-" + name), os.path.join(WORK, "root-" + name)
    r = run([sys.executable, GEN, "--arch", arch, "--kubespray", ks_shape, payload])
    if r.returncode:
        raise RuntimeError("gen-outputs: " + r.stderr)
    record(payload, arch)
    render(payload, root)
    return payload, root


def record(payload, arch):
    # The record is the payload's, a name an outputs/ folder may not hold: a record from an
    # earlier run goes before the check, and the new one is written beside the folder first.
    path = os.path.join(payload, "gapbox-payload.json")
    if os.path.exists(path):
        os.unlink(path)
    r = run([GAPBOX, "check-outputs", payload, "--arch", arch, "--record", payload + ".record.json"])
    if r.returncode == 0:
        os.replace(payload + ".record.json", path)
    if r.returncode:
        raise RuntimeError("check-outputs %s: %s%s" % (payload, r.stdout, r.stderr))


def render(payload, root):
    os.makedirs(root, exist_ok=True)
    cmdline = os.path.join(WORK, "cmdline-empty")
    open(cmdline, "w").close()
    r = run([FIRSTBOOT, "configure", "--root", root, "--cmdline", cmdline, "--interfaces",
             "ens3=52:54:00:00:00:01,ens4=52:54:00:00:00:02", "--config", CONFIG, "--payload", payload])
    if not os.path.exists(os.path.join(root, "run/gapbox/www/gapbox/offline.yml")):
        raise RuntimeError("gapbox-firstboot rendered no offline.yml: " + r.stdout + r.stderr)


def fetch_offline_yml(base):
    with urllib.request.urlopen(base + "/gapbox/offline.yml", timeout=10) as r:
        return r.read().decode()


def main():
    for tool in (GAPBOX, FIRSTBOOT):
        if not os.access(tool, os.X_OK):
            print("not ok - %s is not built (make)" % tool)
            return 1
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    t0 = time.monotonic()
    if shutil.which("nginx"):
        download_urls()
    else:
        print("ok - offline.yml download URLs # SKIP nginx is not installed (make deps)")
    wheels()
    print("# %.1f s" % (time.monotonic() - t0))
    print("kubespray: %d passed, %d failed" % (RESULTS.count(True), RESULTS.count(False)))
    return 0 if all(RESULTS) else 1


def download_urls():
    prepared = {f: prepare(*f) for f in FIXTURES}
    point(os.path.join(WORK, "payload"), prepared[FIXTURES[0]][0])
    point(os.path.join(WORK, "root"), prepared[FIXTURES[0]][1])
    nginx = Nginx(prepared[FIXTURES[0]][1])
    try:
        for (shape, arch), (payload, root) in prepared.items():
            point(os.path.join(WORK, "payload"), payload)
            point(os.path.join(WORK, "root"), root)
            ks_version = KS_VERSION[shape]
            ks = kubespray_files(os.path.join(payload, "files", "kubespray-%s.tar.gz" % ks_version))
            offline = fetch_offline_yml(nginx.base)
            first = offline.splitlines()[0]
            expect("kubespray %s %s: offline.yml's header names kubespray %s" % (shape, arch, ks_version),
                   [] if ("kubespray %s " % ks_version) in first else ["first line: " + first])
            n = len([line for line in offline.splitlines() if re.match(r"^[a-z0-9_]+_download_url: ", line)])
            expect("kubespray %s %s: every *_download_url of offline.yml (%d) answers 200 from nginx with the "
                   "payload's sha256 and kubespray's checksum, at kubespray-offline's path for kubespray's URL; "
                   "every other one is left out with its absent file named" % (shape, arch, n),
                   check_downloads(offline, ks, arch, payload, nginx.base))
            crds = {"2.30": "kubernetes/calico/v3.30.5.tar.gz", "2.31": "kubernetes/calico/crds.yaml"}[shape]
            expect("kubespray %s %s: calico_crds_download_url is files/%s" % (shape, arch, crds),
                   [] if 'calico_crds_download_url: "{{ files_repo }}/%s"' % crds in offline else
                   [line for line in offline.splitlines() if "calico_crds" in line])

        negative_cases(nginx, prepared[("2.31", "amd64")], "2.31", "amd64")
    finally:
        nginx.stop()


KS_VERSION = {"2.30": "2.30.0", "2.31": "2.31.0"}


def negative_cases(nginx, prepared, shape, arch):
    payload, root = prepared
    point(os.path.join(WORK, "payload"), payload)
    point(os.path.join(WORK, "root"), root)
    ks = kubespray_files(os.path.join(payload, "files", "kubespray-%s.tar.gz" % KS_VERSION[shape]))
    offline = fetch_offline_yml(nginx.base)
    rel = "kubernetes/calico/crds.yaml"
    src, aside = os.path.join(payload, "files", rel), os.path.join(WORK, "crds.yaml.aside")

    # Taken away from what nginx serves: the check fails, naming the variable and the path.
    os.rename(src, aside)
    try:
        problems = check_downloads(offline, ks, arch, payload, nginx.base)
    finally:
        os.rename(aside, src)
    named = [p for p in problems if "calico_crds_download_url" in p and rel in p]
    expect("a file taken out of the served payload fails the check, naming calico_crds_download_url and "
           "files/" + rel, [] if named and len(problems) == 1 else ["problems: %r" % problems])

    # Absent when the record is written: left out of offline.yml, with a comment naming the file.
    neg_payload, neg_root = os.path.join(WORK, "outputs-absent"), os.path.join(WORK, "root-absent")
    shutil.copytree(payload, neg_payload, symlinks=True)
    os.unlink(os.path.join(neg_payload, "files", rel))
    os.unlink(os.path.join(neg_payload, "gapbox-payload.json"))
    record(neg_payload, arch)
    render(neg_payload, neg_root)
    with open(os.path.join(neg_root, "run/gapbox/www/gapbox/offline.yml")) as f:
        absent = f.read()
    comment = [line for line in absent.splitlines() if line.startswith("#   calico_crds_download_url: ")]
    problems = [] if comment and ("files/" + rel) in comment[0] else ["no comment naming it: %r" % comment]
    if re.search(r"(?m)^calico_crds_download_url:", absent):
        problems.append("calico_crds_download_url is still set")
    point(os.path.join(WORK, "payload"), neg_payload)
    point(os.path.join(WORK, "root"), neg_root)
    problems += check_downloads(fetch_offline_yml(nginx.base), ks, arch, neg_payload, nginx.base)
    expect("a file absent when the record is written is left out of offline.yml with a comment naming "
           "files/" + rel, problems)

    # Not kubespray's checksum: check-outputs reports the file (kubespray would refuse it).
    with open(os.path.join(neg_payload, "files/runc/v1.3.4/runc." + arch), "ab") as f:
        f.write(b"tampered\n")
    r = run([GAPBOX, "check-outputs", neg_payload, "--arch", arch])
    want = "error: files/runc/v1.3.4/runc.%s: sha256 " % arch
    expect("a file that does not hash to kubespray's checksum is an error of check-outputs naming it",
           [] if r.returncode == 1 and want in r.stdout and "runc_checksums[%s][1.3.4]" % arch in r.stdout
           else ["exit %d: %s" % (r.returncode, r.stdout[-800:])])

    facts_shape(nginx, payload, shape, arch)
    bad_inputs(payload, shape, arch)


def facts_shape(nginx, payload, shape, arch):
    """download.yml as kubespray's master writes it (ansible_facts['architecture']): the same files."""
    facts = os.path.join(WORK, "outputs-facts")
    shutil.copytree(payload, facts, symlinks=True)
    tarball = os.path.join(facts, "files/kubespray-%s.tar.gz" % KS_VERSION[shape])
    with tarfile.open(tarball) as t:
        text = t.extractfile("kubespray-%s/%sdefaults/main/download.yml" % (KS_VERSION[shape], DEFAULTS)).read()
    text = text.replace(b"ansible_architecture", b"ansible_facts['architecture']")
    text = text.replace(b"ansible_system", b"ansible_facts['system']")
    replace_member(tarball, DEFAULTS + "defaults/main/download.yml", text)
    record(facts, arch)
    render(facts, os.path.join(WORK, "root-facts"))
    point(os.path.join(WORK, "payload"), facts)
    point(os.path.join(WORK, "root"), os.path.join(WORK, "root-facts"))
    with open(os.path.join(payload, "gapbox-payload.json")) as a, open(os.path.join(facts, "gapbox-payload.json")) as b:
        same = yaml.safe_load(a)["kubespray"] == yaml.safe_load(b)["kubespray"]
    problems = [] if same else ["the payload record's downloads differ from those of the release's own shape"]
    problems += check_downloads(fetch_offline_yml(nginx.base), kubespray_files(tarball), arch, facts, nginx.base)
    expect("download.yml with ansible_facts['architecture'] and ['system'] (kubespray's master): the same "
           "downloads, every one served", problems)


def replace_member(tarball, rel, data):
    """Rewrite TARBALL with the member */REL holding DATA."""
    tmp = tarball + ".tmp"
    with tarfile.open(tarball) as src, tarfile.open(tmp, "w:gz") as dst:
        for m in src.getmembers():
            f = src.extractfile(m) if m.isfile() else None
            if m.name.split("/", 1)[-1] == rel:
                m.size = len(data)
                f = io.BytesIO(data)
            dst.addfile(m, f)
    os.replace(tmp, tarball)


def bad_inputs(payload, shape, arch):
    """Hostile or foreign kubespray input: refused with the file (and line) named."""
    bad = os.path.join(WORK, "outputs-bad")
    tarball = "files/kubespray-%s.tar.gz" % KS_VERSION[shape]
    member = "kubespray-%s/%sdefaults/main/download.yml" % (KS_VERSION[shape], DEFAULTS)
    cases = [
        ("a download.yml that is not YAML", b"---\nrunc_download_url: [unclosed\n",
         "error: %s:%s:3:1: did not find expected" % (tarball, member)),
        ("a download.yml over 4 MiB", b"# " + b"x" * (4 << 20) + b"\n",
         "error: %s:%s: larger than 4 MiB" % (tarball, member)),
    ]
    for name, data, want in cases:
        shutil.rmtree(bad, ignore_errors=True)
        shutil.copytree(payload, bad, symlinks=True)
        replace_member(os.path.join(bad, tarball), DEFAULTS + "defaults/main/download.yml", data)
        r = run([GAPBOX, "check-outputs", bad, "--arch", arch])
        expect("%s is an error naming the file (and the line)" % name,
               [] if r.returncode == 1 and want in r.stdout else ["exit %d, wanted %r in: %s"
                                                                  % (r.returncode, want, r.stdout[-600:])])
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(payload, bad, symlinks=True)
    with open(os.path.join(bad, "files/files.list"), "w") as f:
        f.write("https://github.com/opencontainers/runc/releases/download/v9.9.9/runc-of-another-kubespray\n")
    r = run([GAPBOX, "check-outputs", bad, "--arch", arch])
    want = "warning: files/files.list: no line matches %s's runc_download_url" % tarball
    expect("a files.list of another kubespray is a warning naming files/files.list",
           [] if want in r.stdout else ["wanted %r in: %s" % (want, r.stdout[-600:])])
    with open(os.path.join(bad, "files/files.list"), "w") as f:
        f.write("https://storage.googleapis.com/gvisor/releases/release/../../runsc\n")
    r = run([GAPBOX, "check-outputs", bad, "--arch", arch])
    want = "error: files/files.list: https://storage.googleapis.com/gvisor/releases/release/../../runsc: the URL " \
           "for gvisor_runsc_download_url names no file below files/"
    expect("a files.list URL whose parts climb out of files/ (..) is an error naming it",
           [] if r.returncode == 1 and want in r.stdout else ["wanted %r in: %s" % (want, r.stdout[-600:])])


# ---- real wheels: Ansible from Debian's packages, installed with pip from the fixture's pypi/

FETCH_DEBS = os.path.join(ROOT, "tests/fixtures/fetch-debs")
CACHE = os.environ.get("GAPBOX_CACHE") or "/var/cache/gapbox"
VENV_PYTHON = "/usr/bin/python3"   # Debian 12's, the admin server's Python
# The wheel each distribution gives: file name part, the deb its version comes from, compiled
WHEELS = [("ansible_core", "ansible-core", False), ("cffi", "python3-cffi", True),
          ("cryptography", "python3-cryptography", True), ("Jinja2", "python3-jinja2", False),
          ("jmespath", "python3-jmespath", False), ("MarkupSafe", "python3-markupsafe", True),
          ("netaddr", "python3-netaddr", False), ("packaging", "python3-packaging", False),
          ("ply", "python3-ply", False), ("pycparser", "python3-pycparser", False),
          ("PyYAML", "python3-yaml", True), ("resolvelib", "python3-resolvelib", False)]
FIXTURE_PYPI = {"gapbox_fixture_hello-1.0.0-py3-none-any.whl", "gapbox_fixture_dep-0.2.0-py3-none-any.whl",
                "gapbox_fixture_dep-0.2.0.tar.gz"}
PLATFORM = {"amd64": "linux_x86_64", "arm64": "linux_aarch64"}
ELF_MACHINE = {"amd64": 62, "arm64": 183}


def timed(cmd, **kw):
    t = time.monotonic()
    r = run(cmd, **kw)
    return r, time.monotonic() - t


def deb_versions(debdir):
    """{package: upstream version} from the .deb file names apt-get download writes."""
    versions = {}
    for name in os.listdir(debdir):
        m = re.match(r"([^_]+)_(?:[0-9]+%3a)?([^_]+?)(?:-[^-_]+)?_[^_]+\.deb$", name)
        if m:
            versions[m.group(1)] = m.group(2)
    return versions


def expected_wheels(debdir, arch):
    versions = deb_versions(debdir)
    tag = "cp311-cp311-" + PLATFORM[arch]
    return {"%s-%s-%s.whl" % (name, versions.get(deb, "?"), tag if compiled else "py3-none-any")
            for name, deb, compiled in WHEELS}


def kubespray_requirements(payload):
    tarball = os.path.join(payload, "files", "kubespray-%s.tar.gz" % KS_VERSION["2.30"])
    with tarfile.open(tarball) as t:
        return t.extractfile("kubespray-%s/requirements.txt" % KS_VERSION["2.30"]).read().decode()


def wheel_problems(payload, debdir, arch):
    """The pypi/ of PAYLOAD against the debs of DEBDIR: the wheel set and names, the index, each
    wheel's RECORD and the architecture of its compiled modules."""
    problems = []
    pypi = os.path.join(payload, "pypi")
    want = expected_wheels(debdir, arch)
    have = set(os.listdir(os.path.join(pypi, "files")))
    if have != want | FIXTURE_PYPI:
        problems.append("pypi/files: missing %s, unexpected %s"
                        % (sorted(want | FIXTURE_PYPI - have), sorted(have - want - FIXTURE_PYPI)))
    for w in sorted(want & have):
        path = os.path.join(pypi, "files", w)
        project = GEN_OUTPUTS.normalize(w.split("-", 1)[0])
        link = os.path.join(pypi, project, w)
        if not os.path.islink(link) or os.readlink(link) != "../files/" + w:
            problems.append("pypi/%s/%s is not a symlink to ../files/%s" % (project, w, w))
        try:
            with open(os.path.join(pypi, project, "index.html")) as f:
                index = f.read()
        except OSError as e:
            problems.append("pypi/%s/index.html: %s" % (project, e.strerror))
            index = ""
        if '<a href="%s#sha256=%s">' % (w, sha256_file(path)) not in index:
            problems.append("pypi/%s/index.html does not link %s with its sha256" % (project, w))
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            record = [n for n in names if n.endswith(".dist-info/RECORD")]
            if len(record) != 1:
                problems.append("%s: %d RECORDs" % (w, len(record)))
                continue
            listed = set()
            for line in z.read(record[0]).decode().splitlines():
                name, digest, size = line.rsplit(",", 2)
                listed.add(name)
                if name == record[0]:
                    continue
                data = z.read(name)
                b64 = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                if digest != "sha256=" + b64 or int(size) != len(data):
                    problems.append("%s: RECORD's hash or size of %s is wrong" % (w, name))
            if listed != set(names):
                problems.append("%s: RECORD lists %d members, the zip holds %d" % (w, len(listed), len(names)))
            if any("__pycache__" in n or n.endswith(".pyc") for n in names):
                problems.append("%s holds compiled bytecode" % w)
            for n in names:
                if n.endswith(".so"):
                    head = z.read(n)[:20]
                    if head[:4] != b"\x7fELF" or int.from_bytes(head[18:20], "little") != ELF_MACHINE[arch]:
                        problems.append("%s: %s is not an ELF for %s" % (w, n, arch))
    return problems


def requirement_lines(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


class PypiServer:
    """python3 -m http.server on 127.0.0.1, on a port of its own choosing, serving DIRECTORY."""

    def __init__(self, directory, log):
        self.log = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1",
                                      "--directory", directory, "0"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()   # "Serving HTTP on 127.0.0.1 port N (http://...) ..."
        m = re.search(r" port (\d+) ", line)
        if not m:
            self.stop()
            raise RuntimeError("http.server did not say its port: %r" % line)
        self.base = "http://127.0.0.1:%s/" % m.group(1)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                urllib.request.urlopen(self.base, timeout=2).read()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("http.server did not answer on %s within 15 s" % self.base)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


def clean_env(work, **extra):
    """The environment with no pip or Python settings of the caller's (no other index, no
    find-links), HOME in WORK."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "ANSIBLE_"))}
    env.update(HOME=os.path.join(work, "home"), PIP_CONFIG_FILE=os.devnull, PIP_NO_CACHE_DIR="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.update(extra)
    return env


def wheels():
    """fetch-debs for both architectures, gen-outputs --wheels-from, then on this host a venv with
    Debian's python3 installs kubespray's requirements.txt from the fixture's pypi/ over HTTP and
    Ansible runs; the other architecture's wheels are checked by name and content."""
    if not shutil.which("apt-get"):
        print("ok - real wheels from Debian's packages # SKIP apt-get is not installed")
        return
    host = run(["dpkg", "--print-architecture"]).stdout.strip()
    native = host if host in PLATFORM else None
    work = os.path.join(WORK, "wheels")
    os.makedirs(os.path.join(work, "home"))
    timings = []
    debdirs, payloads = {}, {}
    for arch in ("amd64", "arm64"):
        debdirs[arch] = os.path.join(CACHE, "debs", arch)
        r, took = timed(["bash", FETCH_DEBS, "--arch", arch, debdirs[arch]])
        timings.append("fetch-debs %s %.1f s" % (arch, took))
        expect("fetch-debs --arch %s %s (%s)" % (arch, debdirs[arch], r.stdout.strip().split(": ")[-1]),
               [] if r.returncode == 0 else ["exit %d: %s" % (r.returncode, r.stderr.strip())])
        if r.returncode:
            return
        payloads[arch] = os.path.join(work, "outputs-" + arch)
        r, took = timed([sys.executable, GEN, "--arch", arch, "--wheels-from", debdirs[arch], payloads[arch]])
        timings.append("gen-outputs --wheels-from %s %.1f s" % (arch, took))
        expect("gen-outputs --arch %s --wheels-from %s" % (arch, debdirs[arch]),
               [] if r.returncode == 0 else ["exit %d: %s" % (r.returncode, r.stderr.strip())])
        if r.returncode:
            return
        tags = "%s on cryptography, markupsafe, pyyaml, cffi" % PLATFORM[arch]
        expect("%s: pypi/ holds the 12 wheels with the debs' versions (%s; py3-none-any on the others), "
               "indexed with their sha256, RECORDs right, compiled modules for %s" % (arch, tags, arch),
               wheel_problems(payloads[arch], debdirs[arch], arch))
    r = run(["bash", FETCH_DEBS, "--arch", "amd64", debdirs["amd64"]])
    expect("fetch-debs again: nothing to do", [] if r.returncode == 0 and "nothing to do" in r.stdout
           else ["exit %d: %s%s" % (r.returncode, r.stdout, r.stderr)])
    fetch_debs_failure(work)

    versions = deb_versions(debdirs["amd64"])
    want = ["%s==%s" % (name, versions.get(deb)) for name, deb in (
        ("ansible-core", "ansible-core"), ("cryptography", "python3-cryptography"),
        ("jmespath", "python3-jmespath"), ("netaddr", "python3-netaddr"))]
    reqs = {arch: kubespray_requirements(payloads[arch]) for arch in payloads}
    expect("the kubespray tarball's requirements.txt is %s (the debs' versions, kubespray's comments)"
           % ", ".join(want), [] if requirement_lines(reqs["amd64"]) == want and reqs["amd64"].startswith(want[0])
           else ["requirements.txt:\n" + reqs["amd64"]])
    expect("arm64's requirements.txt names the same versions",
           [] if requirement_lines(reqs["arm64"]) == want else ["requirements.txt:\n" + reqs["arm64"]])

    again = os.path.join(work, "outputs-amd64-again")
    r = run([sys.executable, GEN, "--arch", "amd64", "--wheels-from", debdirs["amd64"], again])
    differ = [n for n in sorted(os.listdir(os.path.join(again, "pypi/files")))
              if sha256_file(os.path.join(again, "pypi/files", n)) !=
              sha256_file(os.path.join(payloads["amd64"], "pypi/files", n))] if r.returncode == 0 else [r.stderr]
    expect("deterministic: a second run gives byte-identical wheels", differ)
    shutil.rmtree(again)

    wheel_errors(work, debdirs)

    if native is None:
        print("ok - pip install of kubespray's requirements.txt # SKIP host architecture %s is neither amd64 "
              "nor arm64" % host)
    elif not os.access(VENV_PYTHON, os.X_OK) or run([VENV_PYTHON, "-c", "import ensurepip, venv"]).returncode:
        print("ok - pip install of kubespray's requirements.txt # SKIP %s has no venv and ensurepip "
              "(python3-venv; make deps)" % VENV_PYTHON)
    else:
        timings.append(install_and_run(work, payloads[native], reqs[native], debdirs[native], native, versions))
        timings.append(workspace(work, payloads[native], native, versions))
    if native is not None:
        timings.append(container_workspace(work, native, versions))
    print("# " + ", ".join(timings))


class Containerd:
    """A containerd of this test's own: its root, state and socket under DIR, no CRI plugin."""

    def __init__(self, d):
        self.sock = os.path.join(d, "containerd.sock")
        cfg = os.path.join(d, "config.toml")
        with open(cfg, "w") as f:
            f.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n'
                    'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s"\n'
                    % (d, d, self.sock))
        self.log = open(os.path.join(d, "containerd.log"), "w")
        self.proc = subprocess.Popen(["containerd", "-c", cfg], stdout=self.log, stderr=subprocess.STDOUT)
        env = dict(os.environ, CONTAINERD_ADDRESS=self.sock)
        deadline = time.monotonic() + 60
        while run(["ctr", "version"], env=env).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("containerd did not answer on %s: see %s" % (self.sock, self.log.name))
            time.sleep(0.2)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def container_workspace(work, arch, versions):
    """kubespray-offline's ansible_in_container: an outputs/ whose Ansible is a working image (Debian's
    Python, Ansible and SSH client unpacked, no pypi/). gapbox-kubespray init imports it into a
    containerd and exec runs Ansible in it, the workspace and the payload at their own paths."""
    if not shutil.which("containerd") or not shutil.which("ctr"):
        print("ok - Ansible in the payload's image through containerd # SKIP containerd is not installed "
              "(make deps)")
        return "containerd not installed"
    debdir = os.path.join(CACHE, "debs-ansible-image", arch)
    r, took = timed(["bash", FETCH_DEBS, "--arch", arch, "--list", "wheel-debs.list", "--list",
                     "ansible-image-debs.list", debdir])
    expect("fetch-debs --list wheel-debs.list --list ansible-image-debs.list: %s" % r.stdout.strip().split(": ")[-1],
           [] if r.returncode == 0 else ["exit %d: %s" % (r.returncode, r.stderr.strip())])
    if r.returncode:
        return "fetch-debs failed"
    payload = os.path.join(work, "outputs-in-container")
    r, took = timed([sys.executable, GEN, "--arch", arch, "--ansible-in-container", "--ansible-image-from", debdir,
                     payload])
    image = os.path.join(payload, "images/kubespray-offline-ansible.tar.gz")
    expect("gen-outputs --ansible-in-container --ansible-image-from: a working Ansible image, %.1f MB (%.1f s)"
           % (os.path.getsize(image) / 1e6 if os.path.exists(image) else 0, took),
           [] if r.returncode == 0 and not os.path.exists(os.path.join(payload, "pypi"))
           else ["exit %d: %s" % (r.returncode, r.stderr.strip())])
    if r.returncode:
        return "gen-outputs failed"
    record(payload, arch)
    root = os.path.join(work, "root-in-container")
    render(payload, root)
    node_files = os.path.join(root, "run/gapbox/www/gapbox")
    tool = os.path.join(work, "gapbox-kubespray")
    if not os.path.lexists(tool):
        os.symlink(FIRSTBOOT, tool)
    key = os.path.join(work, "key-in-container", "id_ed25519")
    ctd_dir = os.path.join(work, "containerd")
    os.makedirs(ctd_dir)
    ctd = Containerd(ctd_dir)
    ws = os.path.join(work, "ws-in-container")
    ks = os.path.join(ws, "kubespray-%s" % KS_VERSION["2.30"])
    env = clean_env(work, CONTAINERD_ADDRESS=ctd.sock)
    opts = ["--workspace", ws, "--payload", payload, "--node-files", node_files, "--ssh-key", key]
    try:
        r, took = timed([tool, "init"] + opts, env=env)
        ref = ""
        if os.path.exists(os.path.join(ws, ".gapbox-ansible-image")):
            ref = open(os.path.join(ws, ".gapbox-ansible-image")).read()
        listed = run(["ctr", "-n", "gapbox", "images", "ls", "-q"], env=env).stdout.split()
        problems = [] if r.returncode == 0 else ["exit %d: %s%s" % (r.returncode, r.stdout, r.stderr)]
        if ref != "docker.io/library/kubespray-offline-ansible:latest" or ref not in listed:
            problems.append("image %r, containerd has %r" % (ref, listed))
        if os.path.exists(os.path.join(ws, "venv")):
            problems.append("a venv was made")
        if not os.path.exists(os.path.join(ks, "inventory/mycluster/inventory.ini")):
            problems.append("no inventory/mycluster/inventory.ini")
        if "gapbox-kubespray exec ansible-playbook" not in r.stdout:
            problems.append("the next commands do not use exec: " + r.stdout)
        expect("init on an ansible_in_container payload: kubespray and the inventory in place, the image imported "
               "into containerd (namespace gapbox), no venv (%.1f s)" % took, problems)
        first = took

        want = "ansible [core %s]" % versions.get("ansible-core")
        r2 = run([tool] + opts + ["exec", "ansible", "--version"], env=env, cwd=work)
        problems = [] if r2.returncode == 0 else ["exit %d: %s%s" % (r2.returncode, r2.stdout, r2.stderr)]
        if want not in r2.stdout or "/usr/lib/python3/dist-packages/ansible" not in r2.stdout:
            problems.append("not the image's Ansible: " + r2.stdout)
        expect("exec ansible --version: %s, the image's (in /usr/lib/python3/dist-packages)" % want, problems)

        # A playbook of the workspace that reads the payload and writes into the workspace, run
        # from the kubespray folder: same paths inside as outside.
        with open(os.path.join(ks, "gapbox-test.yml"), "w") as f:
            f.write("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
                    "    - ansible.builtin.copy:\n        src: %s/config.sh\n        dest: %s/copied-config.sh\n"
                    % (payload, ws))
        r, took = timed([tool] + opts + ["exec", "ansible-playbook", "gapbox-test.yml"], env=env, cwd=ks)
        copied = os.path.join(ws, "copied-config.sh")
        same = os.path.exists(copied) and sha256_file(copied) == sha256_file(os.path.join(payload, "config.sh"))
        expect("exec ansible-playbook in the image: the workspace's playbook copies the payload's config.sh "
               "into the workspace (%.1f s)" % took,
               [] if r.returncode == 0 and same and "ok=1" in r.stdout and "changed=1" in r.stdout
               else ["exit %d: %s%s" % (r.returncode, r.stdout[-1500:], r.stderr[-1500:])])

        rel = opts[:-1] + ["id_ed25519"]  # a key named relative to the caller's folder: no folder mounted for it
        r = run([tool] + rel + ["exec", "ansible", "--version"], env=env, cwd=os.path.dirname(key))
        expect("exec with --ssh-key given as a relative name: runs, the key's folder not mounted",
               [] if r.returncode == 0 and want in r.stdout else ["exit %d: %s%s" % (r.returncode, r.stdout, r.stderr)])
        r, _ = timed([tool] + opts + ["exec", "/bin/sh"], env=env)
        expect("exec of a path is refused", [] if r.returncode == 2 and "expected a command name" in r.stderr
               else ["exit %d: %s" % (r.returncode, r.stderr)])
        r = run([tool] + opts + ["init"], env=env)
        expect("init again on the ansible_in_container payload", [] if r.returncode == 0
               else ["exit %d: %s" % (r.returncode, r.stderr)])
    finally:
        ctd.stop()
    # Without containerd the import fails, naming the archive and what to look at.
    r = run([tool, "init", "--workspace", os.path.join(work, "ws-no-containerd")] + opts[2:],
            env=clean_env(work, CONTAINERD_ADDRESS=os.path.join(ctd_dir, "gone.sock")))
    expect("init with no containerd answering: fails naming the image and containerd",
           [] if r.returncode != 0 and "kubespray-offline-ansible.tar.gz into containerd" in r.stderr
           else ["exit %d: %s" % (r.returncode, r.stderr)])
    return "init with the Ansible image %.1f s" % first


def install_and_run(work, payload, requirements, debdir, arch, versions):
    """A venv on this host, kubespray's requirements.txt installed from PAYLOAD's pypi/ over
    HTTP and nothing else, then Ansible run: the time pip took."""
    venv = os.path.join(work, "venv")
    req = os.path.join(work, "requirements.txt")
    with open(req, "w") as f:
        f.write(requirements)
    env = clean_env(work)
    r = run([VENV_PYTHON, "-m", "venv", venv], env=env)
    if r.returncode:
        expect("python3 -m venv", ["exit %d: %s" % (r.returncode, r.stderr)])
        return "pip install not run"
    server = PypiServer(os.path.join(payload, "pypi"), os.path.join(work, "http.log"))
    try:
        r, took = timed([os.path.join(venv, "bin/python"), "-m", "pip", "install", "--index-url", server.base,
                         "-r", req], env=env, cwd=work)
    finally:
        server.stop()
    with open(os.path.join(work, "http.log")) as f:
        served = f.read()
    problems = [] if r.returncode == 0 else ["exit %d:\n%s%s" % (r.returncode, r.stdout[-1500:], r.stderr[-1500:])]
    problems += ["%s was not fetched from the fixture's pypi/" % w for w in sorted(expected_wheels(debdir, arch))
                 if "/%s HTTP/" % w not in served]
    expect("pip install --index-url %s -r requirements.txt (no other index, PIP_NO_CACHE_DIR=1) in a %s venv "
           "installs every wheel from pypi/" % (server.base, VENV_PYTHON), problems)
    if problems:
        return "pip install %.1f s (failed)" % took
    py = os.path.join(venv, "bin/python")
    r = run([py, "-m", "pip", "check"], env=env)
    expect("pip check: no broken requirements", [] if r.returncode == 0 else [r.stdout + r.stderr])
    r = run([py, "-c", "from cryptography.hazmat.bindings.openssl.binding import Binding; Binding(); "
                       "from cryptography.fernet import Fernet; Fernet(Fernet.generate_key()).encrypt(b'x'); "
                       "import yaml, markupsafe._speedups, netaddr, jmespath; assert yaml.__with_libyaml__; "
                       "print(netaddr.IPNetwork('10.233.0.0/18')[1])"], env=env)
    expect("the compiled modules load: cryptography's OpenSSL binding (through cffi's _cffi_backend), "
           "PyYAML's libyaml, MarkupSafe's speedups; netaddr and jmespath work",
           [] if r.returncode == 0 and r.stdout.strip() == "10.233.0.1" else [r.stdout + r.stderr])

    home = os.path.join(work, "ansible")
    os.makedirs(home)
    cfg = os.path.join(home, "ansible.cfg")
    open(cfg, "w").close()
    aenv = clean_env(work, ANSIBLE_CONFIG=cfg, ANSIBLE_HOME=home, ANSIBLE_LOCAL_TEMP=os.path.join(home, "tmp"),
                     ANSIBLE_REMOTE_TEMP=os.path.join(home, "remote-tmp"), ANSIBLE_NOCOLOR="1")
    r = run([os.path.join(venv, "bin/ansible"), "--version"], env=aenv, cwd=home)
    first = r.stdout.splitlines()[0] if r.stdout else ""
    want = "ansible [core %s]" % versions.get("ansible-core")
    expect("ansible --version says %s, from the venv" % want,
           [] if r.returncode == 0 and first == want and venv in r.stdout else [r.stdout + r.stderr])
    r = run([os.path.join(venv, "bin/ansible"), "localhost", "-c", "local", "-m", "ping"], env=aenv, cwd=home)
    expect("ansible localhost -c local -m ping: SUCCESS, pong",
           [] if r.returncode == 0 and "localhost | SUCCESS" in r.stdout and '"ping": "pong"' in r.stdout
           else ["exit %d: %s%s" % (r.returncode, r.stdout, r.stderr)])
    return "pip install %.1f s" % took


def rewrite_deb(src, dst, control_edit):
    """DST: the deb SRC with its control file passed through CONTROL_EDIT (bytes -> bytes)."""
    with open(src, "rb") as f:
        blob = f.read()
    out, pos = [blob[:8]], 8
    while pos < len(blob):
        hdr, size = blob[pos:pos + 60], int(blob[pos + 48:pos + 58])
        name, data = hdr[:16].decode().strip(), blob[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
        if name.startswith("control.tar"):
            buf = io.BytesIO()
            with tarfile.open(fileobj=io.BytesIO(data)) as t, tarfile.open(fileobj=buf, mode="w:xz") as n:
                for m in t.getmembers():
                    f = t.extractfile(m) if m.isfile() else None
                    if m.name.lstrip("./") == "control":
                        text = control_edit(f.read())
                        m.size, f = len(text), io.BytesIO(text)
                    n.addfile(m, f)
            name, data = "control.tar.xz", buf.getvalue()
            hdr = ("%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name, 0, 0, 0, "100644", len(data))).encode()
        out += [hdr, data, b"\n" if len(data) % 2 else b""]
    with open(dst, "wb") as f:
        f.write(b"".join(out))


def fetch_debs_failure(work):
    """apt-get download failing (a stand-in on PATH): fetch-debs names the package and leaves
    neither DIR nor its temporary sibling."""
    shim = os.path.join(work, "shim")
    os.makedirs(shim)
    with open(os.path.join(shim, "apt-get"), "w") as f:
        f.write("#!/bin/sh\necho 'E: Failed to fetch http://deb.debian.org/debian/pool/main/a/ansible-core/"
                "(stand-in)  Connection failed' >&2\nexit 100\n")
    os.chmod(os.path.join(shim, "apt-get"), 0o755)
    debdir = os.path.join(work, "debs-unreachable")
    r = run(["bash", FETCH_DEBS, "--arch", "amd64", debdir],
            env=dict(os.environ, PATH=shim + os.pathsep + os.environ["PATH"]))
    left = [n for n in os.listdir(work) if n.startswith("debs-unreachable")]
    problems = [] if r.returncode == 1 and "cannot download ansible-core" in r.stderr and \
        "Connection failed" in r.stderr else ["exit %d: %s" % (r.returncode, r.stderr.strip())]
    problems += ["left behind: %s" % n for n in left]
    expect("fetch-debs when apt cannot download: an error naming the package, no DIR, no DIR.tmp-PID",
           problems)


def wheel_errors(work, debdirs):
    """Bad --wheels-from input: refused, the package or file named, no OUTDIR written."""
    def debdir_like(name, leave_out=(), add=()):
        d = os.path.join(work, name)
        os.makedirs(d)
        for n in os.listdir(debdirs["amd64"]):
            if not n.startswith(tuple(p + "_" for p in leave_out)):
                os.symlink(os.path.join(debdirs["amd64"], n), os.path.join(d, n))
        for path in add:
            os.symlink(path, os.path.join(d, os.path.basename(path)))
        return d

    arm_yaml = [n for n in os.listdir(debdirs["arm64"]) if n.startswith("python3-yaml_")][0]
    amd_yaml = [n for n in os.listdir(debdirs["amd64"]) if n.startswith("python3-yaml_")][0]
    cut = debdir_like("debs-cut", leave_out=["python3-yaml"])
    with open(os.path.join(debdirs["amd64"], amd_yaml), "rb") as f:
        data = f.read()
    with open(os.path.join(cut, amd_yaml), "wb") as f:
        f.write(data[:len(data) // 2])
    relabelled = debdir_like("debs-relabelled", leave_out=["python3-yaml"])
    rewrite_deb(os.path.join(debdirs["arm64"], arm_yaml), os.path.join(relabelled, amd_yaml),
                lambda c: c.replace(b"Architecture: arm64", b"Architecture: amd64"))
    cases = [
        ("a deb missing from DEBDIR", debdir_like("debs-no-ply", leave_out=["python3-ply"]),
         ["no .deb of python3-ply", "fetch-debs"]),
        ("a cut deb", cut, [os.path.join(cut, amd_yaml), "cut short"]),
        ("an arm64 deb among amd64 ones", debdir_like("debs-arm", leave_out=["python3-yaml"],
                                                      add=[os.path.join(debdirs["arm64"], arm_yaml)]),
         [arm_yaml, "Architecture arm64, not amd64"]),
        ("a deb labelled amd64 whose module is an arm64 ELF", relabelled,
         [amd_yaml, "_yaml.cpython-311-aarch64-linux-gnu.so is an ELF for arm64 (e_machine 183), not amd64"]),
    ]
    for name, debdir, want in cases:
        out = os.path.join(work, "outputs-refused")
        r = run([sys.executable, GEN, "--arch", "amd64", "--wheels-from", debdir, out])
        problems = [] if r.returncode == 1 and all(w in r.stderr for w in want) else \
            ["exit %d, wanted %r in: %s" % (r.returncode, want, r.stderr.strip())]
        if os.path.exists(out):
            problems.append("%s was written" % out)
        said = r.stderr.strip().replace(work + "/", "")
        expect("gen-outputs --wheels-from with %s is refused (%s)" % (name, said), problems)
    r = run([sys.executable, GEN, "--arch", "amd64", "--ansible-in-container", "--wheels-from", debdirs["amd64"],
             os.path.join(work, "outputs-refused")])
    expect("--wheels-from with --ansible-in-container is refused (that payload has no pypi/)",
           [] if r.returncode == 2 and "--ansible-in-container" in r.stderr else [r.stderr])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - a crash of the harness is a failure, reported like one
        print("not ok - kubespray download URL tests: %r" % e)
        print("kubespray: %d passed, %d failed" % (RESULTS.count(True), RESULTS.count(False) + 1))
        sys.exit(1)
