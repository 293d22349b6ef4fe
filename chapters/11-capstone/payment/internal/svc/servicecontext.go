// Package svc holds the ServiceContext: every dependency of the payment service, built once at start and
// handed to each logic. It is go-zero's answer to dependency injection: a plain struct, no container.
package svc

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/mysqldb"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/config"
)

// Schema is the payment service's only table. The unique idempotency key is what makes a retried charge
// take the money once (幂等): the second INSERT fails and the first payment is the answer. A closed key
// (关单, before its order is cancelled) is a row too, with status "closed" and no money: a Charge that
// comes later hits the same unique key and is refused.
var Schema = []string{`CREATE TABLE IF NOT EXISTS payments (
	id              BIGINT AUTO_INCREMENT PRIMARY KEY,
	order_id        BIGINT NOT NULL,
	amount_cents    BIGINT NOT NULL,
	idempotency_key VARCHAR(255) NOT NULL,
	status          VARCHAR(8) NOT NULL DEFAULT 'paid',
	created_at      TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	UNIQUE KEY idempotency_key (idempotency_key),
	KEY order_id (order_id)
) ENGINE=InnoDB`}

// Statuses of a payments row.
const (
	StatusPaid   = "paid"   // money taken
	StatusClosed = "closed" // the key was closed before any charge: nothing taken, and nothing ever will be
)

// ServiceContext is shared by all calls; its fields are safe for concurrent use.
type ServiceContext struct {
	Config config.Config
	DB     *sql.DB
}

// NewServiceContext opens the database and creates the table. goctl's template returns no error and builds a
// lazy sqlx connection; this one fails at start, so a wrong DSN stops Run instead of failing the first charge.
func NewServiceContext(ctx context.Context, c config.Config) (*ServiceContext, error) {
	db, err := mysqldb.Open(ctx, c.DataSource, Schema...)
	if err != nil {
		return nil, fmt.Errorf("payment service context: %w", err)
	}
	// A table made before payments could be closed: every row in it is a charge.
	if err := mysqldb.AddColumn(ctx, db, "payments", "status", "VARCHAR(8) NOT NULL DEFAULT 'paid' AFTER idempotency_key"); err != nil {
		db.Close()
		return nil, fmt.Errorf("payment service context: %w", err)
	}
	return &ServiceContext{Config: c, DB: db}, nil
}

// Close releases what NewServiceContext built.
func (s *ServiceContext) Close() error { return s.DB.Close() }
