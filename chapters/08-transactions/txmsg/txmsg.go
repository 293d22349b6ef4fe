// Package txmsg is a two-phase message (事务消息 / 二阶段消息), as RocketMQ's transactional messages and dtm's
// msg mode do it: "commit my local transaction and publish an event, or neither", with no outbox table of
// your own. The business first Prepares the message on a message server (stored, not deliverable), runs its
// local transaction, and then Submits it. If the business dies or the Submit is lost in between, the
// server's checker finds the message still prepared and asks the business's back-check (回查) what became of
// the transaction: Committed (deliver it) or RolledBack (drop it).
//
// The back-check must answer from a durable record written by the business transaction itself (a row in
// msg_barrier), and it must be safe while that transaction is still open: its answer and the transaction's
// outcome can never disagree.
package txmsg

import (
	"context"
	"database/sql"
	"errors"
)

var errTODO = errors.New("TODO(08-txmsg): not implemented")

// DoAndSubmit publishes m if and only if business's local transaction commits.
//
// It Prepares m first (on an error it returns that error and runs nothing). It then runs business in one
// local transaction together with gid's done-marker, and commits. If business fails, it returns business's
// error (wrapped) and m is never delivered. If the marker cannot be written because a back-check already
// decided "rolled back", it returns ErrRolledBack and business's work is rolled back. After the commit it
// Submits m; a Submit that fails is not returned (the order stands, and the back-check will deliver m):
// DoAndSubmit returns nil once the local transaction committed.
func (s *Service) DoAndSubmit(ctx context.Context, m Msg, business func(tx *sql.Tx) error) error {
	// TODO(08-txmsg): Prepare m; in one local transaction insert gid's marker (ReasonCommitted) and run business; commit; then Submit.
	return errTODO
}

// QueryPrepared is the back-check the message server calls for a message that stayed prepared: Committed if
// gid's transaction committed, RolledBack if it did not and never will. It may be called at any time, also
// while that transaction is still open, and any number of times: it always gives the same answer.
func (s *Service) QueryPrepared(ctx context.Context, gid string) (Outcome, error) {
	// TODO(08-txmsg): decide from gid's marker, so that a transaction still in flight can never commit after you answered RolledBack.
	return 0, errTODO
}
