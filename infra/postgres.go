package infra

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresLockTimeout is lock_timeout on every connection opened with a URL from Postgres(t). PostgreSQL's
// default is 0, wait forever: a transaction left open on an error path would hang a test until go test's
// timeout, with no word about the lock. A few seconds is far above any lock wait a correct test sees.
const PostgresLockTimeout = 5 * time.Second

// postgresNamespace creates database lab_<random> and returns its URL; the database is dropped at cleanup,
// with any connection the test left open.
func postgresNamespace(t testing.TB, inst *Instance) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	name := "lab_" + randomID(6)
	if err := postgresExec(ctx, inst.AdminDSN, "CREATE DATABASE "+name+" ENCODING 'UTF8' TEMPLATE template0"); err != nil {
		t.Fatalf("%s create database on %s PostgreSQL at %s: %v", UnavailablePrefix, inst.Provider, inst.Addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		// FORCE (PostgreSQL 13+) ends the sessions a test left open, which would otherwise block the drop.
		if err := postgresExec(ctx, inst.AdminDSN, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("infra: drop database %s: %v", name, err)
		}
	})
	dsn, err := postgresWithDatabase(inst.AdminDSN, name)
	if err != nil {
		t.Fatalf("%s %v", UnavailablePrefix, err)
	}
	return dsn
}

// postgresWithDatabase returns adminDSN pointed at database name, with a short lock timeout. pgx sends a
// query parameter it does not know as a run-time parameter of every connection it opens.
func postgresWithDatabase(adminDSN, name string) (string, error) {
	u, err := url.Parse(adminDSN)
	if err != nil {
		return "", fmt.Errorf("parse PostgreSQL URL: %w", err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Set("lock_timeout", strconv.Itoa(int(PostgresLockTimeout/time.Millisecond)))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func postgresExec(ctx context.Context, dsn, stmt string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}
