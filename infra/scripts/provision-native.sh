#!/usr/bin/env bash
# Provisions what the native providers of infra/ need: MariaDB, Redis, RabbitMQ, PostgreSQL, Prometheus (with
# promtool) and etcd from the distribution's packages, and Consul and Jaeger builds from the Go module proxy (cached in
# ~/.cache/microlab/bin/consul and ~/.cache/microlab/bin/jaeger).
# Idempotent: whatever is already there is left alone. Safe to run on every CI job.
#
#   infra/scripts/provision-native.sh [--no-consul] [--no-jaeger]
#
# Packages are installed only when they are missing, apt-get exists and this runs as root; otherwise the
# script prints what to install and goes on. The Consul build takes a few minutes on two cores, once; the Jaeger
# build about 5 minutes on two idle cores (35 minutes were measured on a machine loaded ten times over), once.
# As root with apt-get (CI) every failure is an error; elsewhere the script exits 0 after saying what is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=common.sh
. "$here/common.sh"
build_consul=1
build_jaeger=1
for arg in "$@"; do
	case $arg in
	--no-consul) build_consul=0 ;;
	--no-jaeger) build_jaeger=0 ;;
	-h | --help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "provision-native.sh: unknown argument $arg" >&2; exit 2 ;;
	esac
done

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ]; }

missing=()
if ! have mariadbd && ! have mysqld; then missing+=(mariadb-server); fi
if ! have redis-server; then missing+=(redis-server); fi
# The native provider runs the package's own start script, not the system service.
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && ! have rabbitmq-server; then missing+=(rabbitmq-server); fi
# Debian keeps PostgreSQL's server binaries off PATH, in /usr/lib/postgresql/<major>/bin.
if ! have initdb && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then missing+=(postgresql); fi
# Debian's prometheus package brings promtool too (chapter 09 runs `promtool test rules`).
if ! have prometheus || ! have promtool; then missing+=(prometheus); fi
# Debian's etcd-server is etcd 3.4: it serves the v3 API that the clientv3 of go.mod speaks.
if ! have etcd; then missing+=(etcd-server); fi

if [ ${#missing[@]} -eq 0 ]; then
	echo "provision-native: mariadb-server, redis-server, rabbitmq-server, postgresql, prometheus and etcd-server are installed"
elif can_provision; then
	echo "provision-native: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# The package lists may be missing on a fresh machine; refresh them only then.
	if ! apt-cache show "${missing[0]}" >/dev/null 2>&1; then apt-get update -q; fi
	# The tests start their own servers on free loopback ports: keep the packages' system services from
	# starting (they would listen on the default ports for nothing). policy-rc.d is Debian's switch for that.
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "provision-native: please install: ${missing[*]}" >&2
	echo "  Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
	echo "  macOS:         brew install mariadb redis rabbitmq postgresql prometheus etcd" >&2
	echo "  (or let Docker serve them: infra/scripts/provision-docker.sh)" >&2
	conformance_hint
fi

consul_cache="${HOME}/.cache/microlab/bin/consul"
if [ "$build_consul" -eq 0 ]; then
	:
elif [ -n "${LAB_CONSUL_BIN:-}" ] && [ -x "$LAB_CONSUL_BIN" ]; then
	echo "provision-native: consul from LAB_CONSUL_BIN=$LAB_CONSUL_BIN"
elif command -v consul >/dev/null 2>&1; then
	echo "provision-native: consul on PATH: $(command -v consul)"
elif [ -x "$consul_cache" ]; then
	echo "provision-native: consul cached at $consul_cache"
else
	if ! command -v go >/dev/null 2>&1; then
		consul_err="the go command is missing"
	else
		echo "provision-native: building Consul into $consul_cache (a few minutes, once)"
		(cd "$root" && go run ./labctl infra install consul) || consul_err="the build failed (output above)"
	fi
	if [ -n "${consul_err:-}" ]; then
		can_provision && { echo "provision-native.sh: cannot build Consul: $consul_err" >&2; exit 1; }
		echo "provision-native: no native Consul: $consul_err." >&2
		echo "  Try again with: go run ./labctl infra install consul   (needs the Go module proxy)" >&2
		echo "  or install it:  brew install hashicorp/tap/consul (macOS), or put a consul binary on PATH" >&2
		conformance_hint
	fi
fi

jaeger_cache="${HOME}/.cache/microlab/bin/jaeger"
if [ "$build_jaeger" -eq 0 ]; then
	:
elif [ -n "${LAB_JAEGER_BIN:-}" ] && [ -x "$LAB_JAEGER_BIN" ]; then
	echo "provision-native: jaeger from LAB_JAEGER_BIN=$LAB_JAEGER_BIN"
elif [ -x "$jaeger_cache" ]; then
	echo "provision-native: jaeger cached at $jaeger_cache"
else
	if ! command -v go >/dev/null 2>&1; then
		jaeger_err="the go command is missing"
	else
		# Progress lines (every 100 packages compiled) come from labctl; the build is long and otherwise silent.
		echo "provision-native: building Jaeger v2 into $jaeger_cache (about 5 minutes on two idle cores, up to half an hour on a busy machine; once; progress every 100 packages)"
		jaeger_begin=$(date +%s)
		if (cd "$root" && go run ./labctl infra install jaeger); then
			echo "provision-native: jaeger built in $(($(date +%s) - jaeger_begin)) s"
		else
			jaeger_err="the build failed (output above)"
		fi
	fi
	if [ -n "${jaeger_err:-}" ]; then
		can_provision && { echo "provision-native.sh: cannot build Jaeger: $jaeger_err" >&2; exit 1; }
		echo "provision-native: no native Jaeger: $jaeger_err." >&2
		echo "  Try again with: go run ./labctl infra install jaeger   (needs the Go module proxy)" >&2
		echo "  or set LAB_JAEGER_BIN to a Jaeger v2 binary" >&2
		conformance_hint
	fi
fi
