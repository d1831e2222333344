#!/bin/bash
# End to end: build the admin image (fixture payload, boot probe, a node in its
# appliance.yaml) and the test node image with the same builder, boot both under QEMU on one
# internal network with qemu/site, and require every node check, and a push to the registry on
# 127.0.0.1 on the admin itself, to pass. For amd64 the admin boots with gapbox.toram, and its CD
# is ejected through the QEMU monitor once it is healthy: it must stay healthy, and the node's
# checks (a pull among them) run against it without a medium. Beside the node's checks the admin
# deploys to it (qemu/site --admin-kubespray all): gapbox-kubespray init installs Ansible from the
# admin's own PyPI mirror (real wheels made from Debian's packages, tests/fixtures/fetch-debs),
# Ansible pings the node and runs a playbook there, and the preflight finds the node ready. Then
# the harness must fail when the site is broken, naming the check: the node runs a setup that
# names a wrong admin address, and dns (and what needs it) fails, and the admin's preflight names
# dns, ntp, repo and pull. (A registry port closed to the internal network is tests/smoke's.)
# For amd64, last, the same admin image is netbooted (gapbox netboot, BIOS iPXE, the images
# over HTTP from tests/netboot/httpd.py on the host's 127.0.0.1) and the node's checks must pass
# against it.
# ARCH=amd64|arm64 (default amd64). The fault run takes an admin boot; it runs for amd64, and
# for arm64 too with GAPBOX_E2E_FAULTS=1.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

arch=${ARCH:-amd64}
work=$PWD/build/test/e2e-$arch
admin=$work/gapbox-e2e-admin-$arch.iso
node=$work/gapbox-e2e-node-$arch.iso
mkdir -p "$work"
passed=0 failed=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
finish() { echo "e2e $arch: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

rm -rf "$work/outputs"
# The payload's PyPI mirror holds real wheels of Ansible, made from Debian's packages of it
# (downloaded once into the cache), which the admin installs from its own mirror.
debs=${GAPBOX_CACHE:-/var/cache/gapbox}/debs/$arch
if ! tests/fixtures/fetch-debs --arch "$arch" "$debs" > "$work/fetch-debs.log" 2>&1; then
	cat "$work/fetch-debs.log"
	not_ok "Debian's Python packages for the fixture's Ansible wheels (log: $work/fetch-debs.log)"
	finish
fi
tests/fixtures/gen-outputs --arch "$arch" --wheels-from "$debs" "$work/outputs" > /dev/null
# An SSH host key for the admin's configuration (access.ssh_host_keys), made for this run
# only, in an overlay of its own: the admin must take it instead of making one
# (gapbox-e2e-admin-check compares the fingerprint in /etc/gapbox-e2e/host-key.fp).
# The harness logs in with a key of its own (root's access.ssh_authorized_keys), whose private
# half stays here, to see the dashboard through an SSH forward (tests/e2e/page-check).
keys=$work/host-key-overlay
rm -rf "$keys" "$work/harness-key" "$work/harness-key.pub"
mkdir -p "$keys/etc/gapbox" "$keys/etc/gapbox-e2e"
ssh-keygen -q -t ed25519 -N '' -C e2e -f "$work/host-key" <<< y > /dev/null 2>&1
ssh-keygen -q -t ed25519 -N '' -C e2e-harness -f "$work/harness-key" > /dev/null 2>&1
ssh-keygen -lf "$work/host-key.pub" | cut -d' ' -f2 > "$keys/etc/gapbox-e2e/host-key.fp"
{ cat tests/e2e/admin-overlay/etc/gapbox/appliance.yaml
  printf 'access:\n  ssh_authorized_keys: ["%s"]\n  ssh_host_keys:\n    - |\n' "$(cat "$work/harness-key.pub")"
  sed 's/^/      /' "$work/host-key"; } > "$keys/etc/gapbox/appliance.yaml"
rm -f "$work/host-key" "$work/host-key.pub"

for vm in admin node; do
	start=$(date +%s)
	if [ "$vm" = admin ]; then
		args=("profiles/debian12-$arch.yaml" --overlay tests/boot/overlay --overlay tests/e2e/admin-overlay
			--overlay "$keys" --outputs "$work/outputs" -o "$admin")
	else
		args=("profiles/test-node-$arch.yaml" -o "$node")
	fi
	if build/host/gapbox build "${args[@]}" < /dev/null > "$work/build-$vm.log" 2>&1; then
		ok "build $vm image ($(( $(date +%s) - start )) s, $(du -m "${args[-1]}" | cut -f1) MiB)"
	else
		tail -n 20 "$work/build-$vm.log"
		not_ok "build $vm image (log: $work/build-$vm.log)"
		finish
	fi
done

# The node's package list is the admin profile's, so its build takes the admin's cached
# bootstrap: a second bootstrap (minutes under qemu-user for arm64) means the lists drifted.
if grep -q '^gapbox: rootfs: cache hit' "$work/build-node.log"; then
	ok "node image: the admin's rootfs bootstrap, from the cache"
else
	not_ok "node image: bootstrapped its own rootfs; keep profiles/test-node-$arch.yaml's packages the same as profiles/debian12-$arch.yaml's"
fi

# The node is built with appliance: false: gapbox-init boots it, but it carries no first-boot
# service.
rm -f "$work/node-system.sfs"
if xorriso -osirrox on -indev "$node" -extract /gapbox/system.sfs "$work/node-system.sfs" > /dev/null 2>&1 &&
	unsquashfs -l "$work/node-system.sfs" > "$work/node-system.list" 2>&1 &&
	grep -qx 'squashfs-root/usr/lib/gapbox/gapbox-init' "$work/node-system.list" &&
	! grep -q 'gapbox-firstboot' "$work/node-system.list"; then
	ok "node image: gapbox-init, no gapbox-firstboot (appliance: false)"
else
	not_ok "node image: expected usr/lib/gapbox/gapbox-init and no gapbox-firstboot in $work/node-system.list"
fi
rm -f "$work/node-system.sfs"

# Upper bounds, not waits: make check runs the two sites side by side (four VMs on two cores),
# and the admin's Ansible run shares the node's time; an arm64 node took 1144 s so.
timeouts=(--admin-timeout 600 --node-timeout 1200)
[ "$arch" = arm64 ] && timeouts=(--admin-timeout 1800 --node-timeout 2700)
# The user tests/e2e/admin-overlay/etc/gapbox/appliance.yaml lets push from the network.
creds=(--push-creds pusher:gapbox-test-push)
# The dashboard in a real browser, through SSH: its node row not ready before the node boots,
# ready after its checks, with an image shown as pulled (qemu/site --page-check). Where the
# external NIC is QEMU's user network: the arm64 site, and the netbooted amd64 admin below.
page=(--admin-ssh-key "$work/harness-key" --page-check tests/e2e/page-check)
# page_results NAME: the page checks of run NAME, as test lines.
page_results() {
	local phase line
	for phase in before after; do
		if line=$(grep -m1 "page check: page $phase: " "$work/$1.out"); then ok "dashboard in Chromium, ${line#qemu/site: page check: }"
		else not_ok "dashboard in Chromium, page $phase: $(grep -m1 "page check: " "$work/$1.out" || echo "no page check reported in $work/$1.out")"; fi
	done
}
# The outsider on the admin's external network (a third VM): amd64 only, as under emulation an
# arm64 boot takes minutes; the arm64 run checks the external NIC through hostfwd instead.
outsider=() good_page=("${page[@]}")
[ "$arch" = amd64 ] && outsider=(--outsider) good_page=()

# site NAME [qemu/site options]: run the harness, its output in $work/NAME.out.
site() {
	local name=$1
	shift
	rm -rf "${work:?}/$name"
	qemu/site "$admin" "$node" --arch "$arch" --logs "$work/$name" "${timeouts[@]}" "${creds[@]}" "$@" > "$work/$name.out" 2>&1
}
# The comma-separated failed checks the harness named, sorted.
failed_checks() { sed -n 's/.*node: checks FAILED: \([^ ]*\) .*/\1/p' "$1" | tr , '\n' | sort | paste -sd,; }

# fault NAME WHAT EXPECTED-FAILED PROOF-REGEX PROOF-FILE [qemu/site options]: the harness must
# exit 1 naming exactly EXPECTED-FAILED, and PROOF-FILE (under $work) must show the fault.
fault() {
	local name=$1 what=$2 expected=$3 proof=$4 file=$5 rc got
	shift 5
	site "$name" "$@"
	rc=$? got=$(failed_checks "$work/$name.out")
	if [ "$rc" = 1 ] && [ "$got" = "$expected" ] && grep -aq -- "$proof" "$work/$file"; then
		ok "$what: the harness fails, naming $got"
	else
		cat "$work/$name.out"
		not_ok "$what: expected exit 1 naming $expected; got exit $rc naming '$got'"
	fi
}

# gapbox.toram (amd64): the kernel and initrd are handed to QEMU to pass the parameter, the CD
# stays the medium; the amd64 boot matrix (tests/boot) boots that CD through the firmware.
toram=()
[ "$arch" = amd64 ] && toram=(--admin-append gapbox.toram --eject-admin-medium)
if site good "${outsider[@]}" "${good_page[@]}" "${toram[@]}" --admin-kubespray all; then
	if [ ${#toram[@]} -gt 0 ]; then
		# The admin copies its images to RAM, checked, and boots to the probe's PASS line, healthy.
		ok "boot $arch uefi cdrom with gapbox.toram (the site's admin): $(grep -m1 'admin: healthy' "$work/good.out" | sed 's/^qemu\/site: //')"
		copied=$(grep -aom1 'gapbox.toram: copied and checked .*' "$work/good/admin-console.log" | tr -d '\r')
		if [ -n "$copied" ] && grep -q 'runs=ram ' "$work/good.out"; then ok "$copied; $(grep -m1 'medium ejected' "$work/good.out" | sed 's/^qemu\/site: //')"
		else not_ok "gapbox.toram: no 'copied and checked' line on the admin console, or the probe does not say runs=ram"; fi
	else
		# The admin boots from a UEFI CD to the boot probe's PASS line, a healthy appliance.
		ok "boot $arch uefi cdrom (the site's admin): $(grep -m1 'admin: healthy' "$work/good.out" | sed 's/^qemu\/site: //')"
	fi
	grep 'qemu/site: node check:' "$work/good.out"
	ok "$(grep -m1 'all checks passed' "$work/good.out" | sed 's/^qemu\/site: //')"
	grep -m1 'admin: external NIC' "$work/good.out" | sed 's/^qemu\/site: /  /'
	grep 'qemu/site: outsider check: ' "$work/good.out" | sed 's/^qemu\/site: /  /'
	[ ${#good_page[@]} = 0 ] || page_results good
else
	cat "$work/good.out"
	not_ok "two-VM site $arch: every node check passes (consoles: $work/good/)"
fi
# From the admin, once the node's setup has run (tests/e2e/admin-overlay's gapbox-e2e-kubespray):
# gapbox-kubespray init installs Ansible from the admin's own mirror, Ansible reaches the node
# with the admin's key and runs a playbook there, and the preflight finds the node ready.
grep -m1 'deployed to the node from the admin' "$work/good.out" | sed 's/^qemu\/site: /  /'
for check in kubespray-init ansible-ping playbook preflight; do
	if line=$(grep -m1 "admin check: ok $check" "$work/good.out"); then ok "${line#qemu/site: }"
	else not_ok "admin check $check: $(grep -m1 "admin check: .*$check" "$work/good.out" || echo 'no report on the admin console')"; fi
done

# On the admin itself (tests/e2e/admin-overlay): a skopeo copy of a payload image to the
# registry on 127.0.0.1, as kubespray-offline's scripts push to localhost:35000.
if line=$(grep -m1 'admin check: ok loopback-push' "$work/good.out"); then
	ok "${line#qemu/site: }"
else
	not_ok "admin check loopback-push: a skopeo copy to 127.0.0.1:35000 on the admin itself: $(grep -m1 'admin check: .*loopback-push' "$work/good.out" || echo 'no report on the admin console')"
fi

# The admin refuses a push over a pre-filled tag from itself, never shows a plain password
# put where the root password hash goes, takes the host key it is given, and keeps the site's
# services down while nft refuses its ruleset.
checks=(prefilled-push secret host-key fail-closed)
# After the eject: the payload reads from RAM, the appliance verifies itself healthy again.
[ ${#toram[@]} -gt 0 ] && checks+=(medium-ejected)
for check in "${checks[@]}"; do
	if line=$(grep -m1 "admin check: ok $check" "$work/good.out"); then ok "${line#qemu/site: }"
	else not_ok "admin check $check: $(grep -m1 "admin check: .*$check" "$work/good.out" || echo 'no report on the admin console')"; fi
done
# From the external network (amd64): the outsider's DHCP offered routes for the internal subnet,
# and its scan found only SSH; the node's checks above passed with the admin holding that lease.
if [ ${#outsider[@]} -gt 0 ]; then
	for check in dhcp ssh scan-external scan-internal; do
		if line=$(grep -m1 "outsider check: ok $check:" "$work/good.out"); then ok "${line#qemu/site: }"
		else not_ok "outsider check $check: $(grep -m1 "outsider check: .*$check:" "$work/good.out" || echo 'no report from the outsider')"; fi
	done
fi

if [ "$arch" = amd64 ] || [ -n "${GAPBOX_E2E_FAULTS:-}" ]; then
	# A setup with the wrong admin address: it runs, and every check that needs the admin fails.
	# From the admin, the preflight (before any init: the site's inventory) names what is wrong.
	fault wrong-admin "wrong admin address in the node setup" \
		"admin-preflight,dns,files,ntp,pip,pull,push,repo,route" \
		'node check: ok setup' wrong-admin.out --node-fault wrong-admin --admin-kubespray preflight
	if line=$(grep -m1 'admin check: FAIL preflight: node1 is not ready: dns, ntp, repo, pull' "$work/wrong-admin.out"); then
		ok "preflight on the node set up with a wrong admin address: ${line#qemu/site: admin check: FAIL preflight: }"
	else not_ok "preflight on the node set up with a wrong admin address: $(grep -m1 'admin check: .*preflight' "$work/wrong-admin.out" || echo 'no report')"; fi
else
	echo "skip - $arch fault run: the amd64 run covers the harness; GAPBOX_E2E_FAULTS=1 runs it here too"
fi
# The same admin image netbooted (amd64: SeaBIOS, the NIC's iPXE ROM, QEMU's TFTP for kernel and
# initrd, the images over HTTP from a server on the host's 127.0.0.1 through guestfwd): the node
# passes every site check against it.
if [ "$arch" = amd64 ]; then
	rm -rf "$work/netboot-folder" "$work/netboot.port"
	if build/host/gapbox netboot "$admin" "$work/netboot-folder" --url http://10.0.2.100/ > "$work/netboot-folder.log" 2>&1; then
		python3 tests/netboot/httpd.py serve "$work/netboot-folder" --port-file "$work/netboot.port" --log "$work/netboot-httpd.log" &
		httpd=$!
		# Until the server has written its port (it binds port 0), or has died.
		for _ in $(seq 100); do
			[ -s "$work/netboot.port" ] && break
			kill -0 "$httpd" 2>/dev/null || break
			sleep 0.2
		done
		if [ -s "$work/netboot.port" ] && site netboot --admin-netboot "$work/netboot-folder" --admin-http "$(cat "$work/netboot.port")" "${page[@]}"; then
			ok "netbooted admin (bios iPXE, images over HTTP): $(grep -aom1 'netboot: [0-9]* MiB fetched and checked.*' "$work/netboot/admin-console.log" | tr -d '\r'); $(grep -m1 'all checks passed' "$work/netboot.out" | sed 's/^qemu\/site: //')"
			page_results netboot
		else
			cat "$work/netboot.out" 2>/dev/null
			not_ok "netbooted admin: every node check passes ($([ -s "$work/netboot.port" ] && echo "consoles: $work/netboot/" || echo "the test HTTP server wrote no port to $work/netboot.port in 20 s: $(tail -n 3 "$work/netboot-httpd.log" 2>/dev/null)"))"
		fi
		kill "$httpd" 2>/dev/null
		wait "$httpd" 2>/dev/null
	else
		cat "$work/netboot-folder.log"
		not_ok "gapbox netboot $admin: the admin's netboot folder"
	fi
fi

finish
