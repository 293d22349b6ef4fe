package saga

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Status is where a saga is. running and compensating are unfinished: ResumeAll picks them up.
type Status string

const (
	StatusRunning      Status = "running"      // step = the next action to run; actions 0..step-1 are done
	StatusCompensating Status = "compensating" // step = how many actions are still to undo: 0..step-1, from step-1 down
	StatusDone         Status = "done"         // every action ran
	StatusCompensated  Status = "compensated"  // every done action was undone
)

// The saga log. One row per saga: its state and a step counter whose meaning depends on the state (above).
// The orchestrator writes it before and after each step; after a crash, the row is all a new process knows.
const schema = `CREATE TABLE IF NOT EXISTS saga (
	id         VARCHAR(64) NOT NULL PRIMARY KEY,
	state      VARCHAR(16) NOT NULL,
	step       INT         NOT NULL,
	updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB`

// Migrate creates the saga log.
func Migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create table saga: %w", err)
	}
	return nil
}

// ErrNotFound: no saga with that id was ever recorded.
var ErrNotFound = errors.New("saga not found")

// Load reads a saga's state from the log.
func Load(ctx context.Context, db *sql.DB, id string) (Status, int, error) {
	var (
		state Status
		step  int
	)
	err := db.QueryRowContext(ctx, `SELECT state, step FROM saga WHERE id = ?`, id).Scan(&state, &step)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, fmt.Errorf("saga %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", 0, fmt.Errorf("saga %s: load: %w", id, err)
	}
	return state, step, nil
}
