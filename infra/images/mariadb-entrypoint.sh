#!/bin/sh
# Entrypoint of microlab/mariadb: on the first start it creates the data directory and the accounts
# named by the official mysql image's variables, then runs the server on every interface of the container.
set -eu

datadir=/var/lib/mysql

# quote prints $1 as an SQL string literal.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"; }

init_sql() {
	echo "FLUSH PRIVILEGES;"
	if [ -n "${MYSQL_ROOT_PASSWORD:-}" ]; then
		pw=$(quote "$MYSQL_ROOT_PASSWORD")
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $pw;"
		echo "CREATE USER 'root'@'%' IDENTIFIED BY $pw;"
	elif [ -n "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ]; then
		echo "CREATE USER 'root'@'%';"
	else
		echo "microlab-entrypoint: set MYSQL_ROOT_PASSWORD or MYSQL_ALLOW_EMPTY_PASSWORD" >&2
		exit 1
	fi
	echo "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
	if [ -n "${MYSQL_DATABASE:-}" ]; then
		echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
	fi
	if [ -n "${MYSQL_USER:-}" ] && [ "${MYSQL_USER}" != root ]; then
		echo "CREATE USER $(quote "$MYSQL_USER")@'%' IDENTIFIED BY $(quote "${MYSQL_PASSWORD:-}");"
		if [ -n "${MYSQL_DATABASE:-}" ]; then
			echo "GRANT ALL PRIVILEGES ON \`$MYSQL_DATABASE\`.* TO $(quote "$MYSQL_USER")@'%';"
		fi
	fi
}

mkdir -p /run/mysqld "$datadir"
chown mysql:mysql /run/mysqld "$datadir"

if [ "${1:-mariadbd}" = mariadbd ] || [ "${1:-}" = mysqld ]; then
	[ $# -gt 0 ] && shift
	if [ ! -d "$datadir/mysql" ]; then
		echo "microlab-entrypoint: initialising $datadir"
		mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
			--auth-root-authentication-method=normal >/dev/null
		init_sql | mariadbd --user=mysql --datadir="$datadir" --bootstrap >/dev/null
	fi
	exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 \
		--skip-name-resolve --skip-log-bin --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci "$@"
fi
exec "$@"
