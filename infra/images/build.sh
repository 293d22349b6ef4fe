#!/usr/bin/env bash
# Builds the local stand-in images that the Docker provider of infra/ runs when the official images
# (mysql, redis, hashicorp/consul, confluentinc/confluent-local, rabbitmq, postgres, jaegertracing/jaeger,
# prom/prometheus, gcr.io/etcd-development/etcd) are not on this machine.
# Nothing here talks to a container registry: Debian-packaged servers come from a root filesystem
# made with debootstrap from the machine's own apt mirror, Go servers are static binaries.
#
#   infra/images/build.sh [--force] [mariadb|redis|consul|kafka|rabbitmq|postgres|jaeger|prometheus|etcd ...]   (default: all nine)
#
# Idempotent: an image whose tag already exists is skipped unless --force is given, and so is a service whose
# official image is on this machine (the Docker provider prefers it).
# Exit status: 0 when every requested service has an image; 1 when a build failed; 3 when some stand-ins cannot
# be built on this machine (the script says why and what to do instead, e.g. `docker pull` the official image).
# As root with apt-get it installs debootstrap if missing.
# Settings (environment):
#   LAB_DEBIAN_MIRROR  Debian mirror for debootstrap (default: the first non-security Debian source in /etc/apt)
#   LAB_DEBIAN_SUITE   Debian suite (default: bookworm)
#   LAB_DEBOOTSTRAP_CACHE  where downloaded .deb files are kept between builds (default: $HOME/.cache/microlab/debootstrap)
#   LAB_CONSUL_BIN     static Linux consul binary (default: $HOME/.cache/microlab/bin/consul, as built by `labctl infra install consul`)
#   LAB_JAEGER_BIN     static Linux jaeger (v2) binary (default: $HOME/.cache/microlab/bin/jaeger, as built by `labctl infra install jaeger`)
#   LAB_PROMETHEUS_BIN prometheus binary to copy in (default: the one on PATH, Debian's package)
#   TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX  registry mirror prefix, as the Docker provider applies it to official images
#   DOCKER             docker CLI (default: docker)
# The tags below must match the stand-in names in infra/docker_images.go.
set -euo pipefail

MARIADB_IMAGE=microlab/mariadb:10.11
REDIS_IMAGE=microlab/redis:7.0
CONSUL_IMAGE=microlab/consul:1.20.6
KAFKA_IMAGE=microlab/kafka-kfake:1
POSTGRES_IMAGE=microlab/postgres:15
RABBITMQ_IMAGE=microlab/rabbitmq:3.10
JAEGER_IMAGE=microlab/jaeger:2.13.0
PROMETHEUS_IMAGE=microlab/prometheus:2.42
ETCD_IMAGE=microlab/etcd:3.7.0

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../scripts/common.sh
. "$root/infra/scripts/common.sh"
docker=${DOCKER:-docker}
suite=${LAB_DEBIAN_SUITE:-bookworm}
deb_cache=${LAB_DEBOOTSTRAP_CACHE:-$HOME/.cache/microlab/debootstrap}
consul_bin=${LAB_CONSUL_BIN:-$HOME/.cache/microlab/bin/consul}
jaeger_bin=${LAB_JAEGER_BIN:-$HOME/.cache/microlab/bin/jaeger}
prometheus_bin=${LAB_PROMETHEUS_BIN:-$(command -v prometheus || true)}
force=0
wanted=()
for arg in "$@"; do
	case $arg in
	--force) force=1 ;;
	mariadb | mysql) wanted+=(mariadb) ;;
	redis | consul | kafka | rabbitmq | postgres | jaeger | prometheus | etcd) wanted+=("$arg") ;;
	-h | --help) sed -n '2,24p' "$0"; exit 0 ;;
	*) echo "build.sh: unknown argument $arg (want --force, mariadb, redis, consul, kafka, rabbitmq, postgres, jaeger, prometheus, etcd)" >&2; exit 2 ;;
	esac
done
[ ${#wanted[@]} -gt 0 ] || wanted=(mariadb redis consul kafka rabbitmq postgres jaeger prometheus etcd)

log() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }
# cannot REASON: this machine cannot build the current stand-in (exit status 3 of a build function).
cannot() { printf 'build.sh: cannot build here: %s\n' "$*" >&2; exit 3; }

"$docker" info >/dev/null 2>&1 || die "the Docker daemon does not answer; run infra/scripts/provision-docker.sh (or start Docker) first"
# The platform the images must be built for: the daemon's, which is Linux even where docker runs on macOS.
server_arch=$("$docker" version --format '{{.Server.Arch}}' 2>/dev/null || true)
[ -n "$server_arch" ] || server_arch=$(uname -m | sed -e 's/^x86_64$/amd64/' -e 's/^aarch64$/arm64/')

work=$(mktemp -d "${TMPDIR:-/var/tmp}/microlab-images.XXXXXX")
trap 'rm -rf "$work"' EXIT

exists() { "$docker" image inspect "$1" >/dev/null 2>&1; }

# hub_name IMAGE prints the name the Docker provider looks for: IMAGE under TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX.
hub_name() {
	local prefix=${TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX:-}
	# As testcontainers does: an image that names a registry (a first path element with a dot or a port) keeps its name.
	case ${1%%/*} in *.* | *:*) [ "${1#*/}" != "$1" ] && prefix= ;; esac
	if [ -z "$prefix" ]; then echo "$1"; else echo "${prefix%/}/$1"; fi
}

# need IMAGE OFFICIAL succeeds when IMAGE must be built: missing (or --force), and OFFICIAL not on this machine.
need() {
	if [ "$force" = 0 ] && exists "$1"; then
		log "$1 exists, skipped ($(size "$1"))"
		return 1
	fi
	if [ "$force" = 0 ] && exists "$(hub_name "$2")"; then
		log "$(hub_name "$2") is on this machine and serves instead; $1 skipped"
		return 1
	fi
	log "$1: building"
	return 0
}

size() { "$docker" image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.0f MB", $1 / 1000000 }'; }

# debian_mirror prints the first Debian (non-security) archive URL apt is configured with.
debian_mirror() {
	if [ -n "${LAB_DEBIAN_MIRROR:-}" ]; then echo "$LAB_DEBIAN_MIRROR"; return; fi
	local url
	# one-line format: deb [options] URL suite components
	url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i+1) !~ /security/) { print $i; exit } } }')
	if [ -z "$url" ]; then
		# deb822 format: blocks of "Key: value" lines separated by blank lines
		url=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk 'BEGIN { RS = ""; FS = "\n" }
			{ uri = ""; suites = ""
			  for (i = 1; i <= NF; i++) { if ($i ~ /^URIs:/) uri = $i; if ($i ~ /^Suites:/) suites = $i }
			  if (uri != "" && suites !~ /security/) { sub(/^URIs:[ \t]*/, "", uri); split(uri, u, /[ \t]+/); print u[1]; exit } }')
	fi
	echo "${url:-http://deb.debian.org/debian}"
}

# import_dir DIR IMAGE CHANGE... packs DIR as the whole root filesystem of IMAGE.
import_dir() {
	local dir=$1 image=$2
	shift 2
	local changes=()
	for c in "$@"; do changes+=(-c "$c"); done
	tar --numeric-owner -C "$dir" -c . | "$docker" import "${changes[@]}" - "$image" >/dev/null
}

# rootfs DIR PACKAGES builds a minimal Debian root filesystem with PACKAGES and trims what a server never reads.
rootfs() {
	local dir=$1 packages=$2 mirror
	mirror=$(debian_mirror)
	if ! command -v debootstrap >/dev/null; then
		can_provision || cannot "debootstrap is missing (Debian/Ubuntu: sudo apt-get install debootstrap; it needs Linux)"
		log "installing debootstrap with apt"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
			{ DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
	fi
	[ "$(id -u)" = 0 ] || cannot "debootstrap needs root: sudo $0 ${wanted[*]}"
	mkdir -p "$deb_cache"
	log "debootstrap --variant=minbase --include=$packages $suite from $mirror"
	# The cache keeps the packages both images share, and makes a rebuild need no download.
	debootstrap --variant=minbase --cache-dir="$deb_cache" --include="$packages" "$suite" "$dir" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
	chroot "$dir" apt-get clean
	rm -rf "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* \
		"$dir"/usr/share/locale/* "$dir"/var/log/*.log "$dir"/var/cache/debconf/*-old "$dir"/tmp/*
}

build_mariadb() {
	local dir=$work/mariadb
	rootfs "$dir" mariadb-server
	# The server initialises its data directory on first start from the same variables as the official
	# mysql image (MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD).
	rm -rf "$dir"/var/lib/mysql/*
	install -m 0755 "$here/mariadb-entrypoint.sh" "$dir/usr/local/bin/microlab-entrypoint"
	import_dir "$dir" "$MARIADB_IMAGE" \
		'ENTRYPOINT ["/usr/local/bin/microlab-entrypoint"]' 'CMD ["mariadbd"]' 'EXPOSE 3306' \
		'ENV LANG=C.UTF-8' 'LABEL org.opencontainers.image.description="MariaDB 10.11 from Debian, a local stand-in for mysql"'
}

build_redis() {
	local dir=$work/redis
	rootfs "$dir" redis-server
	# Like the official image: listen on every interface of the container, no protected mode, no persistence.
	import_dir "$dir" "$REDIS_IMAGE" \
		'ENTRYPOINT ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]' \
		'EXPOSE 6379' 'LABEL org.opencontainers.image.description="redis-server 7.0 from Debian, a local stand-in for redis"'
}

build_postgres() {
	local dir=$work/postgres
	rootfs "$dir" postgresql
	# Debian's package made a cluster under /var/lib/postgresql/15/main; the entrypoint makes its own in
	# PGDATA on the first start, from the official image's variables (POSTGRES_PASSWORD, POSTGRES_USER, POSTGRES_DB).
	rm -rf "$dir"/var/lib/postgresql/* "$dir"/etc/postgresql
	install -m 0755 "$here/postgres-entrypoint.sh" "$dir/usr/local/bin/microlab-entrypoint"
	import_dir "$dir" "$POSTGRES_IMAGE" \
		'ENTRYPOINT ["/usr/local/bin/microlab-entrypoint"]' 'CMD ["postgres"]' 'EXPOSE 5432' \
		'ENV LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data' \
		'LABEL org.opencontainers.image.description="PostgreSQL 15 from Debian, a local stand-in for postgres"'
}

# scratch_image IMAGE BINARY NAME CHANGE... makes an image holding only BINARY (as /NAME) and an empty /tmp.
scratch_image() {
	local image=$1 bin=$2 name=$3
	shift 3
	local dir=$work/$name
	mkdir -p "$dir/tmp" "$dir/data"
	chmod 1777 "$dir/tmp"
	install -m 0755 "$bin" "$dir/$name"
	import_dir "$dir" "$image" "$@"
}

# check_static_go BINARY: it runs alone in a scratch image, so it must be a static Linux Go binary of the
# daemon's architecture.
check_static_go() {
	local bin=$1 info
	info=$(go version -m "$bin" 2>/dev/null || true)
	case $info in
	*"GOOS=linux"*"GOARCH=$server_arch"* | *"GOARCH=$server_arch"*"GOOS=linux"*) ;;
	*) cannot "$bin is not a linux/$server_arch Go binary (it was built for this machine, not for the Docker daemon's Linux)" ;;
	esac
	case $info in *"CGO_ENABLED=0"*) ;; *) log "warning: $bin may not be static (build it with CGO_ENABLED=0)" ;; esac
}

build_consul() {
	[ -x "$consul_bin" ] || cannot "no consul binary at $consul_bin: build it with \`go run ./labctl infra install consul\` or set LAB_CONSUL_BIN"
	check_static_go "$consul_bin"
	scratch_image "$CONSUL_IMAGE" "$consul_bin" consul \
		'ENTRYPOINT ["/consul"]' 'CMD ["agent", "-dev", "-client", "0.0.0.0"]' 'EXPOSE 8500 8600' \
		'LABEL org.opencontainers.image.description="consul 1.20.6 built from source, a local stand-in for hashicorp/consul"'
}

build_kafka() {
	command -v go >/dev/null || cannot "go is missing; it builds the kfake broker"
	log "go build ./infra/images/kfake (CGO_ENABLED=0 GOOS=linux GOARCH=$server_arch)"
	(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=$server_arch go build -trimpath -ldflags='-s -w' -o "$work/kfake-bin" ./infra/images/kfake)
	scratch_image "$KAFKA_IMAGE" "$work/kfake-bin" kfake \
		'ENTRYPOINT ["/kfake"]' 'EXPOSE 9092' 'ENV KFAKE_LISTEN=0.0.0.0:9092 KFAKE_ADVERTISED=127.0.0.1:9092' \
		'LABEL org.opencontainers.image.description="franz-go kfake, a local stand-in for confluentinc/confluent-local"'
}

build_etcd() {
	command -v go >/dev/null || cannot "go is missing; it builds etcd from the module proxy"
	# etcd's own main (go.etcd.io/etcd/server/v3/etcdmain) at the version in go.mod, as /usr/local/bin/etcd like
	# the official image, so that the Docker provider gives both the same command line.
	log "go build ./infra/images/etcd (CGO_ENABLED=0 GOOS=linux GOARCH=$server_arch)"
	(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=$server_arch go build -trimpath -ldflags='-s -w' -o "$work/etcd-bin" ./infra/images/etcd)
	local dir=$work/etcd
	mkdir -p "$dir/usr/local/bin" "$dir/tmp" "$dir/var/lib/etcd"
	chmod 1777 "$dir/tmp"
	install -m 0755 "$work/etcd-bin" "$dir/usr/local/bin/etcd"
	import_dir "$dir" "$ETCD_IMAGE" \
		'CMD ["/usr/local/bin/etcd"]' 'EXPOSE 2379 2380' \
		'LABEL org.opencontainers.image.description="etcd 3.7.0 (go.etcd.io/etcd/server/v3 etcdmain) built from source, a local stand-in for gcr.io/etcd-development/etcd"'
}

build_jaeger() {
	[ -x "$jaeger_bin" ] || cannot "no jaeger binary at $jaeger_bin: build it with \`go run ./labctl infra install jaeger\` (about 5 minutes) or set LAB_JAEGER_BIN"
	check_static_go "$jaeger_bin"
	# As the official image: its built-in all-in-one configuration (in-memory storage) on every interface of the
	# container (Docker publishes the ports on 127.0.0.1 only).
	scratch_image "$JAEGER_IMAGE" "$jaeger_bin" jaeger \
		'ENTRYPOINT ["/jaeger"]' 'ENV JAEGER_LISTEN_HOST=0.0.0.0' 'EXPOSE 4317 4318 16686' \
		'LABEL org.opencontainers.image.description="jaeger v2.13.0 (module v1.76.0) built from source, a local stand-in for jaegertracing/jaeger"'
}

build_prometheus() {
	[ -n "$prometheus_bin" ] && [ -x "$prometheus_bin" ] ||
		cannot "no prometheus binary (Debian/Ubuntu: apt-get install prometheus, or run infra/scripts/provision-native.sh; or set LAB_PROMETHEUS_BIN)"
	[ "$(uname -s)" = Linux ] || cannot "the prometheus binary of this machine is not a Linux one"
	command -v ldd >/dev/null || cannot "ldd is missing; it lists the libraries prometheus needs"
	# Debian's binary links the C library dynamically (cgo): copy it with the libraries and loader it names, a
	# root filesystem of a few megabytes besides the binary itself.
	local dir=$work/prometheus lib
	mkdir -p "$dir/bin" "$dir/prometheus" "$dir/tmp" "$dir/etc"
	chmod 1777 "$dir/tmp" "$dir/prometheus"
	install -m 0755 "$prometheus_bin" "$dir/bin/prometheus"
	for lib in $(ldd "$prometheus_bin" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'); do
		mkdir -p "$dir$(dirname "$lib")"
		cp -L "$lib" "$dir$lib"
	done
	echo 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' >"$dir/etc/passwd"
	echo 'nogroup:x:65534:' >"$dir/etc/group"
	# As the official image: the binary as entrypoint, storage in /prometheus, run as nobody.
	import_dir "$dir" "$PROMETHEUS_IMAGE" \
		'ENTRYPOINT ["/bin/prometheus"]' 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]' \
		'USER 65534' 'WORKDIR /prometheus' 'EXPOSE 9090' \
		'LABEL org.opencontainers.image.description="prometheus 2.42 from Debian, a local stand-in for prom/prometheus"'
}

build_rabbitmq() {
	local dir=$work/rabbitmq
	rootfs "$dir" rabbitmq-server
	# Listeners on every interface of the container (Docker publishes them on 127.0.0.1 only), one administrator
	# (the Docker provider's; the official image gets it from RABBITMQ_DEFAULT_USER/PASS), and the management API,
	# through which the provider creates a vhost per test.
	cat >"$dir/etc/rabbitmq/rabbitmq.conf" <<-'EOF'
	listeners.tcp.default = 5672
	management.tcp.port = 15672
	default_user = microlab
	default_pass = microlab
	default_user_tags.administrator = true
	log.console = true
	log.console.level = info
	log.file = false
	EOF
	echo '[rabbitmq_management].' >"$dir/etc/rabbitmq/enabled_plugins"
	rm -f "$dir/etc/rabbitmq/rabbitmq-env.conf"
	rm -rf "$dir"/var/lib/rabbitmq/mnesia "$dir"/var/lib/rabbitmq/.erlang.cookie
	# The start script, not Debian's /usr/sbin wrapper (which switches users); with RABBITMQ_ALLOW_INPUT it execs
	# the Erlang VM as PID 1, so `docker stop` reaches it, and -noinput keeps it off the terminal.
	import_dir "$dir" "$RABBITMQ_IMAGE" \
		'ENTRYPOINT ["/usr/lib/rabbitmq/bin/rabbitmq-server"]' 'EXPOSE 5672 15672' \
		'ENV HOME=/var/lib/rabbitmq RABBITMQ_LOGS=- RABBITMQ_ALLOW_INPUT=1 RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-noinput LANG=C.UTF-8' \
		'LABEL org.opencontainers.image.description="rabbitmq-server 3.10 from Debian, a local stand-in for rabbitmq:3.10-management"'
}

total_start=$(date +%s)
failed=()
unbuildable=()
for svc in "${wanted[@]}"; do
	case $svc in
	mariadb) image=$MARIADB_IMAGE official=mysql:8.0.36 ;;
	redis) image=$REDIS_IMAGE official=redis:7 ;;
	consul) image=$CONSUL_IMAGE official=hashicorp/consul:1.15 ;;
	kafka) image=$KAFKA_IMAGE official=confluentinc/confluent-local:7.5.0 ;;
	postgres) image=$POSTGRES_IMAGE official=postgres:16 ;;
	rabbitmq) image=$RABBITMQ_IMAGE official=rabbitmq:3.10-management ;;
	jaeger) image=$JAEGER_IMAGE official=jaegertracing/jaeger:2.13.0 ;;
	prometheus) image=$PROMETHEUS_IMAGE official=prom/prometheus:v2.53.0 ;;
	etcd) image=$ETCD_IMAGE official=gcr.io/etcd-development/etcd:v3.5.21 ;;
	esac
	need "$image" "$official" || continue
	start=$(date +%s)
	# A subshell with errexit of its own: in an `if` or `||` context bash would ignore set -e inside it,
	# and a failed step would go unnoticed.
	set +e
	(
		set -e
		"build_$svc"
	)
	status=$?
	set -e
	if [ "$status" = 0 ]; then
		log "$image built in $(($(date +%s) - start)) s ($(size "$image"))"
	elif [ "$status" = 3 ]; then
		unbuildable+=("$official")
	else
		log "$image FAILED after $(($(date +%s) - start)) s"
		failed+=("$image")
	fi
done
log "done in $(($(date +%s) - total_start)) s"
if [ ${#failed[@]} -gt 0 ]; then
	die "not built: ${failed[*]}"
fi
if [ ${#unbuildable[@]} -gt 0 ]; then
	printf 'build.sh: instead of the stand-ins this machine cannot build, pull the official images where a registry is reachable
' >&2
	printf '  (behind a registry block, through your mirror: TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX=<mirror>/ names them <mirror>/...):
' >&2
	for image in "${unbuildable[@]}"; do printf '    docker pull %s
' "$(hub_name "$image")" >&2; done
	exit 3
fi
