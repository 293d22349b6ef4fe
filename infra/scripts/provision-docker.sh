#!/usr/bin/env bash
# Makes Docker usable for the lab's Docker provider, then builds the local images. Idempotent: each step is
# skipped when it is already done.
#   1. uses the Docker daemon that answers (systemd, Docker Desktop, Colima, Podman: whatever `docker` reaches);
#   2. otherwise, as root with apt-get: installs docker.io if no engine is installed, and starts dockerd in the
#      background (log: $LAB_DOCKERD_LOG, pid: $LAB_DOCKERD_PID), waiting up to 60 s for it;
#   3. runs infra/images/build.sh, which builds the stand-in images that are missing (no registry needed).
# As root with apt-get (CI) every failure is an error. Anywhere else the script says what is missing and what
# to do, and exits 0: the tests then use the providers that can serve.
# Stop a dockerd this script started with: kill "$(cat "$LAB_DOCKERD_PID")".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=common.sh
. "$here/common.sh"
dockerd_log=${LAB_DOCKERD_LOG:-/var/log/microlab-dockerd.log}
dockerd_pid=${LAB_DOCKERD_PID:-/run/microlab-dockerd.pid}
begin=$(date +%s)

log() { printf '[provision-docker %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'provision-docker.sh: %s\n' "$*" >&2; exit 1; }
step() { # step NAME START: prints how long the step took
	log "$1 done in $(($(date +%s) - $2)) s"
}
# without_docker REASON FIX: on a machine this script may not set up, explain and stop without failing.
without_docker() {
	printf 'provision-docker: %s, so the Docker provider cannot serve here.\n  To use it: %s\n' "$1" "$2" >&2
	conformance_hint
	exit 0
}

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

t=$(date +%s)
if answers; then
	log "the Docker daemon answers (server $(docker version --format '{{.Server.Version}}'))"
else
	if command -v dockerd >/dev/null && command -v docker >/dev/null; then
		log "Docker engine installed: $(dockerd --version)"
	elif can_provision; then
		log "installing docker.io with apt"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		# Keep the package from starting its own daemon: the step below starts one whose PID we know.
		policy=/usr/sbin/policy-rc.d
		if [ ! -e "$policy" ]; then
			printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
			trap 'rm -f "$policy"' EXIT
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
		step "apt-get install docker.io" "$t"
	elif command -v docker >/dev/null; then
		without_docker "the docker CLI finds no daemon" \
			"start one (Docker Desktop; \`colima start\`; \`podman machine start\`; \`sudo systemctl start docker\`), or point DOCKER_HOST at it, then run this again"
	else
		without_docker "no Docker engine is installed" \
			"install Docker Desktop, Colima or Podman (macOS), or docker.io / Docker Engine (Linux), then run this again"
	fi

	t=$(date +%s)
	[ "$(id -u)" = 0 ] || without_docker "the Docker daemon does not answer ($(docker version 2>&1 >/dev/null | head -1))" \
		"start it (\`sudo systemctl start docker\`) and make sure you may use it (the docker group), or run this script as root (\`sudo $0\`) to start dockerd"
	if [ -f "$dockerd_pid" ] && kill -0 "$(cat "$dockerd_pid")" 2>/dev/null; then
		log "dockerd (pid $(cat "$dockerd_pid")) runs but does not answer yet; waiting"
	else
		log "starting dockerd in the background (log $dockerd_log)"
		mkdir -p "$(dirname "$dockerd_log")" "$(dirname "$dockerd_pid")"
		# setsid: the daemon must outlive this script and its terminal.
		setsid dockerd >>"$dockerd_log" 2>&1 </dev/null &
		echo $! >"$dockerd_pid"
	fi
	for _ in $(seq 1 60); do
		answers && break
		kill -0 "$(cat "$dockerd_pid")" 2>/dev/null || { tail -20 "$dockerd_log" >&2; die "dockerd exited (log above)"; }
		sleep 1
	done
	answers || { tail -20 "$dockerd_log" >&2; die "dockerd did not answer within 60 s (log above)"; }
	log "dockerd pid $(cat "$dockerd_pid") answers"
	step "start dockerd" "$t"
fi

t=$(date +%s)
if ! "$root/infra/images/build.sh"; then
	can_provision && die "infra/images/build.sh failed (see above)"
	printf 'provision-docker: some images are missing (see above); the Docker provider cannot serve those services.\n' >&2
	conformance_hint
	exit 0
fi
step "local images" "$t"

log "provisioned in $(($(date +%s) - begin)) s. For tests: export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=localhost"
