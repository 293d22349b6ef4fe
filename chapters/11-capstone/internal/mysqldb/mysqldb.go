// Package mysqldb opens a service's own MySQL database: one pool per service, checked at start with a time
// limit, and its tables created if they are missing.
package mysqldb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "github.com/go-sql-driver/mysql" // the driver
)

// Open opens dsn, pings it within 10s (a wrong address fails the start instead of the first request), and
// runs schema, one statement each.
func Open(ctx context.Context, dsn string, schema ...string) (*sql.DB, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	db.SetConnMaxLifetime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("reach database: %w", err)
	}
	for _, stmt := range schema {
		if _, err := db.ExecContext(pctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("create tables: %w", err)
		}
	}
	return db, nil
}

// AddColumn adds a column to a table made by an older version of the course, and does nothing when it is
// there: CREATE TABLE IF NOT EXISTS leaves an existing table as it was. definition is what follows the
// column's name in ALTER TABLE ... ADD COLUMN.
func AddColumn(ctx context.Context, db *sql.DB, table, column, definition string) error {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?`, table, column).Scan(&n)
	if err != nil {
		return fmt.Errorf("columns of %s: %w", table, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, "ALTER TABLE "+table+" ADD COLUMN "+column+" "+definition); err != nil {
		return fmt.Errorf("add %s.%s: %w", table, column, err)
	}
	return nil
}
