// Package crashdb is test support: database handles of one simulated process that can crash. A crash kills
// the process's connections on the server (KILL CONNECTION, as when a process dies and its sockets close) and
// makes every later statement on its handles fail, so a crashed process can neither read nor write again.
package crashdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// ErrCrashed is what every statement of a crashed process returns.
var ErrCrashed = errors.New("the process that owns this connection has crashed")

// Process is one simulated process.
type Process struct {
	dead  atomic.Bool
	mu    sync.Mutex
	ids   []int64 // server connection ids of its connections
	admin string  // a DSN to kill them with
}

// New returns a live process whose connections are killed through adminDSN when it crashes.
func New(adminDSN string) *Process { return &Process{admin: adminDSN} }

// Dead reports whether the process crashed.
func (p *Process) Dead() bool { return p.dead.Load() }

// Open returns a *sql.DB of the process for dsn, closed at cleanup.
func (p *Process) Open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	base, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("connector: %v", err)
	}
	db := sql.OpenDB(connector{base: base, p: p})
	t.Cleanup(func() { db.Close() })
	return db
}

// Crash kills the process: from now on its statements fail, and the server drops its sessions (rolling back
// what they had open, except XA transactions that were prepared).
func (p *Process) Crash(ctx context.Context) error {
	p.dead.Store(true)
	p.mu.Lock()
	ids := append([]int64(nil), p.ids...)
	p.mu.Unlock()
	admin, err := sql.Open("mysql", p.admin)
	if err != nil {
		return err
	}
	defer admin.Close()
	for _, id := range ids {
		if _, err := admin.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == 1094 { // unknown thread id: already closed
				continue
			}
			return fmt.Errorf("kill connection %d: %w", id, err)
		}
	}
	return nil
}

type connector struct {
	base driver.Connector
	p    *Process
}

func (c connector) Driver() driver.Driver { return c.base.Driver() }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.p.Dead() {
		return nil, ErrCrashed
	}
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := conn.(driver.QueryerContext).QueryContext(ctx, "SELECT CONNECTION_ID()", nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	v := make([]driver.Value, 1)
	err = rows.Next(v)
	rows.Close()
	if err != nil && err != io.EOF {
		conn.Close()
		return nil, err
	}
	var id int64
	switch x := v[0].(type) {
	case int64:
		id = x
	case []byte:
		fmt.Sscan(string(x), &id)
	}
	c.p.mu.Lock()
	c.p.ids = append(c.p.ids, id)
	c.p.mu.Unlock()
	return &conn_{Conn: conn, p: c.p}, nil
}

type conn_ struct {
	driver.Conn
	p *Process
}

func (c *conn_) check() error {
	if c.p.Dead() {
		return ErrCrashed
	}
	return nil
}

func (c *conn_) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &stmt{Stmt: st, p: c.p}, nil
}

func (c *conn_) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &txn{Tx: tx, p: c.p}, nil
}

func (c *conn_) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *conn_) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *conn_) IsValid() bool { return !c.p.Dead() }

type stmt struct {
	driver.Stmt
	p *Process
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.p.Dead() {
		return nil, ErrCrashed
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.p.Dead() {
		return nil, ErrCrashed
	}
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

type txn struct {
	driver.Tx
	p *Process
}

func (t *txn) Commit() error {
	if t.p.Dead() {
		_ = t.Tx.Rollback()
		return ErrCrashed
	}
	return t.Tx.Commit()
}
