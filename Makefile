# swiftfs — see README.md. `make run` mounts a sample repository from a local
# Swift at ./mnt; `make test` runs every test tier.
SHELL := /bin/bash
GO ?= go
SAIO := test/integration/saio/swift.sh
MNT ?= $(CURDIR)/mnt
CONTAINER ?= demo
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN := bin/swiftfs
IT_FLAGS ?= -count=1 -p 1 -timeout 20m
export GODEBUG := asyncpreemptoff=1

.PHONY: help build install uninstall run stop test unit integration it-swifttest it-v1 it-conformance it-keystone it-writeback vet check-imports bench smoke-bench

help:
	@echo "make run    build, start a local Swift, mount a sample Butler repository at ./mnt"
	@echo "make stop   unmount ./mnt and stop the local Swift"
	@echo "make test   vet, unit tests (-race), integration tests (swifttest, write-back on a Swift of their own, real Swift v1 + Keystone v3)"
	@echo "make bench  benchmarks against rclone mount and the swift CLI (bench/)"
	@echo "make install  swiftfs in \$$(PREFIX)/bin, mount.fuse.swiftfs and umount.fuse.swiftfs in \$$(SBINDIR), swiftfs@.service (PREFIX=/usr/local, DESTDIR)"

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/swiftfs

# make install: the binary, mount(8)'s and umount(8)'s helpers
# /sbin/mount.fuse.swiftfs and /sbin/umount.fuse.swiftfs (links to it:
# swiftfs acts as a helper by its name) and the systemd unit
# template with ExecStart set to the installed binary (docs/CONFIGURATION.md,
# "/etc/fstab and mount" and "systemd").
PREFIX ?= /usr/local
SBINDIR ?= /sbin
UNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=

install: build
	install -D -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/swiftfs
	install -d $(DESTDIR)$(SBINDIR)
	ln -sfn $(PREFIX)/bin/swiftfs $(DESTDIR)$(SBINDIR)/mount.fuse.swiftfs
	ln -sfn $(PREFIX)/bin/swiftfs $(DESTDIR)$(SBINDIR)/umount.fuse.swiftfs
	install -d $(DESTDIR)$(UNITDIR)
	sed 's#/usr/local/bin/swiftfs#$(PREFIX)/bin/swiftfs#; s#/usr/local/share/doc/swiftfs#$(PREFIX)/share/doc/swiftfs#' \
	  'contrib/systemd/swiftfs@.service' > '$(DESTDIR)$(UNITDIR)/swiftfs@.service'
	chmod 644 '$(DESTDIR)$(UNITDIR)/swiftfs@.service'
	install -D -m 644 docs/CONFIGURATION.md $(DESTDIR)$(PREFIX)/share/doc/swiftfs/CONFIGURATION.md

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/swiftfs $(DESTDIR)$(SBINDIR)/mount.fuse.swiftfs $(DESTDIR)$(SBINDIR)/umount.fuse.swiftfs \
	  '$(DESTDIR)$(UNITDIR)/swiftfs@.service' $(DESTDIR)$(PREFIX)/share/doc/swiftfs/CONFIGURATION.md

run: build
	$(SAIO) install
	$(SAIO) start
	scripts/demo.sh "$(CONTAINER)" "$(MNT)"

stop:
	-$(BIN) sync "$(MNT)" 2>/dev/null
	-fusermount3 -u "$(MNT)" 2>/dev/null || umount "$(MNT)" 2>/dev/null
	$(SAIO) stop

vet: check-imports
	$(GO) vet ./...
	$(GO) vet -tags integration ./test/integration/
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

check-imports:
	@scripts/check-imports.sh

unit:
	SWIFTFS_TEST_REQUIRE_ROOT=1 $(GO) test -race -count=1 ./...

test: vet unit integration

integration: it-swifttest it-writeback it-v1 it-conformance it-keystone

# SWIFTFS_TEST_REQUIRE_SERVICE=1: the fstab and systemd tests (root) fail
# instead of skipping.
it-swifttest:
	SWIFTFS_TEST_REQUIRE_SERVICE=1 SWIFTFS_TEST_BACKEND=swifttest $(GO) test -tags integration $(IT_FLAGS) ./test/integration/

it-v1:
	$(SAIO) install --keystone
	$(SAIO) start --keystone
	eval "$$($(SAIO) env)" && SWIFTFS_TEST_REAL=1 $(GO) test -count=1 ./swiftclient/... && \
	  SWIFTFS_TEST_REQUIRE_SERVICE=1 $(GO) test -tags integration $(IT_FLAGS) -skip '^TestConformance$$' ./test/integration/

# The conformance tier (test/integration/conformance_test.go) on the real
# Swift, verbose so that its "conformance:" counts reach the log; its skip
# is a failure here, and .ci/run checks the counts.
CONF_LOG ?= /tmp/swiftfs-it-conformance.log
it-conformance:
	$(SAIO) install --keystone
	$(SAIO) start --keystone
	@set -euo pipefail; eval "$$($(SAIO) env)"; t0=$$SECONDS; \
	SWIFTFS_TEST_REQUIRE_CONFORMANCE=1 $(GO) test -tags integration $(IT_FLAGS) -v -run '^TestConformance$$' \
	  ./test/integration/ 2>&1 | tee $(CONF_LOG); \
	echo "it-conformance: $$((SECONDS - t0)) s"

# TestCloudsYAML (credentials from clouds.yaml) needs Keystone; here its
# skip is a failure.
it-keystone:
	$(SAIO) install --keystone
	$(SAIO) start --keystone
	eval "$$($(SAIO) env --keystone)" && SWIFTFS_TEST_REQUIRE_KEYSTONE=1 $(GO) test -tags integration $(IT_FLAGS) -run 'Test(WriteReadRemount|TempRename|Symlinks|Refuses|Directories|Crash|CloudsYAML)' ./test/integration/

# The write-back tests stop, restart and reconfigure the Swift they run
# against, so they get one of their own (reset at each run; ports apart from
# it-v1's and bench's), stopped afterwards whatever happens:
# TestWritebackSwiftOutage and TestWritebackTokenExpiry with tokens that
# expire after 5 s, then the 6 GiB TestWritebackLargeFile with normal tokens
# and a daemon built without -race. SWIFTFS_TEST_REQUIRE_WRITEBACK=1 turns
# their skips into failures, and each must report PASS.
WB_SAIO := SAIO_DIR=/tmp/saio-wb SAIO_PORT=8096 SAIO_MEMCACHED_PORT=11296 \
  SAIO_OBJECT_PORT=6302 SAIO_CONTAINER_PORT=6303 SAIO_ACCOUNT_PORT=6304 \
  SAIO_UPDATER_INTERVAL=60 SAIO_OBJECT_UPDATER_INTERVAL=10
WB_LOG ?= /tmp/swiftfs-it-writeback.log

it-writeback:
	$(SAIO) install --keystone
	@set -euo pipefail; export $(WB_SAIO) SWIFTFS_TEST_REQUIRE_WRITEBACK=1; \
	trap '$(SAIO) stop' EXIT; trap 'exit 1' INT TERM HUP; \
	passed() { for t in "$$@"; do grep -q "^--- PASS: $$t " $(WB_LOG) || \
	  { echo "it-writeback: $$t did not pass" >&2; return 1; }; done; }; \
	t0=$$SECONDS; : >$(WB_LOG); \
	$(SAIO) reset; \
	SAIO_TOKEN_LIFE=5 $(SAIO) start; \
	eval "$$($(SAIO) env)"; \
	t1=$$SECONDS; \
	SAIO_TOKEN_LIFE=5 $(GO) test -tags integration $(IT_FLAGS) -v \
	  -run '^TestWriteback(SwiftOutage|TokenExpiry)$$' ./test/integration/ 2>&1 | tee -a $(WB_LOG); \
	passed TestWritebackSwiftOutage TestWritebackTokenExpiry; \
	echo "it-writeback: outage and token expiry tests: $$((SECONDS - t1)) s"; \
	SAIO_TOKEN_LIFE=86400 $(SAIO) start; \
	t1=$$SECONDS; \
	SAIO_TOKEN_LIFE=86400 SWIFTFS_TEST_LARGE=1 SWIFTFS_TEST_RACE=0 $(GO) test -tags integration $(IT_FLAGS) -v \
	  -run '^TestWritebackLargeFile$$' ./test/integration/ 2>&1 | tee -a $(WB_LOG); \
	passed TestWritebackLargeFile; \
	echo "it-writeback: 6 GiB test: $$((SECONDS - t1)) s; it-writeback: $$((SECONDS - t0)) s"

bench: build
	bench/run.sh

smoke-bench: build
	bench/run.sh --smoke
