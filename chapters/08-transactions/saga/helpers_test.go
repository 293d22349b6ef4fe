package saga_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/08-transactions/saga"
	"github.com/gomicrolab/microlab/infra"
)

func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }

const (
	price        = 100  // what every order costs
	startBalance = 1000 // the customer's money before any test order
	startStock   = 10   // items in stock before any test order
)

// world is the three remote services of a checkout, in memory: what they did, how often each was called,
// and the failures a test makes them return. Like real services, they are idempotent by order id, and an
// undo of something that never happened does nothing. They outlive any orchestrator process.
type world struct {
	mu       sync.Mutex
	balance  int
	stock    int
	charged  map[string]bool
	reserved map[string]bool
	shipped  map[string]bool
	calls    map[string]int          // "op order" -> calls that reached the service
	fail     map[string]func() error // op -> the error its next call returns (nil: succeed)
	log      []string                // "op order", in the order the calls reached the service
}

func newWorld() *world {
	return &world{
		balance: startBalance, stock: startStock,
		charged: map[string]bool{}, reserved: map[string]bool{}, shipped: map[string]bool{},
		calls: map[string]int{}, fail: map[string]func() error{},
	}
}

// failN makes the next n calls of op fail with err; after that, op succeeds again.
func (w *world) failN(op string, n int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	left := n
	w.fail[op] = func() error {
		if left == 0 {
			return nil
		}
		left--
		return err
	}
}

// do is one call reaching the service: it counts, fails as told, or applies (once per order).
func (w *world) do(op, order string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls[op+" "+order]++
	w.log = append(w.log, op+" "+order)
	if f := w.fail[op]; f != nil {
		if err := f(); err != nil {
			return err
		}
	}
	switch op {
	case "reserve":
		if !w.reserved[order] {
			w.reserved[order] = true
			w.stock--
		}
	case "release":
		if w.reserved[order] {
			w.reserved[order] = false
			w.stock++
		}
	case "charge":
		if !w.charged[order] {
			w.charged[order] = true
			w.balance -= price
		}
	case "refund":
		if w.charged[order] {
			w.charged[order] = false
			w.balance += price
		}
	case "ship":
		w.shipped[order] = true
	default:
		panic("unknown op " + op)
	}
	return nil
}

func (w *world) snapshot() (balance, stock int, shipped bool, log []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.shipped {
		shipped = shipped || s
	}
	return w.balance, w.stock, shipped, append([]string(nil), w.log...)
}

var (
	errDeclined = fmt.Errorf("card declined: %w", saga.ErrBusiness)
	errNoRoute  = fmt.Errorf("address not deliverable: %w", saga.ErrBusiness)
	errTimeout  = errors.New("rpc timeout (transient: the call may or may not have happened)")
	errCrashed  = errors.New("process crashed")
)

// crash says where a process dies: at its call number at (from 1), before the call reaches the service or
// right after it was applied (the process never sees the reply). at 0: never.
type crash struct {
	at    int
	after bool
}

func (c crash) String() string {
	if c.after {
		return fmt.Sprintf("right after call %d was applied", c.at)
	}
	return fmt.Sprintf("just before call %d", c.at)
}

// proc is one orchestrator process: its view of the services, its database connections and its context.
// When it crashes, everything it does afterwards has no effect, as if the process were gone: service calls
// fail without reaching the service, every statement on its database fails, and its context is cancelled.
type proc struct {
	w      *world
	dead   atomic.Bool
	crash  crash
	calls  int // calls this process made
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	db     *sql.DB
}

func newProc(t *testing.T, w *world, dsn string, c crash) *proc {
	t.Helper()
	p := &proc{w: w, crash: c}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	t.Cleanup(p.cancel)
	cfg, err := mysql.ParseDSN(dsn)
	require.NoError(t, err)
	base, err := mysql.NewConnector(cfg)
	require.NoError(t, err)
	p.db = sql.OpenDB(crashConnector{base: base, dead: &p.dead})
	t.Cleanup(func() { p.db.Close() })
	return p
}

func (p *proc) die() {
	p.dead.Store(true)
	p.cancel()
}

func (p *proc) call(op, order string) error {
	if p.dead.Load() {
		return errCrashed
	}
	p.mu.Lock()
	p.calls++
	n := p.calls
	p.mu.Unlock()
	if n == p.crash.at && !p.crash.after {
		p.die()
		return errCrashed
	}
	err := p.w.do(op, order)
	if n == p.crash.at && p.crash.after {
		p.die()
		return errCrashed
	}
	return err
}

func (p *proc) Reserve(_ context.Context, o string) error { return p.call("reserve", o) }
func (p *proc) Release(_ context.Context, o string) error { return p.call("release", o) }
func (p *proc) Charge(_ context.Context, o string) error  { return p.call("charge", o) }
func (p *proc) Refund(_ context.Context, o string) error  { return p.call("refund", o) }
func (p *proc) Ship(_ context.Context, o string) error    { return p.call("ship", o) }

// orchestrator is a checkout orchestrator of process p, with a short backoff so that retries are quick.
func (p *proc) orchestrator(t *testing.T) *saga.Orchestrator {
	t.Helper()
	o, err := saga.New(p.db, saga.Checkout(p))
	require.NoError(t, err, "saga.New(db, saga.Checkout(services))")
	o.Backoff = time.Millisecond
	return o
}

// newDB returns the DSN of a fresh database with the saga table.
func newDB(t *testing.T) (string, *sql.DB) {
	t.Helper()
	dsn := infra.MySQL(t)
	db, err := sql.Open("mysql", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, saga.Migrate(context.Background(), db))
	return dsn, db
}

// crashConnector opens MySQL connections that fail every statement once dead is set: a crashed process
// writes nothing more. Open transactions cannot commit and are rolled back.
type crashConnector struct {
	base driver.Connector
	dead *atomic.Bool
}

var errConnDead = errors.New("the process that owns this connection has crashed")

func (c crashConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.dead.Load() {
		return nil, errConnDead
	}
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &crashConn{Conn: conn, dead: c.dead}, nil
}

func (c crashConnector) Driver() driver.Driver { return c.base.Driver() }

type crashConn struct {
	driver.Conn
	dead *atomic.Bool
}

func (c *crashConn) check() error {
	if c.dead.Load() {
		return errConnDead
	}
	return nil
}

func (c *crashConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &crashStmt{Stmt: st, dead: c.dead}, nil
}

func (c *crashConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &crashTx{Tx: tx, dead: c.dead}, nil
}

func (c *crashConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *crashConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *crashConn) IsValid() bool { return !c.dead.Load() }

type crashStmt struct {
	driver.Stmt
	dead *atomic.Bool
}

func (s *crashStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.dead.Load() {
		return nil, errConnDead
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *crashStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.dead.Load() {
		return nil, errConnDead
	}
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

type crashTx struct {
	driver.Tx
	dead *atomic.Bool
}

func (t *crashTx) Commit() error {
	if t.dead.Load() {
		_ = t.Tx.Rollback()
		return errConnDead
	}
	return t.Tx.Commit()
}

// opsOf keeps the op names of a call log, for order checks: "charge o1" -> "charge".
func opsOf(log []string) []string {
	ops := make([]string, len(log))
	for i, l := range log {
		ops[i], _, _ = strings.Cut(l, " ")
	}
	return ops
}
