// Package payment is the payment service: it takes money, once per idempotency key, and keeps its own table.
// Like the user service it is one file; the order service shows the layered layout.
package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/discovery"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/mysqldb"
)

// Schema is the payment service's only table. The unique idempotency key is what makes a retried charge
// take the money once (幂等): the second INSERT fails and the first payment is the answer.
var Schema = []string{`CREATE TABLE IF NOT EXISTS payments (
	id              BIGINT AUTO_INCREMENT PRIMARY KEY,
	order_id        BIGINT NOT NULL,
	amount_cents    BIGINT NOT NULL,
	idempotency_key VARCHAR(255) NOT NULL,
	created_at      TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	UNIQUE KEY idempotency_key (idempotency_key),
	KEY order_id (order_id)
) ENGINE=InnoDB`}

// Server implements paymentv1.PaymentServiceServer on a database.
type Server struct {
	paymentv1.UnimplementedPaymentServiceServer
	DB *sql.DB
}

// Charge takes the money once per key: insert first, and on a duplicate key answer with the payment the key
// made the first time, if it was for the same order and amount.
func (s *Server) Charge(ctx context.Context, req *paymentv1.ChargeRequest) (*paymentv1.ChargeResponse, error) {
	if req.GetIdempotencyKey() == "" || req.GetOrderId() <= 0 || req.GetAmountCents() <= 0 {
		return nil, status.Error(codes.InvalidArgument, "order_id, a positive amount_cents and idempotency_key are required")
	}
	res, err := s.DB.ExecContext(ctx, "INSERT INTO payments (order_id, amount_cents, idempotency_key) VALUES (?, ?, ?)",
		req.GetOrderId(), req.GetAmountCents(), req.GetIdempotencyKey())
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 { // ER_DUP_ENTRY: this key charged before
		p := &paymentv1.Payment{}
		err := s.DB.QueryRowContext(ctx, "SELECT id, order_id, amount_cents, idempotency_key FROM payments WHERE idempotency_key = ?",
			req.GetIdempotencyKey()).Scan(&p.Id, &p.OrderId, &p.AmountCents, &p.IdempotencyKey)
		if err != nil {
			return nil, fmt.Errorf("read payment of key %q: %w", req.GetIdempotencyKey(), err)
		}
		if p.OrderId != req.GetOrderId() || p.AmountCents != req.GetAmountCents() {
			return nil, status.Errorf(codes.FailedPrecondition,
				"idempotency key %q was used for order %d, %d cents", p.IdempotencyKey, p.OrderId, p.AmountCents)
		}
		return &paymentv1.ChargeResponse{Payment: p, Replayed: true}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("insert payment: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, fmt.Errorf("insert payment: %w", err)
	}
	return &paymentv1.ChargeResponse{Payment: &paymentv1.Payment{Id: id, OrderId: req.GetOrderId(),
		AmountCents: req.GetAmountCents(), IdempotencyKey: req.GetIdempotencyKey()}}, nil
}

// ListPayments returns an order's payments, oldest first.
func (s *Server) ListPayments(ctx context.Context, req *paymentv1.ListPaymentsRequest) (*paymentv1.ListPaymentsResponse, error) {
	rows, err := s.DB.QueryContext(ctx,
		"SELECT id, order_id, amount_cents, idempotency_key FROM payments WHERE order_id = ? ORDER BY id", req.GetOrderId())
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	defer rows.Close()
	out := &paymentv1.ListPaymentsResponse{}
	for rows.Next() {
		p := &paymentv1.Payment{}
		if err := rows.Scan(&p.Id, &p.OrderId, &p.AmountCents, &p.IdempotencyKey); err != nil {
			return nil, fmt.Errorf("list payments: %w", err)
		}
		out.Payments = append(out.Payments, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	return out, nil
}

// Config says where the payment service keeps its data and how it is found.
type Config struct {
	DSN      string
	Consul   *api.Client
	Service  string // its name in Consul
	ID       string // this instance's id
	Listener net.Listener
	Options  []grpc.ServerOption // e.g. interceptors
	OnUp     func()
}

// Run serves the payment service until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	db, err := mysqldb.Open(ctx, cfg.DSN, Schema...)
	if err != nil {
		cfg.Listener.Close()
		return fmt.Errorf("payment service: %w", err)
	}
	defer db.Close()
	srv := grpc.NewServer(cfg.Options...)
	paymentv1.RegisterPaymentServiceServer(srv, &Server{DB: db})
	return discovery.Serve(ctx, discovery.Instance{Consul: cfg.Consul, Service: cfg.Service, ID: cfg.ID}, srv, cfg.Listener, cfg.OnUp)
}
