# gapbox: host builder, target binaries (ARCH=amd64|arm64), images and tests.

ARCH ?= amd64
PROFILE ?= profiles/debian12-$(ARCH).yaml
OUT ?= out
OUTPUTS ?=

HOST_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
TRIPLET_amd64 := x86_64-linux-gnu
TRIPLET_arm64 := aarch64-linux-gnu
TRIPLET := $(TRIPLET_$(ARCH))
ifeq ($(TRIPLET),)
$(error ARCH=$(ARCH) is not supported: use amd64 or arm64)
endif

HOST_CC ?= cc
ifeq ($(ARCH),$(HOST_ARCH))
TARGET_CC ?= cc
else
TARGET_CC ?= $(TRIPLET)-gcc
endif
ifeq ($(ARCH),$(HOST_ARCH))
TARGET_AR ?= ar
TARGET_OBJCOPY ?= objcopy
else
TARGET_AR ?= $(TRIPLET)-ar
TARGET_OBJCOPY ?= $(TRIPLET)-objcopy
endif
HOST_PKG_CONFIG := pkg-config
TARGET_PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/$(TRIPLET)/pkgconfig:/usr/share/pkgconfig pkg-config

GB_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)
# The commit's time is one of the inputs a build's default epoch is the newest of.
GB_COMMIT_TIME := $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers
COMMON := -std=gnu11 $(WARN) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Ilib -DGB_VERSION='"$(GB_VERSION)"' -DGB_COMMIT_TIME=$(GB_COMMIT_TIME)LL -MMD -MP

HOST_LIBS := libarchive yaml-0.1 jansson libcrypto blkid libcurl
# Evaluated on first use, not at parse time: `make image` on a fresh machine installs the
# libraries (deps) before anything asks pkg-config about them.
HOST_CFLAGS = $(eval HOST_CFLAGS := $(COMMON) $(CFLAGS) $(shell $(HOST_PKG_CONFIG) --cflags $(HOST_LIBS)))$(HOST_CFLAGS)
HOST_LDLIBS = $(eval HOST_LDLIBS := $(shell $(HOST_PKG_CONFIG) --libs $(HOST_LIBS)))$(HOST_LDLIBS)

# gapbox-init is static: blkid finds the medium, jansson reads the build manifest and writes the
# boot record, libcrypto hashes the gapbox.toram copies (lib/sha256.c says why not through EVP).
INIT_LIBS := blkid jansson libcrypto
FIRSTBOOT_LIBS := yaml-0.1 jansson libcurl libcrypto
# gapbox-fetch, the initramfs's HTTP client for a netboot, links libcurl dynamically (Debian's static
# libcurl needs GSSAPI archives Debian does not ship); the builder copies its shared-library closure
# out of the image's rootfs into the initramfs (builder/libclosure.c).
FETCH_LIBS := libcurl jansson libcrypto
TARGET_CFLAGS = $(eval TARGET_CFLAGS := $(COMMON) $(CFLAGS) $(shell $(TARGET_PKG_CONFIG) --cflags $(INIT_LIBS)))$(TARGET_CFLAGS)
TARGET_FIRSTBOOT_CFLAGS = $(eval TARGET_FIRSTBOOT_CFLAGS := $(shell $(TARGET_PKG_CONFIG) --cflags $(FIRSTBOOT_LIBS)))$(TARGET_FIRSTBOOT_CFLAGS)
FIRSTBOOT_LDLIBS = $(eval FIRSTBOOT_LDLIBS := $(shell $(TARGET_PKG_CONFIG) --libs $(FIRSTBOOT_LIBS)))$(FIRSTBOOT_LDLIBS)
INIT_LDLIBS = $(eval INIT_LDLIBS := -static $(shell $(TARGET_PKG_CONFIG) --static --libs $(INIT_LIBS)))$(INIT_LDLIBS)
FETCH_LDLIBS = $(eval FETCH_LDLIBS := $(shell $(TARGET_PKG_CONFIG) --libs $(FETCH_LIBS)))$(FETCH_LDLIBS)

HB := build/host
TB := build/$(ARCH)

LIB_SRCS := $(wildcard lib/*.c)
BUILDER_SRCS := $(filter-out builder/main.c,$(wildcard builder/*.c builder/payload/*.c))
INIT_SRCS := $(filter-out initramfs/main.c,$(wildcard initramfs/*.c))
FETCH_SRCS := $(wildcard initramfs/fetch/*.c)
# Besides C, first boot has assembler files that embed files of the tree (firstboot/embedded.S).
FIRSTBOOT_SRCS := $(filter-out firstboot/main.c,$(wildcard firstboot/*.c)) $(wildcard firstboot/*.S)
TEST_SRCS := $(wildcard tests/unit/test_*.c)

HOST_LIB_OBJS := $(LIB_SRCS:%.c=$(HB)/%.o)
HOST_BUILDER_OBJS := $(BUILDER_SRCS:%.c=$(HB)/%.o)
HOST_INIT_OBJS := $(INIT_SRCS:%.c=$(HB)/%.o)
TARGET_LIB_OBJS := $(LIB_SRCS:%.c=$(TB)/%.o)
TARGET_INIT_OBJS := $(INIT_SRCS:%.c=$(TB)/%.o)
TARGET_FETCH_OBJS := $(FETCH_SRCS:%.c=$(TB)/%.o)
HOST_FIRSTBOOT_OBJS := $(addprefix $(HB)/,$(addsuffix .o,$(basename $(FIRSTBOOT_SRCS))))
TARGET_FIRSTBOOT_OBJS := $(addprefix $(TB)/,$(addsuffix .o,$(basename $(FIRSTBOOT_SRCS))))
UNIT_TESTS := $(TEST_SRCS:tests/unit/%.c=$(HB)/tests/%)

.PHONY: all host target deps install check check-cli check-shell check-unit check-errors check-initrd check-initrd-arm64 check-write check-boot check-payload check-firstboot check-kubespray check-boot-arm64 \
	check-repro check-verify check-e2e check-e2e-arm64 check-smoke check-smoke-arm64 check-persist check-persist-arm64 check-netboot check-netboot-arm64 check-lanes lane-shell lane-unit lane-firstboot lane-kubespray lane-payload lane-errors lane-initrd-amd64 lane-repro lane-verify lane-initrd-arm64 lane-write lane-boot-amd64 lane-e2e-amd64 lane-smoke-amd64 lane-persist-amd64 lane-persist-arm64 lane-netboot-amd64 lane-netboot-arm64 \
	lane-boot-arm64 lane-e2e-arm64 target-arm64 image demo bench clean
.DEFAULT_GOAL := all

all: host target
host: $(HB)/gapbox $(if $(wildcard firstboot/main.c),$(HB)/gapbox-firstboot)
target: $(TB)/gapbox-init $(TB)/gapbox-fetch $(if $(wildcard firstboot/main.c),$(TB)/gapbox-firstboot)

$(HB)/%.o: %.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -c -o $@ $<

$(TB)/%.o: %.c
	@mkdir -p $(dir $@)
	$(TARGET_CC) $(TARGET_CFLAGS) $(TARGET_FIRSTBOOT_CFLAGS) -c -o $@ $<

$(HB)/%.o: %.S
	@mkdir -p $(dir $@)
	$(HOST_CC) -MMD -MP -c -o $@ $<

$(TB)/%.o: %.S
	@mkdir -p $(dir $@)
	$(TARGET_CC) -MMD -MP -c -o $@ $<

# .incbin reads a file the preprocessor never sees, so -MMD cannot name it: say it here.
$(HB)/firstboot/embedded.o $(TB)/firstboot/embedded.o: firstboot/node-setup.sh

# Target programs link lib/ as an archive so they pull in only the objects they use.
$(TB)/libgb.a: $(TARGET_LIB_OBJS)
	$(TARGET_AR) rcs $@ $^

$(HB)/libgb.a: $(HOST_LIB_OBJS)
	$(AR) rcs $@ $^
$(HB)/libgb-builder.a: $(HOST_BUILDER_OBJS)
	$(AR) rcs $@ $^
$(HB)/libgb-init.a: $(HOST_INIT_OBJS)
	$(AR) rcs $@ $^
$(HB)/libgb-firstboot.a: $(HOST_FIRSTBOOT_OBJS)
	$(AR) rcs $@ $^

# The builder checks a site configuration with gapbox-firstboot's own code (firstboot/configcheck.h):
# the archive gives it the objects that needs, the loader and the service table for the ports.
$(HB)/gapbox: $(HB)/builder/main.o $(HB)/libgb-builder.a $(HB)/libgb-firstboot.a $(HB)/libgb.a
	$(HOST_CC) -o $@ $^ $(HOST_LDLIBS)

# What goes into the image is stripped; its debug info stays beside the build (NAME.debug, linked
# by .gnu_debuglink, so gdb finds it).
define strip_target
	$(TARGET_OBJCOPY) --only-keep-debug $< $@.debug
	$(TARGET_OBJCOPY) --strip-all --add-gnu-debuglink=$@.debug $< $@.tmp
	mv $@.tmp $@
endef

$(TB)/gapbox-init.full: $(TB)/initramfs/main.o $(TARGET_INIT_OBJS) $(TB)/libgb.a
	$(TARGET_CC) -o $@ $^ $(INIT_LDLIBS)

$(TB)/gapbox-init: $(TB)/gapbox-init.full
	$(strip_target)

$(TB)/gapbox-fetch.full: $(TARGET_FETCH_OBJS) $(TB)/libgb.a
	$(TARGET_CC) -o $@ $^ $(FETCH_LDLIBS)

$(TB)/gapbox-fetch: $(TB)/gapbox-fetch.full
	$(strip_target)

# The first-boot service runs on the target; its host build is for tests and --root rendering.
$(HB)/gapbox-firstboot: $(HB)/firstboot/main.o $(HB)/libgb-firstboot.a $(HB)/libgb.a
	$(HOST_CC) -o $@ $^ $(HOST_LDLIBS)

$(TB)/gapbox-firstboot.full: $(TB)/firstboot/main.o $(TARGET_FIRSTBOOT_OBJS) $(TB)/libgb.a
	$(TARGET_CC) -o $@ $^ $(FIRSTBOOT_LDLIBS)

$(TB)/gapbox-firstboot: $(TB)/gapbox-firstboot.full
	$(strip_target)

TEST_ARCHIVES := $(HB)/libgb-builder.a $(HB)/libgb-init.a $(HB)/libgb-firstboot.a $(HB)/libgb.a
$(HB)/tests/%: tests/unit/%.c $(TEST_ARCHIVES)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) -o $@ $< $(TEST_ARCHIVES) $(HOST_LDLIBS) -lcmocka

deps:
	bash tests/deps.sh

# Shell is read by shellcheck: node-setup.sh as POSIX sh (what a node's /bin/sh runs), the qemu/
# scripts as bash, and the test scripts for warnings.
NODE_SHELL := firstboot/node-setup.sh
QEMU_SHELL := qemu/boot qemu/site qemu/demo qemu/lib.sh
TEST_SHELL := $(wildcard tests/*/run.sh tests/bench/*.sh) tests/deps.sh tests/boot/check-root.sh \
	tests/fixtures/check-outputs tests/fixtures/fetch-debs profiles/test-node-overlay/usr/local/sbin/gapbox-node-test profiles/test-node-overlay/usr/local/sbin/gapbox-node-outsider tests/e2e/page-check \
	$(wildcard tests/e2e/admin-overlay/usr/local/sbin/* tests/boot/overlay/usr/local/sbin/* tests/smoke/registry-closed/usr/local/sbin/*) .ci/run \
	builder/gapbox.bash-completion
check-shell:
	@if command -v shellcheck >/dev/null; then \
		shellcheck -s sh $(NODE_SHELL) && shellcheck -x $(QEMU_SHELL) && shellcheck -S warning $(TEST_SHELL) && \
		echo "check-shell: $(NODE_SHELL), $(QEMU_SHELL) and $(words $(TEST_SHELL)) test scripts are clean"; \
	else echo "check-shell: SKIPPED: shellcheck is not installed (make deps installs it)"; fi

check-unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

check-errors: all
	bash tests/errors/run.sh

# gapbox-fetch and its shared libraries in a built image's initramfs, run there under chroot.
check-initrd: all
	bash tests/initrd/run.sh

check-initrd-arm64: target-arm64
	ARCH=arm64 bash tests/initrd/run.sh

check-write: all
	bash tests/write/run.sh

check-boot: all
	bash tests/boot/run.sh

# Two builds from other folders, umasks, time zones and locales, and one from an empty rootfs cache,
# give the same image byte for byte.
check-repro: all
	bash tests/repro/run.sh

# Signed images: gapbox build --sign, inspect --verify and verify (an image, a written stick), and
# what they refuse (a flipped byte anywhere, another key, no signature, bad keys); the kernel
# image signed with --secure-boot-key on amd64 and arm64.
# The command line: each command's --help, usage errors, the man page, the bash completion and
# make install.
check-cli: all target-arm64
	bash tests/cli/run.sh

check-verify: all target-arm64
	bash tests/verify/run.sh

# arm64 images are bootstrapped under qemu-user (binfmt_misc, set up by make deps).
target-arm64: host
	$(MAKE) ARCH=arm64 target

# make install [PREFIX=/usr/local] [DESTDIR=]: gapbox with what its builds take from beside it
# (the target programs of both architectures, the profiles and the overlays they name, the test
# node's among them, and qemu/site with its lib.sh, which gapbox smoke boots with, in
# PREFIX/lib/gapbox, laid out as in this tree, which is where the binary looks for them), the
# command on the PATH as a symlink to it, the man page and the bash completion.
PREFIX ?= /usr/local
GAPBOX_LIB = $(DESTDIR)$(PREFIX)/lib/gapbox
install: all target-arm64
	install -D -m 0755 $(HB)/gapbox $(GAPBOX_LIB)/build/host/gapbox
	for arch in amd64 arm64; do for p in gapbox-init gapbox-fetch gapbox-firstboot; do \
		install -D -m 0755 build/$$arch/$$p $(GAPBOX_LIB)/build/$$arch/$$p || exit 1; done; done
	rm -rf $(GAPBOX_LIB)/profiles $(GAPBOX_LIB)/overlay $(GAPBOX_LIB)/qemu
	cp -R profiles overlay $(GAPBOX_LIB)/
	install -d $(GAPBOX_LIB)/qemu
	install -m 0755 qemu/site $(GAPBOX_LIB)/qemu/site
	install -m 0644 qemu/lib.sh $(GAPBOX_LIB)/qemu/lib.sh
	install -d $(DESTDIR)$(PREFIX)/bin
	ln -sfn ../lib/gapbox/build/host/gapbox $(DESTDIR)$(PREFIX)/bin/gapbox
	install -D -m 0644 builder/gapbox.1 $(DESTDIR)$(PREFIX)/share/man/man1/gapbox.1
	install -D -m 0644 builder/gapbox.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/gapbox

check-boot-arm64: target-arm64
	ARCH=arm64 bash tests/boot/run.sh

check-e2e: all
	bash tests/e2e/run.sh

check-e2e-arm64: target-arm64
	ARCH=arm64 bash tests/e2e/run.sh

# gapbox smoke on a good image and on two broken ones (amd64); ARCH=arm64 on the good one (and
# on the broken ones with GAPBOX_SMOKE_FAULTS=1).
check-smoke: all
	bash tests/smoke/run.sh

check-smoke-arm64: target-arm64
	ARCH=arm64 bash tests/smoke/run.sh

check-payload: all
	python3 tests/payload/run.py

check-firstboot: all target-arm64
	bash tests/firstboot/run.sh

check-kubespray: all
	python3 tests/kubespray/run.py

check-persist: all
	bash tests/persist/run.sh

check-persist-arm64: target-arm64
	ARCH=arm64 bash tests/persist/run.sh

# Netboot: the test HTTP server, then an image's netboot folder booted from the NIC to a healthy
# appliance (iPXE, OVMF and AAVMF with GRUB) and, for amd64, the faults.
check-netboot: all
	bash tests/netboot/run.sh

check-netboot-arm64: target-arm64
	ARCH=arm64 bash tests/netboot/run.sh

# make check runs two lanes side by side, each suite in a lane after the one before it, and
# prints each suite's output when it ends. The arm64 lane starts at once, so its rootfs
# bootstrap (minutes under qemu-user) overlaps the amd64 lane's work; the arm64 test node
# shares that bootstrap (same package list as the admin), and the cache lock lets no two
# bootstraps of one architecture run at once.
#   amd64: shellcheck, unit, first-boot, bad input, the amd64 initramfs's netboot client, gapbox
#          write, amd64 boot matrix, amd64 two-VM site, gapbox smoke (amd64), amd64 persistence
#          and power cuts
#   arm64: kubespray download URLs, payload, reproducibility (amd64 builds, one of them from an
#          empty cache), signed images, the arm64 initramfs's
#          netboot client (bootstraps the arm64 rootfs), arm64 boot matrix,
#          arm64 two-VM site, arm64 persistence, then the netboots of both architectures (to
#          healthy, and amd64's faults), which this lane has the time for
# Each lane's suite ends with a line saying when, counted from the start of make check: where
# the 60 minutes go.
CHECK_START ?= $(shell date +%s)
lane_done = echo "\# $@ ended $$(( $$(date +%s) - $(CHECK_START) )) s into make check"
lane-shell: all target-arm64
	$(MAKE) --no-print-directory check-shell
	bash tests/cli/run.sh
	@$(lane_done)
lane-unit: lane-shell
	$(MAKE) --no-print-directory check-unit
	@$(lane_done)
lane-firstboot: lane-unit
	bash tests/firstboot/run.sh
	@$(lane_done)
lane-errors: lane-firstboot
	bash tests/errors/run.sh
	@$(lane_done)
lane-initrd-amd64: lane-errors
	bash tests/initrd/run.sh
	@$(lane_done)
lane-write: lane-initrd-amd64
	bash tests/write/run.sh
	@$(lane_done)
lane-boot-amd64: lane-write
	bash tests/boot/run.sh
	@$(lane_done)
lane-e2e-amd64: lane-boot-amd64
	bash tests/e2e/run.sh
	@$(lane_done)
lane-smoke-amd64: lane-e2e-amd64
	bash tests/smoke/run.sh
	@$(lane_done)
lane-persist-amd64: lane-smoke-amd64
	bash tests/persist/run.sh
	@$(lane_done)
lane-kubespray: all target-arm64
	python3 tests/kubespray/run.py
	@$(lane_done)
lane-payload: lane-kubespray
	python3 tests/payload/run.py
	@$(lane_done)
lane-repro: lane-payload
	bash tests/repro/run.sh
	@$(lane_done)
lane-verify: lane-repro
	bash tests/verify/run.sh
	@$(lane_done)
lane-initrd-arm64: lane-verify
	ARCH=arm64 bash tests/initrd/run.sh
	@$(lane_done)
lane-boot-arm64: lane-initrd-arm64
	ARCH=arm64 bash tests/boot/run.sh
	@$(lane_done)
lane-e2e-arm64: lane-boot-arm64
	ARCH=arm64 bash tests/e2e/run.sh
	@$(lane_done)
lane-persist-arm64: lane-e2e-arm64
	ARCH=arm64 bash tests/persist/run.sh
	@$(lane_done)
lane-netboot-amd64: lane-persist-arm64
	bash tests/netboot/run.sh
	@$(lane_done)
lane-netboot-arm64: lane-netboot-amd64
	ARCH=arm64 bash tests/netboot/run.sh
	@$(lane_done)
check-lanes: lane-persist-amd64 lane-netboot-arm64

check: deps
	$(MAKE) --no-print-directory -j2 --output-sync=target CHECK_START=$$(date +%s) check-lanes
	@echo "make check: all suites passed"

# make image [OUTPUTS=DIR]: DIR is kubespray-offline's outputs/ folder, the payload.
image: deps
	$(MAKE) all
	$(HB)/gapbox build $(PROFILE) $(if $(OUTPUTS),--outputs $(OUTPUTS)) -o $(OUT)/gapbox-$(notdir $(basename $(PROFILE))).iso

# The whole thing working: a sample payload, the admin and a node under QEMU, the node set up
# from the admin, the admin's status and page (qemu/demo). DEMO_FLAGS=--no-hold ends it there.
demo: deps
	$(MAKE) all
	bash qemu/demo --arch $(ARCH) $(DEMO_FLAGS)

bench: all
	bash tests/bench/build.sh

clean:
	rm -rf build

-include $(shell find $(HB) $(TB) -name '*.d' -type f 2>/dev/null)
