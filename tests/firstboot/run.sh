#!/bin/bash
# gapbox-firstboot tests: rendering against golden files (--root, nothing started), every rendered
# configuration through its daemon's own checker, the real daemons (named, nginx, docker-registry,
# chronyd) on 127.0.0.1 with test ports answering DNS, HTTP, pip, skopeo and NTP, the verify stage
# and its status, node-setup.sh on fake node roots, and bad input.
#
# Nothing here sends a packet anywhere but loopback: named runs with every remote server marked
# bogus and no forwarders, chronyd with no servers, and every daemon listens on 127.0.0.1 only.
# GAPBOX_UPDATE_GOLDEN=1 rewrites tests/firstboot/expected/ from the current output.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

# Belt and braces: where network namespaces are allowed, run in one of our own, which has
# nothing but loopback, so not even a mistake could send a packet out.
if [ -z "${GAPBOX_FIRSTBOOT_NETNS:-}" ] && unshare -n true 2>/dev/null; then
	export GAPBOX_FIRSTBOOT_NETNS=1
	exec unshare -n bash -c 'ip link set lo up && exec bash "$0"' "$PWD/tests/firstboot/run.sh"
fi

top=$PWD
fb=$top/build/host/gapbox-firstboot
here=$top/tests/firstboot
expected=$here/expected
work=$top/build/test/firstboot
passed=0 failed=0 skipped=0
pids=()

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1${2:+: $2}"; failed=$((failed + 1)); }
skip() { echo "ok - $1 # SKIP ${2:-}"; skipped=$((skipped + 1)); }
# check NAME CMD...: ok when CMD succeeds; its output is shown when it does not.
check() {
	local name=$1 out; shift
	if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$(printf '%s' "$out" | tail -n 15)"; fi
}
has() { command -v "$1" >/dev/null 2>&1; }

cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
	if [ -n "${overlay_mnt:-}" ] && mountpoint -q "$overlay_mnt"; then umount "$overlay_mnt"; fi
	if [ -n "${overlay_rw:-}" ] && mountpoint -q "$overlay_rw"; then umount "$overlay_rw"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -x "$fb" ]; then
	echo "not ok - $fb is not built (make build/host/gapbox-firstboot)"
	echo "firstboot: 0 passed, 1 failed"
	exit 1
fi
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"

nics=ens3=52:54:00:00:00:01,ens4=52:54:00:00:00:02
empty_cmdline=$work/cmdline-empty
: > "$empty_cmdline"
# full.yaml sets a password hash, so first boot makes the file it reads 0600: it reads a copy,
# and the tree's file keeps its mode.
full_yaml=$work/full.yaml
cp "$here/configs/full.yaml" "$full_yaml"

# render ROOT ARGS...: configure under ROOT with two NICs and no kernel parameters unless ARGS say.
render() {
	local root=$1; shift
	mkdir -p "$root"
	"$fb" configure --root "$root" --cmdline "$empty_cmdline" --interfaces "$nics" "$@"
}

# The files compared with the golden ones: the configurations and the node files, not the
# status (it names this run's paths) and not the last-good copy.
rendered_files() {
	(cd "$1" && find . -type f ! -path ./run/gapbox/status.json ! -path ./run/gapbox/www/index.html \
		! -path ./run/gapbox/banner ! -path './var/lib/gapbox/*' ! -path './etc/issue.d/*' | sed 's|^\./||' | sort)
}

# Modes of the rendered files, "MODE PATH" a line: git keeps only the executable bit of the
# golden files, so their modes are pinned in expected/NAME.modes instead.
rendered_modes() {
	(cd "$1" && rendered_files . | while read -r f; do echo "$(stat -c %a "$f") $f"; done)
}

# golden NAME ROOT: ROOT's rendered files are byte for byte those in expected/NAME.
golden() {
	local name=$1 root=$2 diffs
	if [ "${GAPBOX_UPDATE_GOLDEN:-0}" = 1 ]; then
		rm -rf "${expected:?}/$name"
		mkdir -p "$expected/$name"
		(cd "$root" && rendered_files . | while read -r f; do mkdir -p "$expected/$name/$(dirname "$f")"; cp -p "$f" "$expected/$name/$f"; done)
		rendered_modes "$root" > "$expected/$name.modes"
	fi
	if [ ! -d "$expected/$name" ]; then not_ok "golden $name" "no $expected/$name (GAPBOX_UPDATE_GOLDEN=1 makes it)"; return; fi
	diffs=$(diff <(rendered_files "$root") <(rendered_files "$expected/$name"))
	if [ -n "$diffs" ]; then not_ok "golden $name: same files" "$diffs"; return; fi
	diffs=$(rendered_files "$root" | while read -r f; do
		cmp -s "$root/$f" "$expected/$name/$f" || { echo "$f differs:"; diff -u "$expected/$name/$f" "$root/$f" | head -n 20; }
	done
	diff <(rendered_modes "$root") "$expected/$name.modes" | sed -n 's/^< /mode now: /p')
	if [ -n "$diffs" ]; then not_ok "golden $name: byte for byte" "$diffs"; else ok "golden $name: $(rendered_files "$root" | wc -l) files byte for byte"; fi
}

# checkers ROOT: each rendered configuration accepted by its daemon's own checker.
checkers() {
	local name=$1 root=$2 zone conf=$work/$1-named.conf
	# named.conf names its zone files by their path on the admin: point them into ROOT.
	sed "s#\"/etc/bind/gapbox/#\"$root/etc/bind/gapbox/#" "$root/etc/bind/named.conf" > "$conf"
	check "$name: named-checkconf -z accepts named.conf and its zones" named-checkconf -z "$conf"
	for zone in "$root"/etc/bind/gapbox/db.*; do
		check "$name: named-checkzone accepts ${zone##*/db.}" named-checkzone "${zone##*/db.}" "$zone"
	done
	check "$name: nft -c -f accepts nftables.conf" nft -c -f "$root/etc/nftables.conf"
	check "$name: chronyd -p accepts chrony.conf" chronyd -p -f "$root/etc/chrony/chrony.conf"
	# nginx -t binds its sockets: one wildcard socket per port, so no address needs to exist.
	# The dashboard's log is in the admin's run folder: here, beside the copy checked.
	sed "s#/run/gapbox/access.log#$root/site-access.log#" "$root/etc/nginx/nginx.conf" > "$root/nginx-t.conf"
	check "$name: nginx -t accepts nginx.conf" nginx -t -q -c "$root/nginx-t.conf"
	rm -f "$root/nginx-t.conf"
	check "$name: node-setup.sh is valid sh" sh -n "$root/run/gapbox/www/gapbox/node-setup.sh"
	if has shellcheck; then
		check "$name: shellcheck node-setup.sh" shellcheck -s sh "$root/run/gapbox/www/gapbox/node-setup.sh"
	fi
	if python3 -c 'import yaml' 2>/dev/null; then
		check "$name: offline.yml is YAML" python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' \
			"$root/run/gapbox/www/gapbox/offline.yml"
		check "$name: registry config.yml is YAML" python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' \
			"$root/etc/docker/registry/config.yml"
	else skip "$name: YAML syntax of offline.yml and config.yml" "python3-yaml is not installed"; fi
}

# status_field ROOT PYEXPR: evaluate PYEXPR with s = status.json, services by name in svc.
status_field() {
	python3 - "$1/run/gapbox/status.json" "$2" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
svc = {x["name"]: x for x in s["services"]}
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list)) or v is None else v)
EOF
}

# expect_status NAME ROOT PYEXPR: ok when PYEXPR is true of ROOT's status.
expect_status() {
	local out
	out=$(status_field "$2" "$3" 2>&1)
	if [ "$out" = True ]; then ok "$1"; else not_ok "$1" "$3 is $out; status: $(cat "$2/run/gapbox/status.json" 2>/dev/null | head -c 3000)"; fi
}

# ---------------------------------------------------------------- golden rendering and checkers

if [ -n "${GAPBOX_FIRSTBOOT_NETNS:-}" ]; then echo "# in a network namespace of its own: only loopback exists"
else echo "# no network namespaces here: the daemons listen on 127.0.0.1 and are configured to send nothing"; fi
echo "# rendering (--root) against golden files, and the daemons' own checkers"
root=$work/default
render "$root" --config "$top/overlay/etc/gapbox/appliance.yaml" > "$work/default.log" 2>&1
golden default "$root"
checkers default "$root"
expect_status "default: two NICs, ens3 external and ens4 internal, NAT on" "$root" \
	's["admin"]["internal"] == "ens4" and s["admin"]["external"] == "ens3" and s["admin"]["nat"] is True'

# The status names the file it loaded and its sha256, and whether that is the image's own copy
# (in the system image, /run/gapbox/system/etc/gapbox/appliance.yaml: the site configuration baked
# in, or the overlay's default), so the baked one is told from an edited one or the data partition's.
shipped=$top/overlay/etc/gapbox/appliance.yaml
shipped_sum=$(sha256sum < "$shipped" | cut -d' ' -f1)
expect_status "the status names the configuration loaded and its sha256 (no system image under --root: image_own null)" "$root" \
	"svc['config']['file'] == '$shipped' and svc['config']['sha256'] == '$shipped_sum' and svc['config']['image_own'] is None and '$shipped, sha256 $shipped_sum' in svc['config']['detail']"
root=$work/image-own
mkdir -p "$root/run/gapbox/system/etc/gapbox"
cp "$shipped" "$root/run/gapbox/system/etc/gapbox/appliance.yaml"
render "$root" --config "$shipped" > "$work/image-own.log" 2>&1
expect_status "the image's own configuration: the status says so" "$root" \
	"svc['config']['image_own'] is True and svc['config']['detail'].endswith(\"; the image's own\")"
render "$root" --config "$here/configs/nat-off.yaml" > "$work/image-edited.log" 2>&1
expect_status "an edited configuration: not the image's own, whose sha256 the status gives" "$root" \
	"svc['config']['image_own'] is False and svc['config']['sha256'] == '$(sha256sum < "$here/configs/nat-off.yaml" | cut -d' ' -f1)' and \"not the image's own (/run/gapbox/system/etc/gapbox/appliance.yaml has sha256 $shipped_sum)\" in svc['config']['detail']"
render "$root" --config /nonexistent.yaml > "$work/image-missing.log" 2>&1
expect_status "no configuration file: the defaults, no file and no sha256 in the status" "$root" \
	"svc['config']['file'] is None and svc['config']['sha256'] is None and svc['config']['image_own'] is None"

# full: with the payload record of a kubespray 2.31 fixture, as gapbox build writes it, so that
# offline.yml lists its download URLs.
root=$work/full
full_payload=$work/full-payload
if python3 "$top/tests/fixtures/gen-outputs" --arch amd64 --kubespray 2.31 "$full_payload" > "$work/full-payload.log" 2>&1 &&
	"$top/build/host/gapbox" check-outputs "$full_payload" --record "$full_payload/gapbox-payload.json" >> "$work/full-payload.log" 2>&1; then
	ok "full: the payload record of a kubespray 2.31 fixture"
else not_ok "full: the payload record of a kubespray 2.31 fixture" "$(tail -n 15 "$work/full-payload.log")"; fi
render "$root" --config "$full_yaml" --payload "$full_payload" > "$work/full.log" 2>&1
golden full "$root"
checkers full "$root"

root=$work/nat-off
render "$root" --config "$here/configs/nat-off.yaml" > "$work/nat-off.log" 2>&1
golden nat-off "$root"
checkers nat-off "$root"
if grep -q masquerade "$root/etc/nftables.conf" || ! grep -q '^net.ipv4.ip_forward = 0$' "$root/etc/sysctl.d/90-gapbox.conf"; then
	not_ok "nat: false removes the masquerade and switches forwarding off"
else ok "nat: false removes the masquerade and switches forwarding off"; fi

root=$work/one-nic
mkdir -p "$root"
"$fb" configure --root "$root" --cmdline "$empty_cmdline" --interfaces ens3=52:54:00:00:00:01 --config /nonexistent.yaml > "$work/one-nic.log" 2>&1
golden one-nic "$root"
checkers one-nic "$root"
expect_status "one NIC: internal only, NAT off, no error for it" "$root" \
	's["admin"]["internal"] == "ens3" and s["admin"]["external"] is None and s["admin"]["nat"] is False and svc["network"]["error"] is None and svc["nat"]["error"] is None'

# The target binaries render the same bytes (arm64 under qemu-user when it is there).
for arch in amd64 arm64; do
	target=$top/build/$arch/gapbox-firstboot runner=()
	[ -x "$target" ] || { skip "the $arch target binary renders like the host one" "build/$arch/gapbox-firstboot is not built"; continue; }
	if [ -n "$(find "$top/firstboot" "$top/lib" -newer "$target" -name '*.[ch]' | head -n 1)" ]; then
		skip "the $arch target binary renders like the host one" "build/$arch/gapbox-firstboot is older than its sources (make ARCH=$arch target)"
		continue
	fi
	if [ "$arch" != "$(dpkg --print-architecture)" ]; then
		if has "qemu-$( [ "$arch" = arm64 ] && echo aarch64 || echo x86_64)-static"; then
			runner=("qemu-$( [ "$arch" = arm64 ] && echo aarch64 || echo x86_64)-static")
		else skip "the $arch target binary renders like the host one" "no qemu-user"; continue; fi
	fi
	mkdir -p "$work/target-$arch"
	if "${runner[@]}" "$target" configure --root "$work/target-$arch" --cmdline "$empty_cmdline" --interfaces "$nics" \
		--config "$top/overlay/etc/gapbox/appliance.yaml" > "$work/target-$arch.log" 2>&1; then
		golden default "$work/target-$arch"
	else not_ok "the $arch target binary runs" "$(tail -n 5 "$work/target-$arch.log")"; fi
done

# Kernel parameters override the file.
root=$work/cmdline
echo 'quiet gapbox.address=10.1.2.3/16 gapbox.internal=52:54:00:00:00:01 gapbox.external=none gapbox.nat=1 gapbox.domain=k.lan gapbox.medium=LABEL=GAPBOX' > "$work/cmdline.txt"
render "$root" --config /nonexistent.yaml --cmdline "$work/cmdline.txt" > "$work/cmdline.log" 2>&1
golden cmdline "$root"
expect_status "kernel parameters override the configuration" "$root" \
	's["admin"]["cidr"] == "10.1.2.3/16" and s["admin"]["domain"] == "k.lan" and s["admin"]["internal"] == "ens3" and s["admin"]["external"] is None'
expect_status "gapbox.nat=1 without an external NIC: NAT stays off, and the status says why" "$root" \
	's["admin"]["nat"] is False and "no external interface" in svc["nat"]["error"]'

# Idempotence: a second run with the same input writes nothing.
root=$work/default
before=$(cd "$root" && find . -type f ! -path ./run/gapbox/status.json ! -path ./run/gapbox/www/index.html -printf '%p %T@\n' | sort)
sleep 1
render "$root" --config "$top/overlay/etc/gapbox/appliance.yaml" > "$work/default-again.log" 2>&1
after=$(cd "$root" && find . -type f ! -path ./run/gapbox/status.json ! -path ./run/gapbox/www/index.html -printf '%p %T@\n' | sort)
if grep -q ': wrote ' "$work/default-again.log" || [ "$before" != "$after" ]; then
	not_ok "a second run with the same configuration rewrites nothing" "$(grep ': wrote ' "$work/default-again.log")"
else ok "a second run with the same configuration rewrites nothing"; fi
# ... and a change rewrites only what it touches.
render "$root" --config "$here/configs/nat-off.yaml" > "$work/default-change.log" 2>&1
written=$(sed -n 's/^gapbox-firstboot: \([a-z]*\): wrote .*/\1/p' "$work/default-change.log" | sort -u | tr '\n' ' ')
if [ "$written" = "dns nat network nodes " ]; then ok "turning NAT off and adding nodes rewrites only network, nat, dns and nodes files"
else not_ok "turning NAT off and adding nodes rewrites only network, nat, dns and nodes files" "rewrote: $written"; fi

# The check stage: --check runs the same checkers before installing.
root=$work/checked
render "$root" --config "$full_yaml" --check > "$work/checked.log" 2>&1
if unshare -n true 2>/dev/null; then :; fi
expect_status "--check: nft, named, chronyd accept the rendered files before they are installed" "$root" \
	'all(svc[n]["error"] is None and svc[n]["configured"] for n in ("nat", "dns", "ntp"))'

# ---------------------------------------------------------------- bad input

echo "# bad input: a clear message in the status and on the console, and everything else still configured"

# bad_config NAME CONFIG PATTERN: the configuration is rejected with PATTERN (a FILE:LINE:COL
# message) on stderr and in the status, the defaults are used, and every service is configured.
bad_config() {
	local name=$1 config=$2 pattern=$3 root=$work/$1
	render "$root" --config "$config" > "$work/$name.log" 2>&1
	if ! grep -Eq -- "error: config: /.*/$pattern" "$work/$name.log"; then
		not_ok "$name: console says /$pattern/" "$(cat "$work/$name.log")"; return
	fi
	expect_status "$name: $(grep -Eo -- "$pattern.*" "$work/$name.log" | head -n 1 | cut -c1-110)" "$root" \
		"__import__('re').search(r'''$pattern''', svc['config']['error']) is not None and 'defaults' in svc['config']['detail'] and all(svc[n]['configured'] for n in ('network','nat','dns','ntp','http','registry','nodes'))"
	golden default "$root"
}
bad_config bad-syntax "$here/configs/bad-syntax.yaml" \
	"bad-syntax.yaml:4:7: did not find expected ',' or '\]' \(while parsing a flow sequence at line 3, column 8\)"
bad_config bad-key "$here/configs/bad-key.yaml" "bad-key.yaml:2:3: unknown key 'adress' in 'network', did you mean 'address'\?"
bad_config outside-subnet "$here/configs/outside-subnet.yaml" \
	"outside-subnet.yaml:7:14: nodes\[1\]\.address: 10\.9\.9\.9 is outside the internal subnet 192\.168\.10\.0/24"
# Secret lists: a bad push user or host key is named, its value never shown.
printf 'registry:\n  push_users: ["pusher:Corr3ct-Horse-Battery"]\n' > "$work/push-plain.yaml"
bad_config push-plain "$work/push-plain.yaml" \
	"push-plain.yaml:2:16: registry\.push_users: expected 'user:hash', .* got a value \(not shown\)"
printf 'access:\n  ssh_host_keys: ["Corr3ct-Horse-Battery"]\n' > "$work/host-key-bad.yaml"
bad_config host-key-bad "$work/host-key-bad.yaml" \
	"host-key-bad.yaml:2:19: access\.ssh_host_keys: expected an OpenSSH private key, .* got a value \(not shown\)"
if grep -rqF Corr3ct-Horse-Battery "$work/push-plain" "$work/host-key-bad" "$work/push-plain.log" "$work/host-key-bad.log"; then
	not_ok "secret lists: the value appears in the rendered tree or on the console"
else ok "secret lists: neither value appears in the rendered tree or on the console"; fi

# The last good configuration is kept over a bad edit.
root=$work/last-good
cp "$here/configs/good-before.yaml" "$work/appliance.yaml"
render "$root" --config "$work/appliance.yaml" > "$work/last-good-1.log" 2>&1
cp "$here/configs/outside-subnet.yaml" "$work/appliance.yaml"
render "$root" --config "$work/appliance.yaml" > "$work/last-good-2.log" 2>&1
expect_status "a bad edit keeps the last good configuration, and says so, naming it and its sha256" "$root" \
	's["admin"]["domain"] == "before.lan" and "last good" in svc["config"]["detail"] and "outside the internal subnet" in svc["config"]["error"] and svc["config"]["file"].endswith("/var/lib/gapbox/appliance.last-good.yaml") and svc["config"]["sha256"] == "'"$(sha256sum < "$here/configs/good-before.yaml" | cut -d' ' -f1)"'"'
if grep -q ': wrote ' "$work/last-good-2.log"; then not_ok "nothing is rewritten when the last good configuration is kept" "$(grep wrote "$work/last-good-2.log")"
else ok "nothing is rewritten when the last good configuration is kept"; fi

# A named NIC that does not exist: its role stays empty (never guessed), everything else works.
root=$work/missing-nic
render "$root" --config "$here/configs/missing-nic.yaml" > "$work/missing-nic.log" 2>&1
if grep -q "error: network: internal interface 'eth9' does not exist (interfaces found: ens3 (52:54:00:00:00:01), ens4 (52:54:00:00:00:02))" "$work/missing-nic.log"; then
	ok "missing NIC: the console names it and the NICs found"
else not_ok "missing NIC: the console names it and the NICs found" "$(cat "$work/missing-nic.log")"; fi
expect_status "missing NIC: in the status, no internal .network file, the other services configured" "$root" \
	"'eth9' in svc['network']['error'] and all(svc[n]['configured'] and svc[n]['error'] is None for n in ('dns','ntp','nodes'))"
[ ! -e "$root/etc/systemd/network/10-gapbox-internal.network" ] && ok "missing NIC: no guess at another interface" \
	|| not_ok "missing NIC: no guess at another interface" "$(cat "$root/etc/systemd/network/10-gapbox-internal.network")"

# A bad kernel parameter is ignored and named.
root=$work/bad-cmdline
echo 'gapbox.address=300.1.1.1/24 gapbox.nat=maybe' > "$work/bad-cmdline.txt"
render "$root" --config /nonexistent.yaml --cmdline "$work/bad-cmdline.txt" > "$work/bad-cmdline.log" 2>&1
expect_status "bad kernel parameters: named, ignored, the rest configured" "$root" \
	"'gapbox.address=300.1.1.1/24' in svc['config']['error'] and 'gapbox.nat=maybe' in svc['config']['error'] and s['admin']['cidr'] == '192.168.10.10/24'"

# Ports and the domain: each clash or bad name named at its FILE:LINE:COL with what is expected.
printf 'http:\n  port: 22\n' > "$work/port-ssh.yaml"
bad_config port-ssh "$work/port-ssh.yaml" \
	"port-ssh.yaml:2:9: http\.port: expected a port that nothing else on the admin listens on, got 22, which is sshd's \(SSH\)"
printf 'http:\n  port: 8080\nregistry:\n  port: 53\n' > "$work/port-dns.yaml"
bad_config port-dns "$work/port-dns.yaml" \
	"port-dns.yaml:4:9: registry\.port: expected a port that nothing else on the admin listens on, got 53, which is named's \(the dns service\)"
printf 'http:\n  port: 8080\nregistry:\n  port: 8080\n' > "$work/port-same.yaml"
bad_config port-same "$work/port-same.yaml" \
	"port-same.yaml:2:9: http\.port: expected a port that nothing else on the admin listens on, got 8080, which is nginx's \(registry\.port\)"
printf 'domain: com\n' > "$work/domain-tld.yaml"
bad_config domain-tld "$work/domain-tld.yaml" \
	"domain-tld.yaml:1:9: domain: expected a domain of at least two labels, like gapbox\.lan or site\.internal \(a top-level domain on its own is not the site's to serve\), got 'com"
root=$work/last-good-port
cp "$here/configs/good-before.yaml" "$work/appliance-port.yaml"
render "$root" --config "$work/appliance-port.yaml" > "$work/last-good-port-1.log" 2>&1
printf 'domain: after.lan\nhttp:\n  port: 22\n' > "$work/appliance-port.yaml"
render "$root" --config "$work/appliance-port.yaml" > "$work/last-good-port-2.log" 2>&1
expect_status "a port clash keeps the last good configuration, and says so" "$root" \
	's["admin"]["domain"] == "before.lan" and s["admin"]["http_port"] == 80 and "last good" in svc["config"]["detail"] and "got 22, which is sshd" in svc["config"]["error"]'

# Secrets: a password where its hash belongs is named, never shown: not in the message, nor
# anywhere under the root (status, page, last-good copy ...), nor on stdout/stderr (the journal).
# A configuration file that sets a secret is made 0600, and the status says so; the last-good
# copy is 0600. The files are copies: the mode rule would change the tree's.
root=$work/secret
cp "$here/configs/full.yaml" "$work/hash.yaml"
cp "$here/configs/nat-off.yaml" "$work/no-secret.yaml"
chmod 644 "$work/hash.yaml" "$work/no-secret.yaml"
render "$root" --config "$work/hash.yaml" > "$work/secret-1.log" 2>&1
if [ "$(stat -c %a "$work/hash.yaml")" = 600 ] && [ "$(stat -c %a "$root/var/lib/gapbox/appliance.last-good.yaml")" = 600 ]; then
	ok "a configuration with a password hash, mode 0644: made 0600; its last-good copy is 0600"
else not_ok "a configuration with a password hash is made 0600" "$(stat -c '%a %n' "$work/hash.yaml" "$root/var/lib/gapbox/appliance.last-good.yaml")"; fi
expect_status "the status says the configuration was made 0600, and why" "$root" \
	"'made $work/hash.yaml 0600: it sets access.root_password_hash, a secret, and group or others could read it (mode 0644)' in svc['config']['detail'] and svc['config']['error'] is None"
render "$work/no-secret" --config "$work/no-secret.yaml" > "$work/no-secret.log" 2>&1
[ "$(stat -c %a "$work/no-secret.yaml")" = 644 ] && ok "a configuration without a secret keeps its mode (0644)" \
	|| not_ok "a configuration without a secret keeps its mode" "$(stat -c %a "$work/no-secret.yaml")"
printf 'domain: plain.lan\naccess:\n  root_password_hash: "Corr3ct-Horse-Battery"\n' > "$work/plaintext.yaml"
chmod 644 "$work/plaintext.yaml"
render "$root" --config "$work/plaintext.yaml" > "$work/secret-2.log" 2>&1
pattern="plaintext\.yaml:3:23: access\.root_password_hash: expected a crypt\(3\) hash .*, never a plain password, got a value \(not shown\)"
if grep -Eq -- "error: config: /.*/$pattern" "$work/secret-2.log"; then ok "a plain password: the console names FILE:LINE:COL and what is expected, the value (not shown)"
else not_ok "a plain password: the console names it, (not shown)" "$(cat "$work/secret-2.log")"; fi
expect_status "a plain password: the status says the same, and the last good configuration is kept" "$root" \
	"__import__('re').search(r'''$pattern''', svc['config']['error']) is not None and 'last good' in svc['config']['detail'] and s['admin']['domain'] == 'site.example'"
[ "$(stat -c %a "$work/plaintext.yaml")" = 600 ] && ok "a plain password in the file: the file is made 0600 all the same" \
	|| not_ok "a plain password in the file: made 0600" "$(stat -c %a "$work/plaintext.yaml")"

# No payload: nginx and the registry still configured; the status says what is missing.
root=$work/no-payload
render "$root" --config /nonexistent.yaml --payload "$work/no-such-payload" > "$work/no-payload.log" 2>&1
expect_status "missing payload: named in the status for http and registry, both still configured" "$root" \
	"'no payload at' in svc['http']['error'] and 'no payload at' in svc['registry']['error'] and svc['http']['configured'] and svc['registry']['configured']"
grep -q "error: registry: no payload at $work/no-such-payload" "$work/no-payload.log" \
	&& ok "missing payload: on the console" || not_ok "missing payload: on the console" "$(cat "$work/no-payload.log")"

# ---------------------------------------------------------------- node-setup.sh

echo "# node-setup.sh on fake node roots (GAPBOX_NODE_ROOT: files only, no command that changes the system)"
node_setup=$work/nat-off/run/gapbox/www/gapbox/node-setup.sh
for distro in rocky ubuntu; do
	node=$work/node-$distro
	mkdir -p "$node/etc/NetworkManager" "$node/etc/yum.repos.d" "$node/etc/apt/sources.list.d"
	if [ "$distro" = rocky ]; then
		printf 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n' > "$node/etc/os-release"
		printf '[baseos]\nbaseurl=https://dl.rockylinux.org/\n' > "$node/etc/yum.repos.d/rocky.repo"
		conf=$node/etc/chrony.conf repo=$node/etc/yum.repos.d/gapbox.repo
	else
		printf 'ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n' > "$node/etc/os-release"
		printf 'deb http://archive.ubuntu.com/ubuntu noble main\n' > "$node/etc/apt/sources.list"
		printf 'Types: deb\n' > "$node/etc/apt/sources.list.d/ubuntu.sources"
		conf=$node/etc/chrony/chrony.conf repo=$node/etc/apt/sources.list.d/gapbox.list
	fi
	ln -sf ../run/systemd/resolve/stub-resolv.conf "$node/etc/resolv.conf"
	GAPBOX_NODE_ROOT=$node sh "$node_setup" > "$work/node-$distro-1.log" 2>&1
	rc1=$?
	snap1=$(cd "$node" && find . -printf '%p %s %m\n' | sort; cat "$node"/etc/resolv.conf)
	GAPBOX_NODE_ROOT=$node sh "$node_setup" > "$work/node-$distro-2.log" 2>&1
	rc2=$?
	snap2=$(cd "$node" && find . -printf '%p %s %m\n' | sort; cat "$node"/etc/resolv.conf)
	problems=""
	[ "$rc1" = 0 ] && [ "$rc2" = 0 ] || problems+="exit $rc1/$rc2; "
	grep -qx 'nameserver 192.168.10.10' "$node/etc/resolv.conf" || problems+="resolv.conf; "
	[ ! -L "$node/etc/resolv.conf" ] || problems+="resolv.conf still a symlink; "
	grep -qx 'dns=none' "$node/etc/NetworkManager/conf.d/99-gapbox-dns-none.conf" || problems+="NetworkManager dns=none; "
	grep -qx 'server 192.168.10.10 iburst' "$conf" || problems+="chrony; "
	grep -q 'http://192.168.10.10/\(rpms\|debs\)/local/' "$repo" || problems+="repo; "
	grep -qx 'index-url = http://192.168.10.10/pypi/' "$node/etc/pip.conf" || problems+="pip.conf; "
	for reg in 192.168.10.10:35000 docker.io registry-1.docker.io quay.io registry.k8s.io ghcr.io gcr.io; do
		grep -q '\[host."http://192.168.10.10:35000"\]' "$node/etc/containerd/certs.d/$reg/hosts.toml" 2>/dev/null &&
			grep -q 'capabilities = \["pull", "resolve"\]' "$node/etc/containerd/certs.d/$reg/hosts.toml" || problems+="certs.d/$reg; "
	done
	if [ "$distro" = rocky ]; then
		[ -e "$node/etc/yum.repos.d/gapbox-backup/rocky.repo" ] && [ ! -e "$node/etc/yum.repos.d/rocky.repo" ] || problems+="rocky.repo not parked; "
	else
		[ -e "$node/etc/apt/gapbox-backup/sources.list" ] && [ -e "$node/etc/apt/gapbox-backup/ubuntu.sources" ] || problems+="apt sources not parked; "
	fi
	[ "$snap1" = "$snap2" ] || problems+="second run changed files; "
	! grep -Eq 'wrote|moved|removed' "$work/node-$distro-2.log" || problems+="second run wrote: $(grep -E 'wrote|moved' "$work/node-$distro-2.log" | head -n 3); "
	if [ -z "$problems" ]; then ok "node-setup.sh on $distro: resolver, NetworkManager, repo, chrony, pip, 7 containerd mirrors; a second run changes nothing"
	else not_ok "node-setup.sh on $distro" "$problems $(cat "$work/node-$distro-1.log")"; fi
done

# The admin's SSH key for Ansible: none under --root unless one is there, and node-setup.sh then
# installs none; with one, node-setup.sh carries it and adds it once to root's authorized_keys,
# beside the keys already there.
if grep -q 'ADMIN_KEY=$' "$node_setup" && [ ! -e "$work/node-ubuntu/root/.ssh/authorized_keys" ] &&
	grep -q "carries no SSH key of the admin" "$work/node-ubuntu-1.log"; then
	ok "no admin key under --root: node-setup.sh installs none, and says so"
else not_ok "no admin key under --root: node-setup.sh installs none, and says so" "$(grep ADMIN_KEY "$node_setup")"; fi
if has ssh-keygen; then
	root=$work/with-key node=$work/node-key
	rm -rf "$root" "$node"
	mkdir -p "$root/root/.ssh" "$node/etc/apt/sources.list.d" "$node/root/.ssh"
	ssh-keygen -q -t ed25519 -N '' -C 'root@admin (gapbox, for Ansible)' -f "$root/root/.ssh/id_ed25519"
	render "$root" --config "$here/configs/nat-off.yaml" > "$work/with-key.log" 2>&1
	key=$(cat "$root/root/.ssh/id_ed25519.pub")
	printf 'ID=debian\nVERSION_ID="12"\n' > "$node/etc/os-release"
	printf 'root:x:0:0:root:/root:/bin/bash\n' > "$node/etc/passwd"
	echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorOwnKey operator@laptop' > "$node/root/.ssh/authorized_keys"
	GAPBOX_NODE_ROOT=$node GAPBOX_KEEP_REPOS=1 sh "$root/run/gapbox/www/gapbox/node-setup.sh" > "$work/node-key-1.log" 2>&1
	rc1=$?
	GAPBOX_NODE_ROOT=$node GAPBOX_KEEP_REPOS=1 sh "$root/run/gapbox/www/gapbox/node-setup.sh" > "$work/node-key-2.log" 2>&1
	rc2=$?
	problems=''
	[ "$rc1" = 0 ] && [ "$rc2" = 0 ] || problems+="exit $rc1/$rc2; "
	grep -qxF "ADMIN_KEY=\"$key\"" "$root/run/gapbox/www/gapbox/node-setup.sh" || problems+="node-setup.sh does not carry the key; "
	[ "$(grep -cxF "$key" "$node/root/.ssh/authorized_keys")" = 1 ] || problems+="the key is not in authorized_keys once; "
	grep -q 'operator@laptop' "$node/root/.ssh/authorized_keys" || problems+="the operator's key is gone; "
	[ "$(stat -c %a "$node/root/.ssh")/$(stat -c %a "$node/root/.ssh/authorized_keys")" = 700/600 ] || problems+="modes; "
	grep -q "added the admin's SSH key to /root/.ssh/authorized_keys" "$work/node-key-1.log" || problems+="first run silent; "
	! grep -q "added the admin's SSH key" "$work/node-key-2.log" || problems+="second run added it again; "
	if [ -z "$problems" ]; then ok "the admin's SSH key: carried by node-setup.sh, added once to root's authorized_keys beside the operator's"
	else not_ok "the admin's SSH key in node-setup.sh" "$problems $(cat "$work/node-key-1.log")"; fi
	if grep -qx 'index-url = http://127.0.0.1/pypi/' "$root/etc/pip.conf"; then ok "the admin's own pip.conf: its mirror on 127.0.0.1"
	else not_ok "the admin's own pip.conf: its mirror on 127.0.0.1" "$(cat "$root/etc/pip.conf")"; fi
	# access.node_ssh_user: the key goes to that user's home, and the inventory logs in as that
	# user and becomes root.
	root=$work/with-user node=$work/node-user
	rm -rf "$root" "$node"
	mkdir -p "$root/root/.ssh" "$node/etc/apt/sources.list.d" "$node/home/ansible"
	cp "$work/with-key/root/.ssh/id_ed25519" "$work/with-key/root/.ssh/id_ed25519.pub" "$root/root/.ssh/"
	render "$root" --config "$full_yaml" > "$work/with-user.log" 2>&1
	printf 'ID=debian\nVERSION_ID="12"\n' > "$node/etc/os-release"
	printf 'root:x:0:0:root:/root:/bin/bash\nansible:x:1000:1000::/home/ansible:/bin/sh\n' > "$node/etc/passwd"
	GAPBOX_NODE_ROOT=$node GAPBOX_KEEP_REPOS=1 sh "$root/run/gapbox/www/gapbox/node-setup.sh" > "$work/node-user.log" 2>&1
	rc1=$?
	inv=$root/run/gapbox/www/gapbox/inventory.ini
	problems=''
	[ "$rc1" = 0 ] || problems+="exit $rc1; "
	grep -qx 'SSH_USER=ansible' "$root/run/gapbox/www/gapbox/node-setup.sh" || problems+="node-setup.sh: $(grep SSH_USER= "$root/run/gapbox/www/gapbox/node-setup.sh"); "
	[ "$(grep -cxF "$key" "$node/home/ansible/.ssh/authorized_keys" 2>/dev/null)" = 1 ] || problems+="the key is not in /home/ansible/.ssh/authorized_keys; "
	[ ! -e "$node/root/.ssh/authorized_keys" ] || problems+="the key went to root too; "
	grep -q "Ansible logs in as ansible" "$work/node-user.log" || problems+="not said; "
	sed -n '/^\[all:vars\]$/,/^$/p' "$inv" | grep -qx 'ansible_user=ansible' || problems+="inventory has no ansible_user=ansible in [all:vars]; "
	grep -qx 'ansible_become=true' "$inv" || problems+="inventory does not become root; "
	if [ -z "$problems" ]; then ok "access.node_ssh_user: the admin's key for that user, and an inventory that logs in as it and becomes root"
	else not_ok "access.node_ssh_user" "$problems $(cat "$work/node-user.log" "$work/with-user.log")"; fi
else skip "the admin's SSH key in node-setup.sh" "ssh-keygen is not installed"; fi

# The old mirror list lacked k8s.gcr.io, which the build strips like the others.
for distro in rocky ubuntu; do
	if grep -q '\[host."http://192.168.10.10:35000"\]' "$work/node-$distro/etc/containerd/certs.d/k8s.gcr.io/hosts.toml" 2>/dev/null; then
		ok "node-setup.sh on $distro: k8s.gcr.io is mirrored to the admin too"
	else not_ok "node-setup.sh on $distro: k8s.gcr.io is mirrored to the admin too"; fi
done

# A download cut short changes nothing: node-setup.sh cut at every line boundary, and at every
# byte of its last line, run with sh on a fake node whose commands are stubs that log each call
# before running the real one. None is called, and no file appears; the whole script, on the
# same node and stubs, calls them and writes its files.
stubs=$work/node-stubs
node=$work/node-cut
rm -rf "$stubs" "$node"
mkdir -p "$stubs" "$node/etc/NetworkManager" "$node/etc/yum.repos.d"
printf 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n' > "$node/etc/os-release"
for c in cat chmod cp dirname mkdir mv rm id ip nmcli systemctl dnf yum apt-get sed head grep chronyd; do
	printf '#!/bin/sh\necho "${0##*/} $*" >> "$STUB_LOG"\nPATH=$REAL_PATH exec "${0##*/}" "$@"\n' > "$stubs/$c"
	chmod 755 "$stubs/$c"
done
# cut_run FILE: run FILE as a node would, with the stubs first on PATH.
cut_run() {
	local real=$PATH
	STUB_LOG=$work/node-cut.calls REAL_PATH=$real PATH=$stubs:$real GAPBOX_NODE_ROOT=$node sh "$1" > "$work/node-cut.out" 2>&1
}
: > "$work/node-cut.calls"
before=$(cd "$node" && find . | sort)
lines=$(wc -l < "$node_setup") size=$(wc -c < "$node_setup") last=$(tail -n 1 "$node_setup" | wc -c)
problems="" cuts=0
for n in $(seq 0 $((lines - 1))); do
	head -n "$n" "$node_setup" > "$work/node-cut.sh"
	cut_run "$work/node-cut.sh"
	cuts=$((cuts + 1))
	[ -s "$work/node-cut.calls" ] && { problems+="the first $n lines called: $(head -n 3 "$work/node-cut.calls"); "; break; }
done
for n in $(seq $((size - last)) $((size - 2))); do
	head -c "$n" "$node_setup" > "$work/node-cut.sh"
	cut_run "$work/node-cut.sh"
	cuts=$((cuts + 1))
	[ -s "$work/node-cut.calls" ] && { problems+="the first $n bytes called: $(head -n 3 "$work/node-cut.calls"); "; break; }
done
grep -q 'error: this copy of node-setup.sh is cut short' "$work/node-cut.out" || problems+="the last cut did not say it is cut short: $(cat "$work/node-cut.out"); "
[ "$(cd "$node" && find . | sort)" = "$before" ] || problems+="files changed: $(cd "$node" && find . | sort | diff - <(echo "$before") | head -n 5); "
cut_run "$node_setup"
grep -q '^mkdir ' "$work/node-cut.calls" && [ -e "$node/etc/yum.repos.d/gapbox.repo" ] || problems+="the whole script, with the stubs, did not run: $(cat "$work/node-cut.out"); "
if [ -z "$problems" ]; then ok "node-setup.sh cut short ($cuts cuts: every line boundary, every byte of the last line) runs no command and writes nothing"
else not_ok "node-setup.sh cut short runs nothing" "$problems"; fi

# ---------------------------------------------------------------- real daemons on loopback

echo "# the real daemons on 127.0.0.1 with test ports, on the rendered configurations"
free_port() {
	python3 - <<'EOF'
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port)); print(port); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
EOF
}
# wait_for NAME CMD...: up to 15 s for CMD to succeed; says what it gave up waiting for.
wait_for() {
	local name=$1 _
	shift
	for _ in $(seq 1 75); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
	echo "# gave up after 15 s waiting for $name" >&2
	return 1
}

run=$work/daemons
payload=$run/payload
root=$run/root
mkdir -p "$run"
chmod 755 "$run"
payload_rec=$run/payload-record-only
python3 "$here/make-payload.py" "$payload" "$run/oci" "$payload_rec" > "$run/payload.log" 2>&1 || not_ok "fixture payload" "$(cat "$run/payload.log")"
seed_port=$(free_port)
# The payload's registry store, filled the way the image build fills it: pushed to a registry of
# its own, before the site is rendered (nginx refuses pushes over the tags it finds there).
if has docker-registry && has skopeo; then
	printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
		"$payload/registry" "$seed_port" > "$run/seed.yml"
	docker-registry serve "$run/seed.yml" > "$run/seed.log" 2>&1 &
	seed_pid=$!
	pids+=("$seed_pid")
	if wait_for seed curl -fsS "http://127.0.0.1:$seed_port/v2/"; then
		while read -r dir name; do
			skopeo copy --quiet --dest-tls-verify=false "oci:$dir" "docker://127.0.0.1:$seed_port/$name" >> "$run/seed.log" 2>&1 ||
				not_ok "seeding $name" "$(tail -n 5 "$run/seed.log")"
		done < "$run/oci/seed.list"
	fi
	kill "$seed_pid"; wait "$seed_pid" 2>/dev/null
fi
render "$root" --config "$here/configs/push.yaml" --payload "$payload" > "$run/configure.log" 2>&1

# A registry that only the payload record strips (the profile's extra one at build time): the
# nodes mirror it to the admin, and (with the registry up, below) the image listed under it is found.
root_rec=$run/root-record-only
render "$root_rec" --config "$here/configs/nat-off.yaml" --payload "$payload_rec" > "$run/configure-record-only.log" 2>&1
node=$work/node-record-only
mkdir -p "$node/etc"
printf 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n' > "$node/etc/os-release"
GAPBOX_NODE_ROOT=$node sh "$root_rec/run/gapbox/www/gapbox/node-setup.sh" > "$work/node-record-only.log" 2>&1
if grep -q '^MIRRORS=".* registry.gapbox.test"$' "$root_rec/run/gapbox/www/gapbox/node-setup.sh" &&
	grep -q '^  - prefix: "registry.gapbox.test"$' "$root_rec/run/gapbox/www/gapbox/offline.yml" &&
	grep -q '\[host."http://192.168.10.10:35000"\]' "$node/etc/containerd/certs.d/registry.gapbox.test/hosts.toml" 2>/dev/null; then
	ok "a registry named only in the payload record is among the node mirrors (node-setup.sh, offline.yml)"
else not_ok "a registry named only in the payload record is among the node mirrors" \
	"$(grep MIRRORS= "$root_rec/run/gapbox/www/gapbox/node-setup.sh"; cat "$work/node-record-only.log")"; fi
# The node OS the payload's repositories are for comes from its record into node-setup.sh: the
# fixture payload's are for debian and rhel, the record-only payload's for rhel9 (el9 rpms) only.
rec_setup=$root_rec/run/gapbox/www/gapbox/node-setup.sh
if grep -qx 'REPOS="debian rhel"' "$root/run/gapbox/www/gapbox/node-setup.sh" && grep -qx 'REPOS="rhel9"' "$rec_setup" &&
	grep -q 'http://192.168.10.10/rpms/local/' "$node/etc/yum.repos.d/gapbox.repo" 2>/dev/null; then
	ok "node-setup.sh gets the payload record's node OS (REPOS=\"rhel9\"), and a Rocky 9 node takes the repository"
else not_ok "node-setup.sh gets the payload record's node OS" \
	"$(grep -h '^REPOS=' "$root/run/gapbox/www/gapbox/node-setup.sh" "$rec_setup"; cat "$work/node-record-only.log")"; fi
# A node whose OS the payload has no repository for is refused before anything changes, naming
# what the payload has; with --keep-repos it is set up with its own sources.
for os in 'ID=ubuntu ID_LIKE=debian VERSION_ID="24.04"' 'ID="rocky" ID_LIKE="rhel centos fedora" VERSION_ID="8.9"'; do
	node=$work/node-refused
	rm -rf "$node"
	mkdir -p "$node/etc/apt" "$node/etc/yum.repos.d"
	printf '%s\n' "$os" | sed 's/ \([A-Z_]*=\)/\n\1/g' > "$node/etc/os-release"
	printf 'deb http://archive.ubuntu.com/ubuntu noble main\n' > "$node/etc/apt/sources.list"
	printf '[baseos]\nbaseurl=https://dl.rockylinux.org/\n' > "$node/etc/yum.repos.d/rocky.repo"
	name=$(. "$node/etc/os-release"; echo "$ID $VERSION_ID")
	before=$(cd "$node" && find . -printf '%p %s\n' | sort)
	GAPBOX_NODE_ROOT=$node sh "$rec_setup" > "$work/node-refused.log" 2>&1
	rc=$?
	after=$(cd "$node" && find . -printf '%p %s\n' | sort)
	if [ "$rc" = 1 ] && [ "$before" = "$after" ] &&
		grep -q "error: the payload's package repositories are for rhel9 (REPOS in this script), not for this $name node; nothing was changed" "$work/node-refused.log"; then
		ok "node-setup.sh refuses a $name node (the payload has rhel9 only), changing nothing"
	else not_ok "node-setup.sh refuses a $name node" "exit $rc; $(cat "$work/node-refused.log")"; fi
	GAPBOX_NODE_ROOT=$node sh "$rec_setup" --keep-repos > "$work/node-keep.log" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -q "warning: .*not for this $name node: the node keeps its own package sources" "$work/node-keep.log" &&
		[ -e "$node/etc/apt/sources.list" ] && [ -e "$node/etc/yum.repos.d/rocky.repo" ] &&
		[ ! -e "$node/etc/apt/sources.list.d/gapbox.list" ] && [ ! -e "$node/etc/yum.repos.d/gapbox.repo" ] &&
		grep -qx 'nameserver 192.168.10.10' "$node/etc/resolv.conf"; then
		ok "node-setup.sh --keep-repos on a $name node: set up, its own sources kept, none from the admin"
	else not_ok "node-setup.sh --keep-repos on a $name node" "exit $rc; $(cat "$work/node-keep.log")"; fi
done
GAPBOX_NODE_ROOT=$node sh "$rec_setup" --keep-rpos > "$work/node-badarg.log" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q 'unknown argument --keep-rpos (expected --keep-repos)' "$work/node-badarg.log" &&
	ok "node-setup.sh: an unknown argument is refused" || not_ok "node-setup.sh: an unknown argument is refused" "exit $rc; $(cat "$work/node-badarg.log")"

dns_port=$(free_port) ntp_port=$(free_port) http_port=$(free_port) reg_port=$(free_port)
lo_port=$(free_port)

# named: the rendered named.conf with its zones, state in the test folder, loopback only.
if has named; then
	mkdir -p "$run/named"
	sed -e "s#\"/etc/bind/gapbox/#\"$root/etc/bind/gapbox/#" \
		-e "s#directory \"/var/cache/bind\";#directory \"$run/named\"; pid-file none; session-keyfile none;#" \
		-e 's#listen-on { 127.0.0.1; [0-9.]*; };#listen-on { 127.0.0.1; };#' \
		-e 's#listen-on-v6 { ::1; };#listen-on-v6 { none; };#' "$root/etc/bind/named.conf" > "$run/named.conf"
	if grep -Eq '^\s*forwarders' "$run/named.conf" || ! grep -q 'server 0.0.0.0/0 { bogus yes; };' "$run/named.conf"; then
		not_ok "named test configuration has no forwarders and every remote server bogus"
	else
		named -c "$run/named.conf" -f -p "$dns_port" -u root -n 1 > "$run/named.log" 2>&1 &
		pids+=($!)
		if wait_for named dig +short +time=1 +tries=1 -p "$dns_port" @127.0.0.1 admin.gapbox.lan; then
			check "dig: admin.gapbox.lan is 192.168.10.10" test "$(dig +short -p "$dns_port" @127.0.0.1 admin.gapbox.lan)" = 192.168.10.10
			check "dig: registry.gapbox.lan is 192.168.10.10" test "$(dig +short -p "$dns_port" @127.0.0.1 registry.gapbox.lan)" = 192.168.10.10
			check "dig: k8s-node2.gapbox.lan is 192.168.10.12" test "$(dig +short -p "$dns_port" @127.0.0.1 k8s-node2.gapbox.lan)" = 192.168.10.12
			check "dig: 192.168.10.11 is k8s-node1.gapbox.lan (reverse zone)" test "$(dig +short -p "$dns_port" @127.0.0.1 -x 192.168.10.11)" = k8s-node1.gapbox.lan.
			check "dig: a name outside the site fails at once (air gap, nothing sent out)" \
				sh -c "dig +time=3 +tries=1 -p $dns_port @127.0.0.1 kubernetes.io | grep -q 'status: SERVFAIL'"
		else
			not_ok "named answers on 127.0.0.1:$dns_port" "$(tail -n 20 "$run/named.log")"
		fi
	fi
else skip "named" "bind9 is not installed"; fi

# nginx: the rendered nginx.conf, serving the fixture payload and the rendered node files.
if has nginx; then
	mkdir -p "$run/nginx"
	# The catch-all server moves to another loopback address, to see it answer nothing.
	sed -e "s#listen 80 default_server;#listen 127.0.0.2:$http_port default_server;#" \
		-e "s#listen 127.0.0.1:80;#listen 127.0.0.1:$http_port;#" -e '/listen [0-9.]*:80;/d' \
		-e "s#^pid .*#pid $run/nginx/nginx.pid;#" -e "s#/var/log/nginx/#$run/nginx/#" -e "s#/run/gapbox/access.log#$run/nginx/site.log#" \
		-e "s#/run/gapbox/payload/#$payload/#" -e "s#/run/gapbox/www#$root/run/gapbox/www#" \
		-e "s#/run/gapbox/status.json#$root/run/gapbox/status.json#" \
		-e "s#listen 35000 default_server;#listen 127.0.0.2:$reg_port default_server;#" \
		-e "s#listen 127.0.0.1:35000;#listen 127.0.0.1:$lo_port;#" -e "s#listen 192.168.10.10:35000;#listen 127.0.0.1:$reg_port;#" \
		-e "s#unix:/run/gapbox/registry/registry.sock#unix:$run/registry/registry.sock#" \
		-e "s#/etc/nginx/gapbox-registry.htpasswd#$root/etc/nginx/gapbox-registry.htpasswd#" "$root/etc/nginx/nginx.conf" > "$run/nginx.conf"
	nginx -c "$run/nginx.conf" -g 'daemon off;' > "$run/nginx/stdout.log" 2>&1 &
	pids+=($!)
	base=http://127.0.0.1:$http_port
	if wait_for nginx curl -fsS "$base/"; then
		check "curl /: the status page" sh -c "curl -fsS $base/ | grep -q 'gapbox admin server 192.168.10.10/24'"
		check "nginx answers nothing on addresses other than the internal one and loopback" \
			sh -c "! curl -sS -o /dev/null http://127.0.0.2:$http_port/ 2>/dev/null"
		check "curl /status.json" sh -c "curl -fsS $base/status.json | python3 -c 'import json,sys; json.load(sys.stdin)'"
		check "curl /files/: autoindex lists kubernetes/" sh -c "curl -fsS $base/files/ | grep -q 'kubernetes/'"
		check "curl /files/kubernetes/v1.33.7/kubectl" sh -c "curl -fsS $base/files/kubernetes/v1.33.7/kubectl | grep -q v1.33.7"
		check "curl /images/images.list" sh -c "curl -fsS $base/images/images.list | grep -q '^registry.k8s.io/pause:3.10$'"
		check "curl /rpms/local/repodata/repomd.xml" curl -fsS -o /dev/null "$base/rpms/local/repodata/repomd.xml"
		check "curl /debs/local/Packages" curl -fsS -o /dev/null "$base/debs/local/Packages"
		for f in offline.yml inventory.ini pip.conf node-setup.sh; do
			check "curl /gapbox/$f is the rendered file" sh -c "curl -fsS $base/gapbox/$f | cmp -s - '$root/run/gapbox/www/gapbox/$f'"
		done
		check "curl /gapbox/node-setup.sh is text/plain" sh -c "curl -fsSI $base/gapbox/node-setup.sh | grep -qi '^content-type: text/plain'"
		if python3 -m pip --version >/dev/null 2>&1; then
			check "pip download --index-url $base/pypi/ gbtest-pkg" env -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL \
				python3 -m pip download --isolated --disable-pip-version-check --no-cache-dir --no-deps \
				--index-url "$base/pypi/" -d "$run/pip" gbtest-pkg
			[ -e "$run/pip/gbtest_pkg-1.0-py3-none-any.whl" ] && ok "pip fetched the wheel from the mirror" || not_ok "pip fetched the wheel from the mirror"
		else skip "pip download" "python3-pip is not installed"; fi
	else
		not_ok "nginx serves 127.0.0.1:$http_port" "$(cat "$run/nginx/error.log" "$run/nginx/stdout.log" 2>/dev/null | tail -n 20)"
	fi
else skip "nginx" "nginx is not installed"; fi

# docker-registry: the store is seeded the way the image build fills it (pushed, then served
# read-only from the payload), then served on the rendered config.yml, on its unix socket, behind
# the nginx above: 127.0.0.1:$lo_port is its loopback listener, 127.0.0.1:$reg_port stands in
# for the internal address.
if has docker-registry && has skopeo && has nginx; then

	store=$payload/registry
	reg_user=root
	# On the admin the store is an overlay (payload read-only, tmpfs on top, owned by the
	# registry's user but for the pre-filled tags, which stay root's): do the same here when
	# mounts are allowed, and run as that user.
	overlay_rw=$run/registry-rw overlay_mnt=$run/registry-merged
	mkdir -p "$overlay_rw" "$overlay_mnt"
	if getent passwd docker-registry >/dev/null && mount -t tmpfs tmpfs "$overlay_rw" 2>/dev/null; then
		mkdir -p "$overlay_rw/upper" "$overlay_rw/work"
		chown docker-registry: "$overlay_rw/upper"
		chmod -R a-w "$store"
		if mount -t overlay overlay -o "lowerdir=$store,upperdir=$overlay_rw/upper,workdir=$overlay_rw/work,metacopy=on" "$overlay_mnt"; then
			find "$overlay_mnt" -path '*/_manifests/tags/*' -prune -o -exec chown docker-registry: {} + -exec chmod u+w {} +
			store=$overlay_mnt reg_user=docker-registry
		fi
	fi
	# The socket's folder and the password file as gapbox-firstboot makes them: the registry's,
	# and root's, in nginx's group.
	chgrp www-data "$root/etc/nginx/gapbox-registry.htpasswd"
	mkdir -p "$run/registry"
	chown "$reg_user:www-data" "$run/registry" && chmod 2750 "$run/registry"
	sed -e "s#addr: .*#addr: $run/registry/registry.sock#" -e "s#rootdirectory: .*#rootdirectory: $store#" \
		"$root/etc/docker/registry/config.yml" > "$run/registry.yml"
	chmod 644 "$run/registry.yml"
	(umask 0007 && exec setpriv --reuid="$reg_user" --regid="$reg_user" --clear-groups docker-registry serve "$run/registry.yml") \
		> "$run/registry.log" 2>&1 &
	reg_pid=$!
	pids+=("$reg_pid")
	reg=127.0.0.1:$reg_port lo=127.0.0.1:$lo_port
	if wait_for registry curl -fsS "http://$reg/v2/_catalog" && wait_for "the registry on loopback" curl -fsS "http://$lo/v2/"; then
		check "the internal listener asks for credentials at /v2/ (push users are set), loopback does not" \
			sh -c "[ \"\$(curl -s -o /dev/null -w %{http_code} http://$reg/v2/)\" = 401 ] && curl -fsS -o /dev/null http://$lo/v2/"
		check "skopeo inspect docker://$reg/library/nginx:1.29.2 (docker.io/library/nginx:1.29.2), no credentials" \
			skopeo inspect --tls-verify=false "docker://$reg/library/nginx:1.29.2"
		check "skopeo inspect docker://$reg/pause:3.10 (registry.k8s.io/pause:3.10)" \
			skopeo inspect --tls-verify=false "docker://$reg/pause:3.10"
		check "the catalog lists the pre-filled repositories" sh -c "curl -fsS http://$reg/v2/_catalog | grep -q '\"pause\"'"
		[ "$reg_user" = docker-registry ] && ok "the registry runs as docker-registry over an overlay of the read-only store" \
			|| skip "registry over an overlay" "mounts are not allowed here"
		check "docker-registry listens on its socket only, nginx on the registry port" \
			sh -c "[ -S '$run/registry/registry.sock' ] && [ \"\$(stat -c %G:%a '$run/registry/registry.sock')\" = www-data:770 ] && ! ss -ltnp | grep -q docker-registry"
		check "skopeo copy to $lo without credentials (a push on the admin itself)" \
			skopeo copy --quiet --dest-tls-verify=false "oci:$run/oci/0" "docker://$lo/admin/pushed:1"
		check "the image pushed on 127.0.0.1 is pulled from the internal address (one storage)" \
			skopeo inspect --tls-verify=false "docker://$reg/admin/pushed:1"
		# refused WHAT MESSAGE SKOPEO-ARGS...: the push fails, saying MESSAGE, and changes nothing.
		refused() {
			local what=$1 message=$2 out before after
			shift 2
			before=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$reg/pause:3.10" 2>&1)
			if out=$(skopeo copy --quiet --dest-tls-verify=false "$@" 2>&1); then
				not_ok "$what: refused" "the push worked"
				return
			fi
			after=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$reg/pause:3.10" 2>&1)
			if printf '%s' "$out" | grep -q "$message" && [ "$before" = "$after" ]; then
				ok "$what: refused ($(printf '%s' "$out" | grep -o "$message" | head -n 1)), pause:3.10 still $after"
			else not_ok "$what: refused, saying '$message'" "$out; pause:3.10 was $before, now $after"; fi
		}
		refused "a push over a pre-filled tag on the admin itself" "pre-filled from the payload" \
			"oci:$run/oci/0" "docker://$lo/pause:3.10"
		refused "a push from the network without credentials" "401 Unauthorized\|unauthorized" \
			"oci:$run/oci/0" "docker://$reg/site/app:1"
		refused "a push from the network with a wrong password" "401 Unauthorized\|unauthorized" \
			--dest-creds pusher:wrong "oci:$run/oci/0" "docker://$reg/site/app:1"
		refused "a push over a pre-filled tag from the network, with credentials" "pre-filled from the payload" \
			--dest-creds pusher:gapbox-test-push "oci:$run/oci/0" "docker://$reg/pause:3.10"
		check "a push from the network with registry.push_users' credentials, to a new name" \
			skopeo copy --quiet --dest-tls-verify=false --dest-creds pusher:gapbox-test-push "oci:$run/oci/0" "docker://$reg/site/app:1"
		check "the pre-filled tag's files are root's in the store" \
			sh -c "[ \"\$(stat -c %U '$store/docker/registry/v2/repositories/pause/_manifests/tags/3.10/current/link')\" = root ]"
	else
		not_ok "docker-registry serves $reg and $lo through nginx" "$(tail -n 20 "$run/registry.log" "$run/nginx/error.log" 2>/dev/null)"
	fi
else skip "docker-registry" "docker-registry, skopeo or nginx is not installed"; fi

# registry.tls: the site CA and the registry's certificate made the way first boot makes them
# (tls-init under a root), nginx with the rendered TLS listeners in front of the registry above,
# and node-setup.sh installing the CA on a node.
echo "# the registry over TLS with the site CA"
tls_root=$work/tls
tls_dir=$tls_root/var/lib/gapbox/tls
if "$fb" tls-init --root "$tls_root" --config "$here/configs/tls.yaml" > "$work/tls-init.log" 2>&1 &&
	[ "$(stat -c %a "$tls_dir")" = 700 ] && [ "$(stat -c %a "$tls_dir/ca.key")" = 600 ] && [ "$(stat -c %a "$tls_dir/registry.key")" = 600 ]; then
	ok "tls-init: the site CA and the registry's certificate in /var/lib/gapbox/tls (0700, keys 0600)"
else not_ok "tls-init" "$(cat "$work/tls-init.log"; ls -la "$tls_dir" 2>&1)"; fi
check "the registry's certificate names registry.gapbox.lan, admin.gapbox.lan, 192.168.10.10 and 127.0.0.1 and is the CA's" \
	sh -c "openssl x509 -in '$tls_dir/registry.crt' -noout -ext subjectAltName | grep -q 'DNS:registry.gapbox.lan, DNS:admin.gapbox.lan, IP Address:192.168.10.10, IP Address:127.0.0.1' && openssl verify -CAfile '$tls_dir/ca.crt' '$tls_dir/registry.crt'"
ca_sha=$(sha256sum < "$tls_dir/ca.crt" | cut -d' ' -f1)
cert_sha=$(sha256sum < "$tls_dir/registry.crt" | cut -d' ' -f1)
"$fb" tls-init --root "$tls_root" --config "$here/configs/tls.yaml" > "$work/tls-init2.log" 2>&1
if [ "$(sha256sum < "$tls_dir/ca.crt" | cut -d' ' -f1)" = "$ca_sha" ] && [ "$(sha256sum < "$tls_dir/registry.crt" | cut -d' ' -f1)" = "$cert_sha" ]; then
	ok "tls-init again: the same CA and certificate"
else not_ok "tls-init again keeps the CA and the certificate"; fi
sed 's/^network:/domain: other.lan\nnetwork:/' "$here/configs/tls.yaml" > "$work/tls-other.yaml"
"$fb" tls-init --root "$tls_root" --config "$work/tls-other.yaml" > "$work/tls-init3.log" 2>&1
if [ "$(sha256sum < "$tls_dir/ca.crt" | cut -d' ' -f1)" = "$ca_sha" ] &&
	openssl x509 -in "$tls_dir/registry.crt" -noout -ext subjectAltName | grep -q 'DNS:registry.other.lan'; then
	ok "another domain: the same CA, a new certificate for the new names"
else not_ok "another domain renews the certificate only" "$(cat "$work/tls-init3.log")"; fi
"$fb" tls-init --root "$tls_root" --config "$here/configs/tls.yaml" > "$work/tls-init4.log" 2>&1

# A site CA the configuration supplies: used as it is; one whose key is not its certificate's is
# refused by name, the key never shown.
supplied_yaml() { # CERT KEY
	cat "$here/configs/tls.yaml"
	printf '  tls_ca_cert: |\n'; sed 's/^/    /' "$1"
	printf '  tls_ca_key: |\n'; sed 's/^/    /' "$2"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/site-ca.key" -out "$work/site-ca.crt" \
	-days 30 -subj /CN=supplied > /dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/stray.key" -out "$work/stray.crt" \
	-days 1 -subj /CN=stray > /dev/null 2>&1
supplied_yaml "$work/site-ca.crt" "$work/site-ca.key" > "$work/tls-supplied.yaml"
if "$fb" tls-init --root "$work/tls-supplied" --config "$work/tls-supplied.yaml" > "$work/tls-supplied.log" 2>&1 &&
	cmp -s "$work/tls-supplied/var/lib/gapbox/tls/ca.crt" "$work/site-ca.crt" &&
	openssl verify -CAfile "$work/site-ca.crt" "$work/tls-supplied/var/lib/gapbox/tls/registry.crt" > /dev/null 2>&1; then
	ok "registry.tls_ca_cert and _key: the supplied CA signs the registry's certificate"
else not_ok "a supplied site CA" "$(cat "$work/tls-supplied.log")"; fi
supplied_yaml "$work/site-ca.crt" "$work/stray.key" > "$work/tls-stray.yaml"
stray_line=$(sed -n 2p "$work/stray.key")
if ! "$fb" tls-init --root "$work/tls-stray" --config "$work/tls-stray.yaml" > "$work/tls-stray.log" 2>&1 &&
	grep -q 'is registry.tls_ca_key the key of registry.tls_ca_cert?' "$work/tls-stray.log" &&
	! grep -qF "$stray_line" "$work/tls-stray.log" && [ ! -e "$work/tls-stray/var/lib/gapbox/tls/registry.crt" ]; then
	ok "a supplied key that is not the CA's: refused by name, no certificate, the key not shown"
else not_ok "a supplied key that is not the CA's is refused" "$(cat "$work/tls-stray.log")"; fi

render "$tls_root" --config "$here/configs/tls.yaml" --payload "$payload" > "$work/tls-configure.log" 2>&1
tls_conf=$tls_root/etc/nginx/nginx.conf tls_www=$tls_root/run/gapbox/www/gapbox
check "nginx.conf: the registry's listeners with ssl, TLS 1.2 and 1.3, the pair from /var/lib/gapbox/tls" \
	sh -c "grep -q 'listen 127.0.0.1:35000 ssl;' '$tls_conf' && grep -q 'listen 192.168.10.10:35000 ssl;' '$tls_conf' && grep -q 'ssl_protocols TLSv1.2 TLSv1.3;' '$tls_conf' && [ \"\$(grep -c 'ssl_certificate /var/lib/gapbox/tls/registry.crt;' '$tls_conf')\" = 2 ]"
check "ca.crt is published for the nodes, and node-setup.sh carries its sha256" \
	sh -c "cmp -s '$tls_www/ca.crt' '$tls_dir/ca.crt' && grep -qx 'CA_SHA256=$ca_sha' '$tls_www/node-setup.sh' && grep -qx 'REGISTRY_TLS=1' '$tls_www/node-setup.sh'"
check "offline.yml: https mirrors, no insecure registries" \
	sh -c "grep -q 'host: \"https://{{ registry_host }}\"' '$tls_www/offline.yml' && ! grep -q 'http://{{ registry_host }}' '$tls_www/offline.yml' && grep -qx 'crio_insecure_registries: \[\]' '$tls_www/offline.yml' && grep -qx 'docker_insecure_registries: \[\]' '$tls_www/offline.yml'"
check "the status shows the CA's sha256" \
	sh -c "grep -q 'has sha256 $ca_sha' '$tls_root/run/gapbox/status.json'"
# The check stage on a machine without the registry's pair (it is made on the admin, before
# rendering): nginx -t vets the rest with a throwaway pair in its place.
if has nginx && [ ! -e /var/lib/gapbox/tls/registry.crt ]; then
	render "$work/tls-check" --config "$here/configs/tls.yaml" --payload "$payload" --check > "$work/tls-check.log" 2>&1
	expect_status "--check with registry.tls and no pair here: nginx -t accepts nginx.conf" "$work/tls-check" \
		'svc["http"]["error"] is None and svc["http"]["configured"]'
fi
if has shellcheck; then check "tls: shellcheck node-setup.sh" shellcheck -s sh "$tls_www/node-setup.sh"; fi
if python3 -c 'import yaml' 2>/dev/null; then
	check "tls: offline.yml is YAML" python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$tls_www/offline.yml"
fi

if has nginx; then
	tls_port=$(free_port) tls_lo_port=$(free_port)
	mkdir -p "$work/tls-nginx"
	# The rendered server blocks, on test ports, with the pair from the root and the registry above.
	sed -e "s#/var/lib/gapbox/tls/#$tls_dir/#" -e "s#listen 80 default_server;#listen 127.0.0.2:$(free_port) default_server;#" \
		-e "s#listen 127.0.0.1:80;#listen 127.0.0.1:$(free_port);#" -e '/listen [0-9.]*:80;/d' \
		-e "s#^pid .*#pid $work/tls-nginx/nginx.pid;#" -e "s#/var/log/nginx/#$work/tls-nginx/#" -e "s#/run/gapbox/access.log#$work/tls-nginx/site.log#" \
		-e "s#listen 35000 default_server;#listen 127.0.0.2:$tls_port default_server;#" \
		-e "s#listen 127.0.0.1:35000 ssl;#listen 127.0.0.1:$tls_lo_port ssl;#" -e "s#listen 192.168.10.10:35000 ssl;#listen 127.0.0.1:$tls_port ssl;#" \
		-e "s#unix:/run/gapbox/registry/registry.sock#unix:$run/registry/registry.sock#" "$tls_conf" > "$work/tls-nginx.conf"
	check "tls: nginx -t accepts nginx.conf with the registry's pair" nginx -t -q -c "$work/tls-nginx.conf"
	nginx -c "$work/tls-nginx.conf" -g 'daemon off;' > "$work/tls-nginx/stdout.log" 2>&1 &
	pids+=($!)
	mkdir -p "$work/tls-certs" "$work/tls-nocerts"
	cp "$tls_www/ca.crt" "$work/tls-certs/ca.crt"
	if has skopeo && [ -S "$run/registry/registry.sock" ] && wait_for "nginx over TLS" curl -fsS --cacert "$tls_dir/ca.crt" "https://127.0.0.1:$tls_port/v2/_catalog"; then
		check "skopeo inspect --cert-dir (the site CA) docker://127.0.0.1:$tls_port/pause:3.10 over TLS" \
			skopeo inspect --cert-dir "$work/tls-certs" "docker://127.0.0.1:$tls_port/pause:3.10"
		check "skopeo inspect over TLS on the loopback listener" \
			skopeo inspect --cert-dir "$work/tls-certs" "docker://127.0.0.1:$tls_lo_port/pause:3.10"
		if out=$(skopeo inspect --cert-dir "$work/tls-nocerts" "docker://127.0.0.1:$tls_port/pause:3.10" 2>&1); then
			not_ok "skopeo without the site CA fails" "it worked"
		elif printf '%s' "$out" | grep -q 'certificate signed by unknown authority'; then
			ok "skopeo without the site CA fails: certificate signed by unknown authority"
		else not_ok "skopeo without the site CA fails with a certificate error" "$out"; fi
		check "TLS 1.1 is refused" sh -c "! curl -sS --cacert '$tls_dir/ca.crt' --tls-max 1.1 -o /dev/null https://127.0.0.1:$tls_port/v2/ 2>/dev/null"
		# verify asks over https, trusting the site CA under the root: every listed image but the
		# one never pushed is found.
		"$fb" verify --root "$tls_root" --probe 127.0.0.1 --port "dns=$dns_port" --port "ntp=$ntp_port" \
			--port "http=$http_port" --port "registry=$tls_port" --port "registry-loopback=$tls_lo_port" > "$work/tls-verify.log" 2>&1
		expect_status "verify over https with the site CA: the registry answers on both listeners, images found" "$tls_root" \
			'svc["registry"]["images"] == 4 and svc["registry"]["missing_images"] == ["quay.io/calico/node:v3.30.5"] and "loopback" not in (svc["registry"]["error"] or "")'
	else skip "skopeo over TLS" "skopeo, the registry or nginx over TLS is not there: $(tail -n 5 "$work/tls-nginx/error.log" 2>/dev/null)"; fi
else skip "nginx over TLS" "nginx is not installed"; fi

# node-setup.sh on a node: fetches the CA, checks it against CA_SHA256, installs it for containerd
# and the system; a CA that differs changes nothing.
tls_node=$work/tls-node
mkdir -p "$tls_node/etc"
printf 'ID=debian\nVERSION_ID="12"\n' > "$tls_node/etc/os-release"
if GAPBOX_NODE_ROOT=$tls_node GAPBOX_CA_URL=file://$tls_www/ca.crt GAPBOX_KEEP_REPOS=1 sh "$tls_www/node-setup.sh" > "$work/tls-node.log" 2>&1 &&
	cmp -s "$tls_node/etc/containerd/certs.d/192.168.10.10:35000/ca.crt" "$tls_dir/ca.crt" &&
	cmp -s "$tls_node/etc/containerd/certs.d/docker.io/ca.crt" "$tls_dir/ca.crt" &&
	cmp -s "$tls_node/usr/local/share/ca-certificates/gapbox-site-ca.crt" "$tls_dir/ca.crt" &&
	grep -q "has sha256 $ca_sha" "$work/tls-node.log"; then
	ok "node-setup.sh installs the site CA for containerd and the trust store, and prints its sha256"
else not_ok "node-setup.sh installs the site CA" "$(cat "$work/tls-node.log")"; fi
expected_hosts='server = "https://192.168.10.10:35000"

[host."https://192.168.10.10:35000"]
  capabilities = ["pull", "resolve"]
  skip_verify = false
  ca = "/etc/containerd/certs.d/192.168.10.10:35000/ca.crt"'
if [ "$(cat "$tls_node/etc/containerd/certs.d/192.168.10.10:35000/hosts.toml" 2>/dev/null)" = "$expected_hosts" ] &&
	grep -q 'ca = "/etc/containerd/certs.d/quay.io/ca.crt"' "$tls_node/etc/containerd/certs.d/quay.io/hosts.toml" &&
	grep -q '^\[host."https://192.168.10.10:35000"\]' "$tls_node/etc/containerd/certs.d/quay.io/hosts.toml"; then
	ok "hosts.toml: https://ADMIN:PORT with ca = the installed CA"
else not_ok "hosts.toml with https and ca =" "$(cat "$tls_node/etc/containerd/certs.d/192.168.10.10:35000/hosts.toml" 2>&1)"; fi
tls_node2=$work/tls-node-wrong
mkdir -p "$tls_node2/etc"
cp "$tls_node/etc/os-release" "$tls_node2/etc/"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/other-ca.key" -out "$work/other-ca.crt" \
	-days 1 -subj /CN=other > /dev/null 2>&1
before=$(find "$tls_node2" | sort)
if ! GAPBOX_NODE_ROOT=$tls_node2 GAPBOX_CA_URL=file://$work/other-ca.crt GAPBOX_KEEP_REPOS=1 sh "$tls_www/node-setup.sh" > "$work/tls-node-wrong.log" 2>&1 &&
	grep -q "not $ca_sha (CA_SHA256 in this script); nothing was changed" "$work/tls-node-wrong.log" &&
	[ "$(find "$tls_node2" | sort)" = "$before" ]; then
	ok "node-setup.sh refuses a CA whose sha256 is not the one it carries, and changes nothing"
else not_ok "node-setup.sh refuses another CA" "$(cat "$work/tls-node-wrong.log")"; fi

# chronyd: the rendered chrony.conf (no servers, local stratum 10) on a test port, clock untouched.
if has chronyd; then
	if grep -Eq '^(server|pool|peer|sourcedir)' "$root/etc/chrony/chrony.conf"; then
		not_ok "chrony test configuration has no upstream servers"
	else
		{ grep -Ev '^(driftfile|ntsdumpdir|logdir|rtcsync)' "$root/etc/chrony/chrony.conf"
		  printf 'port %s\nbindaddress 127.0.0.1\ncmdport 0\npidfile %s/chronyd.pid\n' "$ntp_port" "$run"; } > "$run/chrony.conf"
		chronyd -f "$run/chrony.conf" -x -d -u root > "$run/chronyd.log" 2>&1 &
		pids+=($!)
		ntp_query() {
			python3 - "$ntp_port" <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
q = bytes([0x23]) + bytes(39) + os.urandom(8)
s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
a, _ = s.recvfrom(512)
assert a[0] & 7 == 4 and a[24:32] == q[40:48], "not a server reply"
print(a[1])
EOF
		}
		if wait_for chronyd ntp_query; then
			check "chronyd answers an NTP query at stratum 10 (local clock)" test "$(ntp_query)" = 10
		else not_ok "chronyd answers NTP on 127.0.0.1:$ntp_port" "$(tail -n 10 "$run/chronyd.log")"; fi
	fi
else skip "chronyd" "chrony is not installed"; fi

# ---------------------------------------------------------------- verify and status

echo "# the verify stage against those daemons"
verify() {
	"$fb" verify --root "$root" --probe 127.0.0.1 --port "dns=$dns_port" --port "ntp=$ntp_port" \
		--port "http=${1:-$http_port}" --port "registry=$reg_port" --port "registry-loopback=$lo_port"
}
verify > "$run/verify.log" 2>&1
expect_status "verify: dns, ntp, http running and verified, the registry running; node files served" "$root" \
	'all(svc[n]["running"] and svc[n]["verified"] for n in ("dns", "ntp", "http")) and svc["registry"]["running"] and svc["nodes"]["verified"]'
expect_status "verify: the image never pushed is named missing, the others pullable" "$root" \
	'svc["registry"]["missing_images"] == ["quay.io/calico/node:v3.30.5"] and svc["registry"]["images"] == 4 and "quay.io/calico/node:v3.30.5" in svc["registry"]["error"]'
"$fb" --status --root "$root" > "$run/status.txt" 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q 'gapbox admin server 192.168.10.10/24 (admin.gapbox.lan): NOT HEALTHY' "$run/status.txt" &&
	[ "$(grep -Ec '^  (config|network|nat|dns|ntp|http|registry|nodes|access) ' "$run/status.txt")" = 9 ] &&
	cmp -s "$run/status.txt" "$root/run/gapbox/banner"; then
	ok "--status: the banner's table (address, one line per service), exit 1 while an image is missing"
else not_ok "--status table and exit code" "exit $rc: $(cat "$run/status.txt")"; fi
grep -q 'curl -fsSo node-setup.sh http://192.168.10.10/gapbox/node-setup.sh && echo "[0-9a-f]\{64\}  node-setup.sh" | sha256sum -c && sudo sh node-setup.sh' "$root/run/gapbox/banner" &&
	grep -q 'nobody can log in' "$root/run/gapbox/banner" && grep -q 'NOT HEALTHY' "$root/etc/issue.d/gapbox.issue" &&
	ok "banner: the node command, the login hint, and /etc/issue.d/gapbox.issue" || not_ok "banner contents" "$(cat "$root/run/gapbox/banner")"

# node-setup.sh's sha256, as the banner, --status, the status page and status.json show it, is
# the served file's; the node command, pointed at the test nginx, downloads it, checks it and
# runs it, and refuses a file that differs from what the status shows.
if [ -n "${base:-}" ] && curl -fsS "$base/" > /dev/null 2>&1; then
	served=$(curl -fsS "$base/gapbox/node-setup.sh" | sha256sum | cut -d' ' -f1)
	problems=""
	grep -q "^Nodes:  node-setup.sh has sha256 $served; " "$root/run/gapbox/banner" || problems+="banner; "
	grep -q "^Nodes:  node-setup.sh has sha256 $served; " "$run/status.txt" || problems+="--status; "
	curl -fsS "$base/" | grep -q "has sha256 <code>$served</code>" || problems+="status page; "
	[ "$(status_field "$root" 's["admin"]["node_setup_sha256"]')" = "$served" ] || problems+="status.json; "
	if [ -z "$problems" ]; then ok "node-setup.sh's sha256 on the banner, --status, the status page and status.json is the served file's"
	else not_ok "node-setup.sh's sha256 shown is the served file's ($served)" "$problems"; fi

	node=$work/node-command
	rm -rf "$node" "$run/node-command"
	mkdir -p "$node/etc" "$run/node-command"
	printf 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n' > "$node/etc/os-release"
	command=$(status_field "$root" 's["admin"]["node_command"]')
	command=${command//http:\/\/192.168.10.10/$base}
	command=${command//sudo sh node-setup.sh/GAPBOX_NODE_ROOT=$node sh node-setup.sh}
	if (cd "$run/node-command" && eval "$command") > "$run/node-command.log" 2>&1 &&
		grep -qx 'nameserver 192.168.10.10' "$node/etc/resolv.conf"; then
		ok "the node command downloads node-setup.sh, checks its sha256 and runs it"
	else not_ok "the node command" "$command: $(cat "$run/node-command.log")"; fi
	served_file=$root/run/gapbox/www/gapbox/node-setup.sh
	cp -p "$served_file" "$run/node-setup.sh.good"
	sed -i 's/^NAT=.*/NAT=1/; $a echo tampered' "$served_file"
	rm -rf "$node/etc/resolv.conf" "$run/node-command"
	mkdir -p "$run/node-command"
	if ! (cd "$run/node-command" && eval "$command") > "$run/node-tampered.log" 2>&1 &&
		grep -q 'FAILED' "$run/node-tampered.log" && [ ! -e "$node/etc/resolv.conf" ]; then
		ok "the node command refuses a node-setup.sh that differs from the one the status shows, and runs nothing"
	else not_ok "the node command refuses a changed node-setup.sh" "$(cat "$run/node-tampered.log")"; fi
	cp -p "$run/node-setup.sh.good" "$served_file"
else skip "node-setup.sh's sha256 against the served file" "nginx is not running"; fi

# A plain password in the configuration: not on the banner, /etc/issue.d or the status that
# verify writes either, nor in anything else under that root or on its stdout/stderr.
"$fb" verify --root "$work/secret" --probe 127.0.0.1 --port "dns=$dns_port" --port "ntp=$ntp_port" \
	--port "http=$http_port" --port "registry=$reg_port" > "$run/verify-secret.log" 2>&1
"$fb" --status --root "$work/secret" > "$run/status-secret.txt" 2>&1
leaks=$(grep -rl 'Corr3ct' "$work/secret" "$work"/secret-*.log "$run/verify-secret.log" "$run/status-secret.txt")
if [ -z "$leaks" ] && [ -s "$work/secret/run/gapbox/banner" ] && [ -s "$work/secret/etc/issue.d/gapbox.issue" ] &&
	grep -q 'got a value (not shown)' "$run/status-secret.txt"; then
	ok "a plain password: '(not shown)' on --status; the password nowhere under the root (banner, issue.d, status, page, last-good copy) nor on stdout/stderr"
else not_ok "a plain password is shown somewhere" "${leaks:-$(cat "$run/status-secret.txt")}"; fi

# Pushing after deploy works, and the image check then passes: healthy, exit 0.
if [ -e "$run/oci/0/index.json" ] && skopeo copy --quiet --dest-tls-verify=false "oci:$run/oci/0" "docker://$lo/calico/node:v3.30.5" > "$run/push.log" 2>&1; then
	ok "a push after deploy is accepted (calico/node:v3.30.5, on the admin itself)"
	skopeo copy --quiet --dest-tls-verify=false "docker://$reg/pause:3.10" "docker://$lo/pause:retagged" --src-tls-verify=false >> "$run/push.log" 2>&1 &&
		ok "a pre-filled image can be tagged again" || not_ok "a pre-filled image can be tagged again" "$(tail -n 5 "$run/push.log")"
	verify > "$run/verify2.log" 2>&1
	"$fb" status --root "$root" > "$run/status2.txt" 2>&1
	rc=$?
	if [ "$rc" = 0 ] && grep -q ': healthy$' "$run/status2.txt"; then ok "--status: healthy, exit 0, once every image is there"
	else not_ok "--status healthy" "exit $rc: $(cat "$run/status2.txt")"; fi
else not_ok "a push after deploy is accepted" "$(tail -n 5 "$run/push.log" 2>/dev/null)"; fi

# The image listed under the registry that only the payload record strips is found: its list
# line maps to the name it was pushed under.
if has docker-registry && has skopeo; then
	"$fb" verify --root "$root_rec" --probe 127.0.0.1 --port "dns=$dns_port" --port "ntp=$ntp_port" \
		--port "http=$http_port" --port "registry=$reg_port" > "$run/verify-record-only.log" 2>&1
	expect_status "verify: the image under a registry named only in the payload record is found" "$root_rec" \
		'svc["registry"]["images"] == 1 and svc["registry"]["missing_images"] == [] and svc["registry"]["verified"]'
else skip "verify with a registry named only in the payload record" "docker-registry or skopeo is not installed"; fi

# A port already taken: another program holds the HTTP port; the status names it, and every
# other service is still running and verified.
taken_port=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(600)' "$taken_port" &
pids+=($!)
wait_for squatter sh -c "ss -ltn | grep -q '127.0.0.1:$taken_port '"
verify "$taken_port" > "$run/verify-taken.log" 2>&1
expect_status "port taken: the status names the program holding it; dns, ntp, registry still verified" "$root" \
	"'port $taken_port/tcp on 127.0.0.1 is taken by python3' in svc['http']['error'] and 'not nginx' in svc['http']['error'] and all(svc[n]['verified'] for n in ('dns', 'ntp', 'registry'))"
grep -q "ERROR: port $taken_port/tcp on 127.0.0.1 is taken by python3" "$run/verify-taken.log" &&
	ok "port taken: on the console" || not_ok "port taken: on the console" "$(cat "$run/verify-taken.log")"

# No payload at all: the registry still starts (empty storage) and answers; the status says why
# no images were checked.
root_np=$work/no-payload
"$fb" verify --root "$root_np" --probe 127.0.0.1 --port "dns=$dns_port" --port "ntp=$ntp_port" \
	--port "http=$http_port" --port "registry=$reg_port" > "$run/verify-np.log" 2>&1
expect_status "missing payload: registry and nginx still running, the status says the payload is missing" "$root_np" \
	"svc['registry']['running'] and svc['http']['running'] and 'no payload at' in svc['registry']['error'] and s['healthy'] is False"

# The registry down behind nginx: verify says nginx answers for it with an error.
if [ -n "${reg_pid:-}" ]; then
	kill "$reg_pid"; wait "$reg_pid" 2>/dev/null
	verify > "$run/verify-no-registry.log" 2>&1
	expect_status "registry down behind nginx: not verified, the error says what nginx answered" "$root" \
		"'answered 502' in svc['registry']['error'] and svc['registry']['verified'] is False"
fi

echo "firstboot: $passed passed, $failed failed${skipped:+, $skipped skipped}"
[ "$failed" = 0 ]
