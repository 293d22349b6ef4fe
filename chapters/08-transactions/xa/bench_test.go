package xa_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

var benchSeq atomic.Int64

// BenchmarkTransferUnderContention moves 1 from the same hot account in bank1 to the same account in bank2,
// from 8 goroutines at once, two ways:
//
//   - xa: your Coordinator.Run; the hot row is locked from its UPDATE until its branch's XA COMMIT, which comes
//     after both branches prepared and the decision was logged.
//   - saga: the same transfer as a saga does it: a log row, then a local transaction per bank, each committed at
//     once, with the log updated between them (the writes 08-saga's orchestrator makes).
//
// lock-µs/op is how long the hot row stayed locked per transfer; transfers/s is the throughput. Bounded run:
//
//	go test -run '^$' -bench TransferUnderContention -benchtime 300x ./08-transactions/xa
func BenchmarkTransferUnderContention(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	_, err := e.bank1.ExecContext(ctx, `UPDATE account SET balance = 1000000000 WHERE id = 1`)
	if err != nil {
		b.Fatal(err)
	}
	p := e.process(b)
	for _, db := range []*sql.DB{p.bank1, p.bank2, p.c.Log} {
		db.SetMaxOpenConns(32)
		db.SetMaxIdleConns(32)
	}
	sagaLog := open(b, e.logDSN)
	if _, err := sagaLog.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS saga (id VARCHAR(64) PRIMARY KEY,
		state VARCHAR(16) NOT NULL, step INT NOT NULL) ENGINE=InnoDB`); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, transfer func(ctx context.Context, id string, held *atomic.Int64) error) {
		var held atomic.Int64
		b.SetParallelism(4) // 4 x GOMAXPROCS goroutines: 8 on the 2 cores measured here
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := e.gid(fmt.Sprint(benchSeq.Add(1)))
				if err := transfer(ctx, id, &held); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(held.Load())/float64(b.N)/1e3, "lock-µs/op")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
	}

	b.Run("xa", func(b *testing.B) {
		run(b, func(ctx context.Context, id string, held *atomic.Int64) error {
			var locked time.Time
			c := *p.c
			c.Hook = func(point string) error {
				if point == "committed 0" {
					held.Add(int64(time.Since(locked)))
				}
				return nil
			}
			branches := p.transfer(1)
			debit := branches[0].Work
			branches[0].Work = func(ctx context.Context, conn *sql.Conn) error {
				err := debit(ctx, conn)
				locked = time.Now() // the UPDATE returned: the row is ours until XA COMMIT
				return err
			}
			return c.Run(ctx, id, branches)
		})
	})
	b.Run("saga", func(b *testing.B) {
		run(b, func(ctx context.Context, id string, held *atomic.Int64) error {
			if _, err := sagaLog.ExecContext(ctx, `INSERT INTO saga VALUES (?, 'running', 0)`, id); err != nil {
				return err
			}
			local := func(db *sql.DB, stmt string, measure bool) error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return err
				}
				locked := time.Now()
				err = tx.Commit()
				if measure {
					held.Add(int64(time.Since(locked)))
				}
				return err
			}
			if err := local(p.bank1, `UPDATE account SET balance = balance - 1 WHERE id = 1`, true); err != nil {
				return err
			}
			if _, err := sagaLog.ExecContext(ctx, `UPDATE saga SET step = 1 WHERE id = ?`, id); err != nil {
				return err
			}
			if err := local(p.bank2, `UPDATE account SET balance = balance + 1 WHERE id = 1`, false); err != nil {
				return err
			}
			_, err := sagaLog.ExecContext(ctx, `UPDATE saga SET state = 'done', step = 2 WHERE id = ?`, id)
			return err
		})
	})
}
