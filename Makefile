# The two commands a learner needs:
#   go run ./labctl      open the lab
#   make test            provision what the tests need, then run the whole test suite
#
# `make test` is what .ci/run calls. On a Debian/Ubuntu machine as root it installs and starts
# everything itself; elsewhere the provision scripts say what to install and the tests use what exists.

# testcontainers on these machines: talk to loopback only, and no Ryuk (it would need a pulled image).
export TESTCONTAINERS_HOST_OVERRIDE ?= localhost
export TESTCONTAINERS_RYUK_DISABLED ?= true

GO ?= go
TEST_TIMEOUT ?= 60m

.PHONY: test provision provision-native provision-docker test-only lab vet mutate

test: provision test-only

test-only:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

provision: provision-native provision-docker

provision-native:
	bash infra/scripts/provision-native.sh

provision-docker:
	bash infra/scripts/provision-docker.sh

lab:
	$(GO) run ./labctl

vet:
	$(GO) vet ./...
	cd chapters && $(GO) vet ./...

# Authors: mutation-test every solution with gremlins and rewrite docs/mutation.md and docs/mutation.zh-CN.md.
# Slow (about an hour on two busy cores) and not part of CI. It needs the servers the exercises use
# (run `make provision` first, and `go run ./labctl infra install consul` for chapter 05).
mutate:
	$(GO) run ./labctl mutate --write
