// Package saga is an orchestrated saga: a long business transaction split into local transactions (steps),
// each with a compensation that undoes it. The orchestrator runs the steps in order; when one fails for a
// business reason it runs the compensations of the steps already done, in reverse order. Its state lives in
// MySQL (the saga log), written around every step, so that a new process can finish what a crashed one began.
package saga

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// New checks the definition and returns an orchestrator for it. Only the last step may lack a compensation:
// if a later step failed, the irreversible one could not be undone.
func New(db *sql.DB, steps []Step) (*Orchestrator, error) {
	if len(steps) == 0 {
		return nil, errors.New("saga: no steps")
	}
	for i, s := range steps {
		if s.Action == nil {
			return nil, fmt.Errorf("saga: step %d (%s) has no action", i, s.Name)
		}
		if s.Compensate == nil && i != len(steps)-1 {
			return nil, fmt.Errorf("saga: step %d (%s): %w", i, s.Name, ErrIrreversibleNotLast)
		}
	}
	return &Orchestrator{db: db, steps: steps, Backoff: 10 * time.Millisecond}, nil
}

// Start records saga id and runs it to the end: StatusDone, or StatusCompensated after a business failure.
// Starting an id that already exists continues that saga instead of starting another one. An error means the
// saga could not finish now (ctx ended, the database failed); its row stays for ResumeAll.
func (o *Orchestrator) Start(ctx context.Context, id string) (Status, error) {
	// The row goes in before the first step runs. If the process dies right after the first call, the log
	// still says "running, step 0", and whoever resumes calls it again (it is idempotent) and goes on.
	// Written after the call, a crash in between would leave stock held by a saga nobody knows about.
	if _, err := o.db.ExecContext(ctx,
		`INSERT IGNORE INTO saga (id, state, step) VALUES (?, ?, 0)`, id, StatusRunning); err != nil {
		return "", fmt.Errorf("saga %s: record: %w", id, err)
	}
	return o.run(ctx, id)
}

// ResumeAll finishes every saga that is running or compensating, as a new process does after a crash, and
// returns how many it finished.
func (o *Orchestrator) ResumeAll(ctx context.Context) (int, error) {
	rows, err := o.db.QueryContext(ctx, `SELECT id FROM saga WHERE state IN (?, ?) ORDER BY id`,
		StatusRunning, StatusCompensating)
	if err != nil {
		return 0, fmt.Errorf("saga: list unfinished: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("saga: list unfinished: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("saga: list unfinished: %w", err)
	}
	for n, id := range ids {
		if _, err := o.run(ctx, id); err != nil {
			return n, err
		}
	}
	return len(ids), nil
}

// run continues saga id from what the log says, never from what this process remembers.
func (o *Orchestrator) run(ctx context.Context, id string) (Status, error) {
	state, step, err := Load(ctx, o.db, id)
	if err != nil {
		return "", err
	}
	for state == StatusRunning {
		if step == len(o.steps) {
			state = StatusDone
			break
		}
		s := o.steps[step]
		err := o.retry(ctx, func() error { return s.Action(ctx, id) }, true)
		switch {
		case err == nil:
			step++ // done: record it before the next call, so a resume does not run it again
		case errors.Is(err, ErrBusiness):
			// The failed step rolled back on its own; the steps before it must be undone. Record the
			// decision first: after a crash, the resume must compensate, not try the step again.
			state = StatusCompensating
		default:
			return "", fmt.Errorf("saga %s: step %s: %w", id, s.Name, err)
		}
		if err := o.save(ctx, id, state, step); err != nil {
			return "", err
		}
	}
	for state == StatusCompensating {
		if step == 0 {
			state = StatusCompensated
			break
		}
		s := o.steps[step-1] // reverse order: the last done step is undone first
		// A compensation has no "no" answer: it retries until it succeeds (or ctx ends, and a resume goes on).
		if err := o.retry(ctx, func() error { return s.Compensate(ctx, id) }, false); err != nil {
			return "", fmt.Errorf("saga %s: compensate %s: %w", id, s.Name, err)
		}
		step--
		if err := o.save(ctx, id, state, step); err != nil {
			return "", err
		}
	}
	if err := o.save(ctx, id, state, step); err != nil {
		return "", err
	}
	return state, nil
}

// retry calls f until it succeeds, or (when businessStops) fails with ErrBusiness, or ctx ends.
func (o *Orchestrator) retry(ctx context.Context, f func() error, businessStops bool) error {
	for {
		err := f()
		if err == nil || (businessStops && errors.Is(err, ErrBusiness)) {
			return err
		}
		t := time.NewTimer(o.Backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func (o *Orchestrator) save(ctx context.Context, id string, state Status, step int) error {
	if _, err := o.db.ExecContext(ctx, `UPDATE saga SET state = ?, step = ? WHERE id = ?`, state, step, id); err != nil {
		return fmt.Errorf("saga %s: save %s/%d: %w", id, state, step, err)
	}
	return nil
}
