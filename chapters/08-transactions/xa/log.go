package xa

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
)

// The coordinator's log, in its own database. One row per global transaction:
//
//	pending  the coordinator began it; no decision yet. Recovery rolls its branches back (presumed abort).
//	commit   every branch prepared and the coordinator decided to commit. This write is the commit point:
//	         from here on, recovery must commit every branch it finds.
//	rollback the coordinator decided to roll back.
const logSchema = `CREATE TABLE IF NOT EXISTS xa_log (
	gid      VARCHAR(64) NOT NULL PRIMARY KEY,
	decision VARCHAR(16) NOT NULL
) ENGINE=InnoDB`

// Migrate creates the coordinator's log.
func Migrate(ctx context.Context, log *sql.DB) error {
	if _, err := log.ExecContext(ctx, logSchema); err != nil {
		return fmt.Errorf("create table xa_log: %w", err)
	}
	return nil
}

// Branch is one participant: a database, and the work to do there inside the XA transaction. Work must use
// conn, the connection the XA transaction runs on.
type Branch struct {
	DB   *sql.DB
	Work func(ctx context.Context, conn *sql.Conn) error
}

// Coordinator runs global transactions over several databases with XA, and recovers them after a crash.
type Coordinator struct {
	Log *sql.DB // the coordinator's own database, with xa_log

	// Hook, when set, is called at the points a test may crash the coordinator: "prepared" (every branch
	// prepared, no decision yet), "decided" (commit logged, nothing committed) and "committed 0",
	// "committed 1", ... (after that branch's XA COMMIT). An error from Hook means the process is gone: return it
	// at once.
	Hook func(point string) error
}

func (c *Coordinator) hook(point string) error {
	if c.Hook == nil {
		return nil
	}
	return c.Hook(point)
}

var gidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,60}$`)

// ErrBadGID: XA statements take no placeholders, so a gid is spliced into the SQL text and must be plain.
var ErrBadGID = errors.New("gid must be 1-60 letters, digits, '-' or '_'")

// xid is the XA id of branch i of global transaction gid, as it appears in XA statements: 'gid','b<i>'.
func xid(gid string, i int) string { return fmt.Sprintf("'%s','b%d'", gid, i) }

// errNoXID is MySQL's XAER_NOTA: no XA transaction with that xid (already committed or rolled back).
const errNoXID = 1397
