#!/bin/sh
# Entrypoint of microlab/postgres: on the first start it creates the data directory with the superuser
# and password named by the official postgres image's variables, then runs the server on every interface
# of the container, as that image does.
set -eu

bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
data=${PGDATA:-/var/lib/postgresql/data}
user=${POSTGRES_USER:-postgres}

# as_postgres runs a command as the postgres user, in place (no su process in between to pass signals on).
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

mkdir -p "$data" /run/postgresql
chown -R postgres:postgres "$data" /run/postgresql
chmod 0700 "$data"

if [ "${1:-postgres}" = postgres ]; then
	[ $# -gt 0 ] && shift
	if [ ! -s "$data/PG_VERSION" ]; then
		if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
			echo "microlab-entrypoint: set POSTGRES_PASSWORD or POSTGRES_HOST_AUTH_METHOD=trust" >&2
			exit 1
		fi
		echo "microlab-entrypoint: initialising $data"
		pwfile=$(mktemp)
		printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
		chown postgres "$pwfile"
		auth=scram-sha-256
		[ "${POSTGRES_HOST_AUTH_METHOD:-}" = trust ] && auth=trust
		as_postgres "$bin/initdb" -D "$data" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$auth" \
			--encoding=UTF8 --locale=C.UTF-8 --no-instructions >/dev/null
		rm -f "$pwfile"
		echo "host all all all $auth" >>"$data/pg_hba.conf"
		db=${POSTGRES_DB:-$user}
		if [ "$db" != postgres ]; then
			as_postgres "$bin/postgres" --single -D "$data" postgres <<SQL >/dev/null
CREATE DATABASE "$db";
SQL
		fi
	fi
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$data" -c listen_addresses='*' "$@"
fi
exec "$@"
