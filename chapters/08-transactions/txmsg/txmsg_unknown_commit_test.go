package txmsg_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/08-transactions/txmsg"
)

// TestTxMsgCommitErrorLeavesTheDecisionToTheBackCheck makes COMMIT return an error in two ways that look the
// same to the caller: the commit really failed, or it succeeded and its answer was lost (the connection
// dropped right after the server committed). Only the back-check can tell them apart, so neither may Abort
// or Submit the message on its own.
func TestTxMsgCommitErrorLeavesTheDecisionToTheBackCheck(t *testing.T) {
	for _, tc := range []struct {
		name      string
		commits   bool
		wantState txmsg.State
		wantRecs  int64
	}{
		{"the commit succeeds and its answer is lost", true, txmsg.StatePublished, 1},
		{"the commit fails", false, txmsg.StateAborted, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			mode := &atomic.Int32{}
			svc := &txmsg.Service{DB: commitErrorDB(t, e.bizDSN, mode), Msgs: e.msgs}
			if tc.commits {
				mode.Store(commitThenFail)
			} else {
				mode.Store(rollbackAndFail)
			}
			err := svc.DoAndSubmit(ctx, e.msg("g-1"), insertOrder(ctx, "o-1"))
			require.Equal(t, tc.commits, e.orderExists("o-1"), "order o-1 committed (DoAndSubmit = %v)", err)
			if err == nil && !tc.commits {
				t.Fatalf("DoAndSubmit = nil although COMMIT returned an error: the caller thinks the order exists")
			}
			if st := e.state("g-1"); st != txmsg.StatePrepared {
				t.Fatalf("State(g-1) right after a COMMIT that returned an error = %s, want %s (calls %v): the caller "+
					"cannot know whether the commit happened (here it %s), so it must neither Abort nor Submit; "+
					"leave the message to the back-check", st, txmsg.StatePrepared, e.msgs.calls, map[bool]string{true: "did", false: "did not"}[tc.commits])
			}
			e.check()
			if st := e.state("g-1"); st != tc.wantState {
				t.Fatalf("State(g-1) after the checker = %s, want %s (back-check answers %v)", st, tc.wantState, e.backCheckAnswers("g-1"))
			}
			require.Equal(t, tc.wantRecs, e.published(), "records on the topic")
		})
	}
}

var errCommitAnswer = errors.New("invalid connection (the answer to COMMIT was lost)")

// The modes of a commitErrorDB's Commit.
const (
	commitNormally  int32 = iota
	commitThenFail        // COMMIT reaches the server, then the caller gets an error
	rollbackAndFail       // the transaction rolls back, and the caller gets an error
)

// commitErrorDB opens dsn through a driver whose Commit behaves as mode says.
func commitErrorDB(t *testing.T, dsn string, mode *atomic.Int32) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	require.NoError(t, err)
	base, err := mysql.NewConnector(cfg)
	require.NoError(t, err)
	db := sql.OpenDB(commitConnector{base: base, mode: mode})
	t.Cleanup(func() { db.Close() })
	return db
}

type commitConnector struct {
	base driver.Connector
	mode *atomic.Int32
}

func (c commitConnector) Driver() driver.Driver { return c.base.Driver() }

func (c commitConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &commitConn{Conn: conn, mode: c.mode}, nil
}

type commitConn struct {
	driver.Conn
	mode *atomic.Int32
}

func (c *commitConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return commitTx{Tx: tx, mode: c.mode}, nil
}

func (c *commitConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (c *commitConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *commitConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

type commitTx struct {
	driver.Tx
	mode *atomic.Int32
}

func (t commitTx) Commit() error {
	switch t.mode.Load() {
	case commitThenFail:
		if err := t.Tx.Commit(); err != nil {
			return err
		}
		return errCommitAnswer
	case rollbackAndFail:
		_ = t.Tx.Rollback()
		return errCommitAnswer
	}
	return t.Tx.Commit()
}
