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
)

var errTODO = errors.New("TODO(08-xa): not implemented")

// Run runs branches as one global transaction gid: all commit or none does. A Work error rolls every branch
// back and is returned. An error after the decision was logged leaves the rest to Recover.
func (c *Coordinator) Run(ctx context.Context, gid string, branches []Branch) error {
	// TODO(08-xa): log gid as pending; per branch XA START, Work, XA END, XA PREPARE (roll every started branch back on an error); hook "prepared"; log commit; hook "decided"; XA COMMIT each branch, hook "committed i".
	return errTODO
}

// Recover finishes the prepared XA transactions of this coordinator's log found on dbs: commit those it
// decided to commit, roll back the others (presumed abort). XA transactions it has no log row for belong to
// someone else and are left alone. It returns how many branches it finished.
func (c *Coordinator) Recover(ctx context.Context, dbs ...*sql.DB) (int, error) {
	// TODO(08-xa): XA RECOVER on each db; for each xid whose gtrid is in xa_log: XA COMMIT if the decision is commit, else XA ROLLBACK; error 1397 means already finished.
	return 0, errTODO
}
