// Package xa is two-phase commit for real: MySQL XA transactions on two databases, a coordinator that logs its
// decision, and recovery after the coordinator dies between the phases.
//
// Phase 1: each branch runs XA START, its work, XA END, XA PREPARE. A prepared branch has promised to commit
// if told to: it survives the coordinator's disconnect and keeps its row locks. Phase 2: the coordinator writes
// its decision to its log (the commit point) and then runs XA COMMIT on every branch. If it dies in between,
// the branches stay prepared, rows locked, until a coordinator reads XA RECOVER and its log and finishes them.
package xa

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
)

// Run runs branches as one global transaction gid: all commit or none does. A Work error rolls every branch
// back and is returned. An error after the decision was logged leaves the rest to Recover.
func (c *Coordinator) Run(ctx context.Context, gid string, branches []Branch) error {
	if !gidPattern.MatchString(gid) {
		return fmt.Errorf("xa %q: %w", gid, ErrBadGID)
	}
	// Log the gid before any branch exists: recovery acts only on the transactions in its own log, and finds
	// this one as "pending" (roll back) if the process dies before deciding.
	if _, err := c.Log.ExecContext(ctx, `INSERT INTO xa_log (gid, decision) VALUES (?, 'pending')`, gid); err != nil {
		return fmt.Errorf("xa %s: log: %w", gid, err)
	}
	var conns []*sql.Conn
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	prepared := 0
	abort := func(cause error) error {
		// Phase 1 failed: nothing may commit. Prepared branches roll back by xid; the one in progress must
		// be ended first (XA END may fail if it already was; the rollback is what matters).
		for i, cn := range conns {
			if i >= prepared {
				_, _ = cn.ExecContext(ctx, "XA END "+xid(gid, i))
			}
			_, _ = cn.ExecContext(ctx, "XA ROLLBACK "+xid(gid, i))
		}
		_, _ = c.Log.ExecContext(ctx, `UPDATE xa_log SET decision = 'rollback' WHERE gid = ?`, gid)
		return fmt.Errorf("xa %s: rolled back: %w", gid, cause)
	}
	for i, b := range branches {
		cn, err := b.DB.Conn(ctx)
		if err != nil {
			return abort(err)
		}
		if _, err := cn.ExecContext(ctx, "XA START "+xid(gid, i)); err != nil {
			cn.Close()
			return abort(err)
		}
		conns = append(conns, cn)
		if err := b.Work(ctx, cn); err != nil {
			return abort(err)
		}
		if _, err := cn.ExecContext(ctx, "XA END "+xid(gid, i)); err != nil {
			return abort(err)
		}
		if _, err := cn.ExecContext(ctx, "XA PREPARE "+xid(gid, i)); err != nil {
			return abort(err)
		}
		prepared++
	}
	if err := c.hook("prepared"); err != nil {
		return err
	}
	// The commit point. Before this write, a crash means roll back; after it, commit, whatever happens next.
	if _, err := c.Log.ExecContext(ctx, `UPDATE xa_log SET decision = 'commit' WHERE gid = ?`, gid); err != nil {
		return fmt.Errorf("xa %s: log the decision (Recover will finish it): %w", gid, err)
	}
	if err := c.hook("decided"); err != nil {
		return err
	}
	for i, cn := range conns {
		if _, err := cn.ExecContext(ctx, "XA COMMIT "+xid(gid, i)); err != nil {
			return fmt.Errorf("xa %s: commit branch %d (Recover will finish it): %w", gid, i, err)
		}
		if err := c.hook(fmt.Sprintf("committed %d", i)); err != nil {
			return err
		}
	}
	return nil
}

// Recover finishes the prepared XA transactions of this coordinator's log found on dbs: commit those it
// decided to commit, roll back the others (presumed abort). XA transactions it has no log row for belong to
// someone else and are left alone. It returns how many branches it finished.
func (c *Coordinator) Recover(ctx context.Context, dbs ...*sql.DB) (int, error) {
	n := 0
	for _, db := range dbs {
		xids, err := prepared(ctx, db)
		if err != nil {
			return n, err
		}
		for _, x := range xids {
			var decision string
			err := c.Log.QueryRowContext(ctx, `SELECT decision FROM xa_log WHERE gid = ?`, x.gtrid).Scan(&decision)
			if errors.Is(err, sql.ErrNoRows) {
				continue // not ours
			}
			if err != nil {
				return n, fmt.Errorf("xa recover %s: read the log: %w", x.gtrid, err)
			}
			stmt := "XA ROLLBACK " // pending or rollback: never decided to commit, so nobody was told it did
			if decision == "commit" {
				stmt = "XA COMMIT "
			}
			if _, err := db.ExecContext(ctx, stmt+fmt.Sprintf("'%s','%s'", x.gtrid, x.bqual)); err != nil {
				var me *mysql.MySQLError
				if errors.As(err, &me) && me.Number == errNoXID {
					continue // finished meanwhile (dbs on the same server list each other's branches)
				}
				return n, fmt.Errorf("xa recover %s,%s: %w", x.gtrid, x.bqual, err)
			}
			n++
		}
	}
	return n, nil
}

type xaID struct{ gtrid, bqual string }

// prepared lists the prepared XA transactions of db's server (XA RECOVER: formatID, gtrid_length,
// bqual_length, data, where data is gtrid followed by bqual).
func prepared(ctx context.Context, db *sql.DB) ([]xaID, error) {
	rows, err := db.QueryContext(ctx, "XA RECOVER")
	if err != nil {
		return nil, fmt.Errorf("XA RECOVER: %w", err)
	}
	defer rows.Close()
	var ids []xaID
	for rows.Next() {
		var (
			format, glen, blen int
			data               []byte
		)
		if err := rows.Scan(&format, &glen, &blen, &data); err != nil {
			return nil, fmt.Errorf("XA RECOVER: %w", err)
		}
		if glen+blen > len(data) {
			continue
		}
		ids = append(ids, xaID{gtrid: string(data[:glen]), bqual: string(data[glen : glen+blen])})
	}
	return ids, rows.Err()
}
