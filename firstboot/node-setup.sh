#!/bin/sh
# gapbox node setup: makes a RHEL/Rocky/Alma or Debian/Ubuntu node use the admin server for its
# DNS, NTP, package repository, PyPI mirror and registry (containerd mirrors). Safe to run again.
# gapbox-firstboot serves it with its site's settings in the block below (in gapbox's source
# tree they are examples, so the file runs as it is). The rest only sets variables and defines
# functions but for the last line, which calls main with --end-of-script after the caller's
# arguments, and main goes on only when that came through: a download cut short anywhere, that
# line included, changes nothing.
set -eu

# gapbox: settings begin (the site's values, written by gapbox-firstboot)
ADMIN=192.168.10.10
DOMAIN=gapbox.lan
HTTP=http://192.168.10.10
REGISTRY=192.168.10.10:35000
MIRRORS="docker.io registry-1.docker.io quay.io registry.k8s.io k8s.gcr.io ghcr.io gcr.io"
# The admin's NAT: on.
NAT=1
# The node OS the payload's package repositories are for (its record).
REPOS="debian rhel"
# The registry speaks TLS with a certificate of the site CA, HTTP/gapbox/ca.crt, whose sha256 is
# CA_SHA256 (empty: not known when this file was made). Without these lines: plain HTTP.
REGISTRY_TLS=0
CA_SHA256=
# The admin's SSH public key, which Ansible on the admin logs in with, installed for SSH_USER
# (access.node_ssh_user; empty: none).
ADMIN_KEY=
SSH_USER=root
# gapbox: settings end

# Run as `curl ... | sh`, the shell reads this script from stdin: commands below that could
# read stdin get </dev/null. For tests: GAPBOX_NODE_ROOT=DIR writes every file under DIR and
# runs no command that changes the system; GAPBOX_CA_URL fetches the site CA from there instead
# of HTTP/gapbox/ca.crt. GAPBOX_KEEP_REPOS=1 (or `sh -s -- --keep-repos`) leaves the node's other
# package sources enabled, and sets up a node whose OS the payload has no repository for, with
# its own sources only.
#
# REPOS names the node OS each of the payload's repositories is for: "debian" (debs/local, for
# Debian and Ubuntu), "rhel" (rpms/local, RHEL family) or "rhel<N>" (only its major release N);
# "unknown" when the payload record does not say.

say() { printf 'gapbox-node: %s\n' "$*"; }
warn() { printf 'gapbox-node: warning: %s\n' "$*" >&2; }
die() { printf 'gapbox-node: error: %s\n' "$*" >&2; exit 1; }
live() { [ -z "$ROOT" ]; }
has() { command -v "$1" >/dev/null 2>&1; }
active() { live && has systemctl && systemctl is-active --quiet "$1" 2>/dev/null; }

# put PATH MODE TEXT: make PATH hold TEXT (and a newline); CHANGED=1 when it had to change.
# The first time a file is replaced, the original is kept as PATH.gapbox-orig.
put() {
	dest=$ROOT$1
	if [ -f "$dest" ] && [ ! -L "$dest" ] && [ "$(cat "$dest")" = "$3" ]; then
		CHANGED=0
		return 0
	fi
	mkdir -p "$(dirname "$dest")"
	if [ -e "$dest" ] || [ -L "$dest" ]; then
		[ -e "$dest.gapbox-orig" ] || [ -L "$dest.gapbox-orig" ] || cp -P "$dest" "$dest.gapbox-orig"
		rm -f "$dest"
	fi
	printf '%s\n' "$3" > "$dest"
	chmod "$2" "$dest"
	CHANGED=1
	say "wrote $1"
}

# unput PATH: remove a file an earlier run wrote.
unput() {
	CHANGED=0
	if [ -e "$ROOT$1" ]; then
		rm -f "$ROOT$1"
		CHANGED=1
		say "removed $1"
	fi
}

# park DIR PATTERN BACKUP: move the node's other package sources into BACKUP, once.
park() {
	[ "$KEEP_REPOS" = 1 ] && return 0
	for f in "$ROOT$1"/$2; do
		[ -f "$f" ] || continue
		case ${f##*/} in gapbox.*) continue ;; esac
		mkdir -p "$ROOT$3"
		mv "$f" "$ROOT$3/"
		say "moved ${f#"$ROOT"} to $3/"
	done
}

# repo_for FAMILY MAJOR: the payload has a package repository for this node.
repo_for() {
	[ "$REPOS" = unknown ] && return 0
	for r in $REPOS; do
		if [ "$r" = "$1" ] || [ "$r" = "$1$2" ]; then return 0; fi
	done
	return 1
}

# install_admin_key: ADMIN_KEY in SSH_USER's authorized_keys, added once, the user's other keys
# kept; CHANGED=1 when it was added.
install_admin_key() {
	CHANGED=0
	home=$(awk -F: -v u="$SSH_USER" '$1 == u { print $6 }' "$ROOT/etc/passwd")
	[ -n "$home" ] || die "no user $SSH_USER in $ROOT/etc/passwd for the admin's SSH key (SSH_USER in this script)"
	keys=$ROOT$home/.ssh/authorized_keys
	if [ -f "$keys" ] && grep -qxF "$ADMIN_KEY" "$keys"; then return 0; fi
	mkdir -p "$ROOT$home/.ssh"
	chmod 700 "$ROOT$home/.ssh"
	printf '%s\n' "$ADMIN_KEY" >> "$keys"
	chmod 600 "$keys"
	if live; then chown "$SSH_USER:" "$home/.ssh" "$keys"; fi
	CHANGED=1
	say "added the admin's SSH key to $home/.ssh/authorized_keys (Ansible logs in as $SSH_USER)"
}

# check_become: a user other than root must reach root with sudo and no password, which
# kubespray's tasks (ansible_become) need; said, not granted: that is the site's policy.
check_become() {
	[ "$SSH_USER" != root ] || return 0
	if ! live; then return 0; fi
	if ! command -v sudo >/dev/null 2>&1; then
		warn "sudo is not installed: Ansible logs in as $SSH_USER and needs sudo without a password to become root"
	elif ! sudo -n -l -U "$SSH_USER" </dev/null 2>/dev/null | grep -q 'NOPASSWD:.*ALL'; then
		warn "$SSH_USER may not run everything with sudo and no password (sudo -l -U $SSH_USER); Ansible logs in as $SSH_USER and needs it to become root"
	fi
}

# has_nm_route: NetworkManager's connection $conn has the default route through the admin.
# fetch_ca: the site CA's certificate into CA_PEM, checked against CA_SHA256 (this script's, which
# the node command checked in turn against the admin's console) before anything changes.
fetch_ca() {
	ca_url=${GAPBOX_CA_URL:-$HTTP/gapbox/ca.crt}
	ca_tmp=$(mktemp)
	if ! curl -fsS -o "$ca_tmp" "$ca_url" </dev/null; then
		rm -f "$ca_tmp"
		die "cannot fetch the site CA from $ca_url; nothing was changed"
	fi
	ca_sha=$(sha256sum < "$ca_tmp" | cut -d' ' -f1)
	CA_PEM=$(cat "$ca_tmp")
	rm -f "$ca_tmp"
	say "the site CA ($ca_url) has sha256 $ca_sha"
	case $CA_PEM in "-----BEGIN CERTIFICATE-----"*) ;; *) die "$ca_url is not a PEM certificate; nothing was changed" ;; esac
	if [ -z "${CA_SHA256:-}" ]; then
		warn "this node-setup.sh does not carry the CA's sha256: compare $ca_sha with the admin's status page"
	elif [ "$ca_sha" != "$CA_SHA256" ]; then
		die "the site CA fetched from $ca_url has sha256 $ca_sha, not $CA_SHA256 (CA_SHA256 in this script); nothing was changed"
	fi
}

has_nm_route() { nmcli -g ipv4.routes connection show "$conn" 2>/dev/null | grep -q "0.0.0.0/0 $ADMIN"; }

main() {
	last=
	for arg in "$@"; do last=$arg; done
	[ "$last" = --end-of-script ] || die "this copy of node-setup.sh is cut short (its last line is incomplete): download it again"
	ROOT=${GAPBOX_NODE_ROOT:-}
	KEEP_REPOS=${GAPBOX_KEEP_REPOS:-0}
	CHANGED=0
	for arg in "$@"; do
		case $arg in
		--keep-repos) KEEP_REPOS=1 ;;
		--end-of-script) ;;
		*) die "unknown argument $arg (expected --keep-repos)" ;;
		esac
	done

	if live && [ "$(id -u)" != 0 ]; then die "run me as root (sudo sh node-setup.sh)"; fi
	[ -r "$ROOT/etc/os-release" ] || die "$ROOT/etc/os-release not found: cannot tell the distribution"
	# shellcheck disable=SC1091 # the node's own os-release
	os=$(. "$ROOT/etc/os-release"; echo " ${ID:-} ${ID_LIKE:-} ")
	# shellcheck disable=SC1091 # the node's own os-release
	version=$(. "$ROOT/etc/os-release"; echo "${VERSION_ID:-}")
	# shellcheck disable=SC1091 # the node's own os-release
	name=$(. "$ROOT/etc/os-release"; echo "${ID:-}${VERSION_ID:+ $VERSION_ID}")
	case $os in
	*" rhel "*|*" centos "*|*" fedora "*|*" rocky "*|*" almalinux "*) family=rhel ;;
	*" debian "*|*" ubuntu "*) family=debian ;;
	*) die "unsupported distribution:$os(expected RHEL, Rocky, Alma, Debian or Ubuntu)" ;;
	esac
	# Refused before anything changes: parking the node's sources with nothing in their place
	# would leave it without packages. kubespray-offline builds its repository for one node OS.
	repo=1
	if ! repo_for "$family" "${version%%.*}"; then
		what="the payload's package repositories are for ${REPOS:-no node OS} (REPOS in this script), not for this $name node"
		[ "$KEEP_REPOS" = 1 ] || die "$what; nothing was changed. Build the payload with kubespray-offline on the nodes' OS, or run with --keep-repos (GAPBOX_KEEP_REPOS=1) to set this node up with its own package sources"
		warn "$what: the node keeps its own package sources (--keep-repos), and none from the admin"
		repo=0
	fi
	scheme=http
	CA_PEM=
	if [ "${REGISTRY_TLS:-0}" = 1 ]; then
		scheme=https
		fetch_ca
	fi
	say "setting up a $family node for $DOMAIN from $ADMIN"

	# 1. Names from the admin's DNS; NetworkManager must not rewrite resolv.conf.
	if [ -d "$ROOT/etc/NetworkManager" ]; then
		put /etc/NetworkManager/conf.d/99-gapbox-dns-none.conf 0644 "[main]
dns=none"
		if [ "$CHANGED" = 1 ] && active NetworkManager; then systemctl restart NetworkManager; fi
	fi
	put /etc/resolv.conf 0644 "search $DOMAIN
nameserver $ADMIN"

	# 2. Packages from the admin's repository; the node's other sources are parked, since the air
	# gap has no way to them.
	if [ "$family" = rhel ]; then
		if [ "$repo" = 1 ]; then
			park /etc/yum.repos.d '*.repo' /etc/yum.repos.d/gapbox-backup
			put /etc/yum.repos.d/gapbox.repo 0644 "[gapbox-offline]
name=gapbox offline repository ($ADMIN)
baseurl=$HTTP/rpms/local/
enabled=1
gpgcheck=0"
			if [ "$CHANGED" = 1 ] && live; then
				if has dnf; then dnf clean all </dev/null >/dev/null || true; else yum clean all </dev/null >/dev/null || true; fi
			fi
		fi
		pkg_install() { if has dnf; then dnf install -y "$@" </dev/null; else yum install -y "$@" </dev/null; fi; }
		chrony_conf=/etc/chrony.conf
		chrony_unit=chronyd
		drift=/var/lib/chrony/drift
	else
		if [ "$repo" = 1 ]; then
			park /etc/apt/sources.list.d '*.list' /etc/apt/gapbox-backup
			park /etc/apt/sources.list.d '*.sources' /etc/apt/gapbox-backup
			park /etc/apt 'sources.list' /etc/apt/gapbox-backup
			put /etc/apt/sources.list.d/gapbox.list 0644 "deb [trusted=yes] $HTTP/debs/local/ ./"
			if [ "$CHANGED" = 1 ] && live; then apt-get update </dev/null || warn "apt-get update failed"; fi
		fi
		pkg_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" </dev/null; }
		chrony_conf=/etc/chrony/chrony.conf
		chrony_unit=chrony
		drift=/var/lib/chrony/chrony.drift
	fi

	# 3. Time from the admin.
	if live && ! has chronyd; then pkg_install chrony || warn "chrony is not installed and could not be installed"; fi
	put "$chrony_conf" 0644 "server $ADMIN iburst
driftfile $drift
makestep 1 3
rtcsync
logdir /var/log/chrony"
	if [ "$CHANGED" = 1 ] && live && has chronyd; then
		systemctl enable "$chrony_unit" >/dev/null 2>&1 || true
		systemctl restart "$chrony_unit" || warn "could not restart $chrony_unit"
	fi

	# 4. Python packages from the admin's PyPI mirror.
	put /etc/pip.conf 0644 "[global]
index-url = $HTTP/pypi/
trusted-host = $ADMIN
timeout = 60"

	# 5. containerd pulls through the admin's registry; it reads these files at each pull. With
	# TLS, each registry's folder has the site CA, which its hosts.toml names.
	for reg in "$REGISTRY" $MIRRORS; do
		if [ "$reg" = "$REGISTRY" ]; then server="$scheme://$REGISTRY" skip=true; else server="https://$reg" skip=false; fi
		ca_line=
		if [ -n "$CA_PEM" ]; then
			[ "$reg" = "$REGISTRY" ] && skip=false
			put "/etc/containerd/certs.d/$reg/ca.crt" 0644 "$CA_PEM"
			ca_line="
  ca = \"/etc/containerd/certs.d/$reg/ca.crt\""
		fi
		put "/etc/containerd/certs.d/$reg/hosts.toml" 0644 "server = \"$server\"

[host.\"$scheme://$REGISTRY\"]
  capabilities = [\"pull\", \"resolve\"]
  skip_verify = $skip$ca_line"
	done
	# ... and the system trusts it too (CRI-O, Docker, skopeo, curl).
	if [ -n "$CA_PEM" ]; then
		if [ "$family" = debian ]; then
			put /usr/local/share/ca-certificates/gapbox-site-ca.crt 0644 "$CA_PEM"
			if [ "$CHANGED" = 1 ] && live && has update-ca-certificates; then update-ca-certificates >/dev/null </dev/null; fi
		else
			put /etc/pki/ca-trust/source/anchors/gapbox-site-ca.crt 0644 "$CA_PEM"
			if [ "$CHANGED" = 1 ] && live && has update-ca-trust; then update-ca-trust extract </dev/null; fi
		fi
	fi

	# 6. Ansible on the admin logs in with its own key.
	if [ -n "${ADMIN_KEY:-}" ]; then install_admin_key; check_become; else warn "this node-setup.sh carries no SSH key of the admin: Ansible on the admin cannot log in here without one"; fi

	# 7. A default route through the admin while its NAT is on, taken away once it is off.
	netplan_route=/etc/netplan/99-gapbox-route.yaml
	dev=
	conn=
	if live && has ip; then
		dev=$(ip -4 route get "$ADMIN" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1)
	fi
	if [ -n "$dev" ] && has nmcli && active NetworkManager; then
		conn=$(nmcli -g GENERAL.CONNECTION device show "$dev" 2>/dev/null | head -n 1)
	fi
	if [ "$NAT" = 1 ]; then
		if [ -n "$conn" ]; then
			if ! has_nm_route; then
				nmcli connection modify "$conn" +ipv4.routes "0.0.0.0/0 $ADMIN 200"
				nmcli device reapply "$dev" || nmcli connection up "$conn"
				say "default route via $ADMIN on $dev ($conn)"
			fi
		elif [ -n "$dev" ]; then
			ip -4 route replace default via "$ADMIN" dev "$dev" metric 200
			if [ -d "$ROOT/etc/netplan" ]; then
				put "$netplan_route" 0600 "network:
  version: 2
  ethernets:
    $dev:
      routes:
        - to: default
          via: $ADMIN
          metric: 200"
			fi
			say "default route via $ADMIN on $dev"
		elif live; then
			warn "no route to $ADMIN: is this node on the internal network?"
		fi
	else
		if [ -n "$conn" ] && has_nm_route; then
			nmcli connection modify "$conn" -ipv4.routes "0.0.0.0/0 $ADMIN 200"
			nmcli device reapply "$dev" || nmcli connection up "$conn"
			say "removed the default route via $ADMIN (its NAT is off)"
		fi
		if [ -n "$dev" ]; then ip -4 route del default via "$ADMIN" dev "$dev" metric 200 2>/dev/null || true; fi
		unput "$netplan_route"
	fi

	say "done: DNS and NTP from $ADMIN, packages from $HTTP, images from $REGISTRY"
}

main "$@" --end-of-script
