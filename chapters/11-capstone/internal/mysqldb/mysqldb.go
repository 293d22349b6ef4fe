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
