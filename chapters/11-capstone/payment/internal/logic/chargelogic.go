// Package logic is the payment service's business code, one type per RPC as goctl generates it. A logic
// knows the ServiceContext and the proto messages; it knows nothing of gRPC servers, HTTP or Consul.
package logic

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/core/logx"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/svc"
)

// ChargeLogic takes money once per idempotency key.
type ChargeLogic struct {
	ctx    context.Context
	svcCtx *svc.ServiceContext
	logx.Logger
}

// NewChargeLogic is built per call: it carries that call's ctx (deadline, trace) to the database.
func NewChargeLogic(ctx context.Context, svcCtx *svc.ServiceContext) *ChargeLogic {
	return &ChargeLogic{ctx: ctx, svcCtx: svcCtx, Logger: logx.WithContext(ctx)}
}

// Charge inserts first, and on a duplicate key answers with the payment the key made the first time, if it
// was for the same order and amount. Insert-first (not select-then-insert) is what makes two concurrent
// retries safe: the unique key lets exactly one INSERT win.
func (l *ChargeLogic) Charge(in *paymentv1.ChargeRequest) (*paymentv1.ChargeResponse, error) {
	if in.GetIdempotencyKey() == "" || in.GetOrderId() <= 0 || in.GetAmountCents() <= 0 {
		return nil, status.Error(codes.InvalidArgument, "order_id, a positive amount_cents and idempotency_key are required")
	}
	db := l.svcCtx.DB
	res, err := db.ExecContext(l.ctx, "INSERT INTO payments (order_id, amount_cents, idempotency_key) VALUES (?, ?, ?)",
		in.GetOrderId(), in.GetAmountCents(), in.GetIdempotencyKey())
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 { // ER_DUP_ENTRY: this key charged (or was closed) before
		p, st, err := keyRow(l.ctx, db, in.GetIdempotencyKey())
		if err != nil {
			return nil, err
		}
		if st == svc.StatusClosed {
			return nil, status.Errorf(codes.FailedPrecondition,
				"the payment of order %d was closed (the order expired unpaid): nothing was charged", p.OrderId)
		}
		if p.OrderId != in.GetOrderId() || p.AmountCents != in.GetAmountCents() {
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
	return &paymentv1.ChargeResponse{Payment: &paymentv1.Payment{Id: id, OrderId: in.GetOrderId(),
		AmountCents: in.GetAmountCents(), IdempotencyKey: in.GetIdempotencyKey()}}, nil
}

// keyRow reads the row that idempotency key made: a payment, or a closed key.
func keyRow(ctx context.Context, db *sql.DB, key string) (*paymentv1.Payment, string, error) {
	p := &paymentv1.Payment{}
	var st string
	err := db.QueryRowContext(ctx, "SELECT id, order_id, amount_cents, idempotency_key, status FROM payments WHERE idempotency_key = ?",
		key).Scan(&p.Id, &p.OrderId, &p.AmountCents, &p.IdempotencyKey, &st)
	if err != nil {
		return nil, "", fmt.Errorf("read payment of key %q: %w", key, err)
	}
	return p, st, nil
}
