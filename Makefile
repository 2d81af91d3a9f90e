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

.PHONY: help build run stop test unit integration it-swifttest it-v1 it-keystone vet check-imports bench smoke-bench

help:
	@echo "make run    build, start a local Swift, mount a sample Butler repository at ./mnt"
	@echo "make stop   unmount ./mnt and stop the local Swift"
	@echo "make test   vet, unit tests (-race), integration tests (real Swift v1 + Keystone v3, swifttest)"
	@echo "make bench  benchmarks against rclone mount and the swift CLI (bench/)"

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/swiftfs

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
	$(GO) test -race -count=1 ./...

test: vet unit integration

integration: it-swifttest it-v1 it-keystone

it-swifttest:
	SWIFTFS_TEST_BACKEND=swifttest $(GO) test -tags integration $(IT_FLAGS) ./test/integration/

it-v1:
	$(SAIO) install --keystone
	$(SAIO) start --keystone
	eval "$$($(SAIO) env)" && SWIFTFS_TEST_REAL=1 $(GO) test -count=1 ./swiftclient/... && \
	  $(GO) test -tags integration $(IT_FLAGS) ./test/integration/

it-keystone:
	$(SAIO) install --keystone
	$(SAIO) start --keystone
	eval "$$($(SAIO) env --keystone)" && $(GO) test -tags integration $(IT_FLAGS) -run 'Test(WriteReadRemount|TempRename|Symlinks|Refuses|Directories|Crash)' ./test/integration/

bench: build
	bench/run.sh

smoke-bench: build
	bench/run.sh --smoke
