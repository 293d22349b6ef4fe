#!/usr/bin/env bash
# Makes Docker usable for the lab's Docker provider on a Debian or Ubuntu machine, then builds the local images.
# Idempotent: each step is skipped when it is already done.
#   1. installs docker.io with apt when no Docker engine is installed (needs root);
#   2. starts dockerd in the background when /var/run/docker.sock does not answer (log: $LAB_DOCKERD_LOG,
#      pid: $LAB_DOCKERD_PID), and waits up to 60 s for it;
#   3. runs infra/images/build.sh, which builds the stand-in images that are missing (no registry needed).
# Where systemd runs Docker (a normal desktop or server), step 2 finds it answering and does nothing.
# Stop a dockerd this script started with: kill "$(cat "$LAB_DOCKERD_PID")".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dockerd_log=${LAB_DOCKERD_LOG:-/var/log/microlab-dockerd.log}
dockerd_pid=${LAB_DOCKERD_PID:-/run/microlab-dockerd.pid}
begin=$(date +%s)

log() { printf '[provision-docker %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'provision-docker.sh: %s\n' "$*" >&2; exit 1; }
step() { # step NAME START: prints how long the step took
	log "$1 done in $(($(date +%s) - $2)) s"
}

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

t=$(date +%s)
if command -v dockerd >/dev/null && command -v docker >/dev/null; then
	log "Docker engine installed: $(dockerd --version)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	log "installing docker.io with apt"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	# Keep the package from starting its own daemon: step 2 starts one whose PID we know, so it can be stopped.
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
	step "apt-get install docker.io" "$t"
else
	die "no Docker engine, and this is not root with apt: install Docker (https://docs.docker.com/engine/install/) and run this again"
fi

t=$(date +%s)
if answers; then
	log "the Docker daemon answers (server $(docker version --format '{{.Server.Version}}'))"
else
	[ "$(id -u)" = 0 ] || die "the Docker daemon does not answer; start it (sudo systemctl start docker) or run this script as root"
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
"$root/infra/images/build.sh"
step "local images" "$t"

log "provisioned in $(($(date +%s) - begin)) s. For tests: export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=localhost"
