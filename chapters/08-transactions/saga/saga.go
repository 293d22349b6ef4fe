// Package saga is an orchestrated saga: a long business transaction split into local transactions (steps),
// each with a compensation that undoes it. The orchestrator runs the steps in order; when one fails for a
// business reason it runs the compensations of the steps already done, in reverse order. Its state lives in
// MySQL (the saga log), written around every step, so that a new process can finish what a crashed one began.
package saga

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// ErrBusiness marks a definite failure of a step: the service answered "no" and did nothing. Wrap it
// (fmt.Errorf("card declined: %w", saga.ErrBusiness)). Every other error is transient: retry the call.
var ErrBusiness = errors.New("business failure")

// ErrIrreversibleNotLast: a step without a compensation is followed by another step.
var ErrIrreversibleNotLast = errors.New("a step without a compensation must be the last step")

// Step is one local transaction of the saga. Both functions get the saga id, which participants use as their
// idempotency key. Compensate is nil for a step that cannot be undone.
type Step struct {
	Name       string
	Action     func(ctx context.Context, sagaID string) error
	Compensate func(ctx context.Context, sagaID string) error
}

// Orchestrator runs sagas of one definition, recording their progress in the saga table.
type Orchestrator struct {
	db    *sql.DB
	steps []Step

	// Backoff is the wait between two attempts of a call that failed transiently.
	Backoff time.Duration
}

var errTODO = errors.New("TODO(08-saga): not implemented")

// New checks the definition and returns an orchestrator for it. Only the last step may lack a compensation:
// if a later step failed, the irreversible one could not be undone.
func New(db *sql.DB, steps []Step) (*Orchestrator, error) {
	// TODO(08-saga): reject an empty definition, a step without an Action, and a step without a Compensate that is not the last (ErrIrreversibleNotLast).
	return nil, errTODO
}

// Start records saga id and runs it to the end: StatusDone, or StatusCompensated after a business failure.
// Starting an id that already exists continues that saga instead of starting another one. An error means the
// saga could not finish now (ctx ended, the database failed); its row stays for ResumeAll.
func (o *Orchestrator) Start(ctx context.Context, id string) (Status, error) {
	// TODO(08-saga): record the saga (running, step 0) in the saga table, then run it from its row.
	return "", errTODO
}

// ResumeAll finishes every saga that is running or compensating, as a new process does after a crash, and
// returns how many it finished.
func (o *Orchestrator) ResumeAll(ctx context.Context) (int, error) {
	// TODO(08-saga): list the unfinished sagas and run each one from what its row says.
	return 0, errTODO
}
