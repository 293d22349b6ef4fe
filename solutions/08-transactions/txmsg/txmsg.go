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
	"fmt"
	"log/slog"
)

// DoAndSubmit publishes m if and only if business's local transaction commits.
//
// It Prepares m first (on an error it returns that error and runs nothing). It then runs business in one
// local transaction together with gid's done-marker, and commits. If business fails, it returns business's
// error (wrapped) and m is never delivered. If the marker cannot be written because a back-check already
// decided "rolled back", it returns ErrRolledBack and business's work is rolled back. After the commit it
// Submits m; a Submit that fails is not returned (the order stands, and the back-check will deliver m):
// DoAndSubmit returns nil once the local transaction committed.
func (s *Service) DoAndSubmit(ctx context.Context, m Msg, business func(tx *sql.Tx) error) error {
	// Prepare before the transaction: once the server knows the gid, a crash at any later point ends in a
	// back-check. Prepare after the commit, and a crash in between loses the message for good.
	if err := s.Msgs.Prepare(ctx, m); err != nil {
		return fmt.Errorf("prepare %s: %w", m.Gid, err)
	}
	committed, err := s.local(ctx, m.Gid, business)
	if err != nil {
		if !committed {
			// We know it rolled back: tell the server now instead of waiting for its back-check. Best effort;
			// the back-check gives the same answer.
			if aerr := s.Msgs.Abort(ctx, m.Gid); aerr != nil {
				slog.WarnContext(ctx, "abort after rollback failed; the back-check will drop it", "gid", m.Gid, "err", aerr)
			}
		}
		return err
	}
	// Submit only after the commit: a Submit inside the transaction would publish a message whose
	// transaction may still fail to commit.
	if err := s.Msgs.Submit(ctx, m.Gid); err != nil {
		slog.WarnContext(ctx, "submit failed; the back-check will deliver it", "gid", m.Gid, "err", err)
	}
	return nil
}

// local runs the marker and business in one transaction. committed is false when the transaction surely
// did not commit, so that the message can be aborted at once; a failed Commit is left to the back-check
// (it may have committed after all).
func (s *Service) local(ctx context.Context, gid string, business func(tx *sql.Tx) error) (committed bool, err error) {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin %s: %w", gid, err)
	}
	defer tx.Rollback()
	// The marker goes in first, with a plain INSERT: it takes gid's key for the whole transaction, so a
	// back-check's INSERT of the same key waits for our commit or rollback. If a back-check was first, its
	// "rollback" row makes this insert fail, and the business must not commit.
	if _, err := tx.ExecContext(ctx, `INSERT INTO msg_barrier (gid, reason) VALUES (?, ?)`, gid, ReasonCommitted); err != nil {
		if duplicateKey(err) {
			return false, fmt.Errorf("marker %s: %w", gid, ErrRolledBack)
		}
		return false, fmt.Errorf("marker %s: %w", gid, err)
	}
	if err := business(tx); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return true, fmt.Errorf("commit %s: %w", gid, err) // unknown outcome: not surely rolled back
	}
	return true, nil
}

// QueryPrepared is the back-check the message server calls for a message that stayed prepared: Committed if
// gid's transaction committed, RolledBack if it did not and never will. It may be called at any time, also
// while that transaction is still open, and any number of times: it always gives the same answer.
func (s *Service) QueryPrepared(ctx context.Context, gid string) (Outcome, error) {
	// Try to take the marker's key with a "rollback" row. If the business transaction holds the key (open,
	// not yet committed), this INSERT waits for it. After that exactly one row exists for gid, and it is
	// final: "committed" if the business got there first, "rollback" if we did (and then the business can
	// never commit: its own insert will fail). A SELECT alone could answer "no marker" for a transaction that
	// commits a moment later.
	if _, err := s.DB.ExecContext(ctx,
		`INSERT IGNORE INTO msg_barrier (gid, reason) VALUES (?, ?)`, gid, ReasonRollback); err != nil {
		return 0, fmt.Errorf("back-check %s: %w", gid, err)
	}
	var reason string
	if err := s.DB.QueryRowContext(ctx, `SELECT reason FROM msg_barrier WHERE gid = ?`, gid).Scan(&reason); err != nil {
		return 0, fmt.Errorf("back-check %s: %w", gid, err)
	}
	if reason == ReasonCommitted {
		return Committed, nil
	}
	return RolledBack, nil
}
