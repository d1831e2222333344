#!/bin/bash
# The command line as an operator meets it: every command's --help (the same as gapbox help
# COMMAND), usage errors that name the command and show its usage, the man page (groff finds no
# error in it, and it names every command and every option the commands' --help lists), the bash
# completion (commands, and each command's options as its --help lists them), and make install
# into a DESTDIR (the command on the PATH, its data beside it, man page and completion).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

gapbox=$PWD/build/host/gapbox
work=$PWD/build/test/cli
rm -rf "$work"
mkdir -p "$work"
passed=0 failed=0

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }

commands=(build check-outputs check-config inspect verify netboot write smoke version)

# ---- --help ----
for c in "${commands[@]}"; do
	if "$gapbox" "$c" --help > "$work/$c.help" 2> "$work/$c.err" && [ ! -s "$work/$c.err" ] &&
		[ "$(head -n 1 "$work/$c.help" | cut -d' ' -f1-3)" = "Usage: gapbox $c" ] &&
		"$gapbox" help "$c" | cmp -s - "$work/$c.help"; then
		ok "gapbox $c --help: exit 0, $(wc -l < "$work/$c.help") lines on stdout, the same as gapbox help $c"
	else not_ok "gapbox $c --help (stdout $work/$c.help, stderr $work/$c.err)"; fi
done
if "$gapbox" --help > "$work/all.help" && for c in "${commands[@]}"; do grep -q "^  gapbox $c" "$work/all.help" || exit 1; done; then
	ok "gapbox --help lists every command"
else not_ok "gapbox --help does not list every command"; fi

# ---- usage errors: exit 2, the command named, its usage on stderr ----
rc=0; "$gapbox" build --no-such-option > /dev/null 2> "$work/err" || rc=$?
if [ "$rc" = 2 ] && grep -q "no-such-option" "$work/err" && grep -q '^Usage: gapbox build ' "$work/err"; then
	ok "an unknown option: exit 2, named, then build's usage: $(head -n 1 "$work/err")"
else not_ok "an unknown option: exit $rc"; sed 's/^/# /' "$work/err"; fi
rc=0; "$gapbox" inspect > /dev/null 2> "$work/err" || rc=$?
if [ "$rc" = 2 ] && grep -q 'inspect takes 1 operand, 0 given' "$work/err" && grep -q '^Usage: gapbox inspect ' "$work/err"; then
	ok "a missing operand: exit 2: $(head -n 1 "$work/err")"
else not_ok "a missing operand: exit $rc"; sed 's/^/# /' "$work/err"; fi
rc=0; "$gapbox" help no-such-command > /dev/null 2> "$work/err" || rc=$?
if [ "$rc" = 2 ] && grep -q "unknown command 'no-such-command'" "$work/err"; then ok "gapbox help of an unknown command: exit 2, named"
else not_ok "gapbox help no-such-command: exit $rc"; fi

# ---- the man page ----
if groff -man -Tutf8 -ww -z builder/gapbox.1 > "$work/groff.log" 2>&1 && [ ! -s "$work/groff.log" ]; then
	ok "groff -man -ww: no warning in builder/gapbox.1"
else not_ok "groff warns about builder/gapbox.1"; sed 's/^/# /' "$work/groff.log"; fi
# One line per paragraph, so that no option name is broken across lines.
groff -man -Tutf8 -rLL=1000n builder/gapbox.1 2> /dev/null | sed 's/\x1b\[[0-9;]*m//g; s/.\x08//g' > "$work/man.txt"
missing=()
for c in "${commands[@]}"; do
	grep -q "gapbox $c" "$work/man.txt" || missing+=("command $c")
	for o in $(grep -o -- '--[a-z][a-z-]*' "$work/$c.help" | sort -u); do
		grep -q -- "$o" "$work/man.txt" || missing+=("$c $o")
	done
done
if [ ${#missing[@]} = 0 ]; then ok "the man page names every command and every option their --help lists ($(grep -o -- '--[a-z][a-z-]*' "$work"/*.help | cut -d: -f2 | sort -u | wc -l) options)"
else not_ok "the man page lacks: ${missing[*]}"; fi

# ---- bash completion ----
# complete WORDS...: what the completion offers for the last word.
complete_words() {
	bash -c '. builder/gapbox.bash-completion; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _gapbox; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$@"
}
if [ "$(complete_words "$gapbox" check-)" = "$(printf 'check-outputs\ncheck-config')" ]; then
	ok "completion: 'gapbox check-' offers check-outputs and check-config"
else not_ok "completion of 'gapbox check-': $(complete_words "$gapbox" check- | paste -sd' ')"; fi
missing=()
for c in "${commands[@]}"; do
	offered=$(complete_words "$gapbox" "$c" --)
	for o in $(grep -o -- '--[a-z][a-z-]*' "$work/$c.help" | sort -u) --help; do
		grep -qx -- "$o" <<< "$offered" || missing+=("$c $o")
	done
done
if [ ${#missing[@]} = 0 ]; then ok "completion: every command's options, as its --help lists them, are offered after --"
else not_ok "completion does not offer: ${missing[*]}"; fi
if [ "$(complete_words "$gapbox" check-outputs DIR --arch a)" = "$(printf 'amd64\narm64')" ]; then
	ok "completion: --arch offers amd64 and arm64"
else not_ok "completion after --arch: $(complete_words "$gapbox" check-outputs DIR --arch a | paste -sd' ')"; fi

# ---- make install ----
dest=$work/destdir
if make --no-print-directory install DESTDIR="$dest" PREFIX=/usr > "$work/install.log" 2>&1; then
	want=(usr/bin/gapbox usr/share/man/man1/gapbox.1 usr/share/bash-completion/completions/gapbox
		usr/lib/gapbox/profiles/debian12-amd64.yaml usr/lib/gapbox/overlay usr/lib/gapbox/build/amd64/gapbox-init
		usr/lib/gapbox/build/arm64/gapbox-init usr/lib/gapbox/build/amd64/gapbox-fetch usr/lib/gapbox/build/arm64/gapbox-firstboot
		usr/lib/gapbox/profiles/test-node-arm64.yaml usr/lib/gapbox/profiles/test-node-overlay/usr/local/sbin/gapbox-node-test
		usr/lib/gapbox/qemu/site usr/lib/gapbox/qemu/lib.sh)
	absent=()
	for f in "${want[@]}"; do [ -e "$dest/$f" ] || absent+=("$f"); done
	if [ ${#absent[@]} = 0 ] && [ "$(readlink "$dest/usr/bin/gapbox")" = ../lib/gapbox/build/host/gapbox ] &&
		"$dest/usr/bin/gapbox" version | grep -q '^gapbox '; then
		ok "make install DESTDIR=... PREFIX=/usr: $(find "$dest" -type f | wc -l) files; usr/bin/gapbox runs ($("$dest/usr/bin/gapbox" version)); man page, completion, profiles (the test node's too), overlay, qemu/site and both architectures' programs in place"
	else not_ok "make install: missing ${absent[*]:-nothing}; usr/bin/gapbox -> $(readlink "$dest/usr/bin/gapbox")"; fi
else not_ok "make install"; tail -n 5 "$work/install.log" | sed 's/^/# /'; fi

echo "# passed $passed, failed $failed"
[ "$failed" = 0 ]
