package logic

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
	"github.com/zeromicro/go-zero/core/logx"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/svc"
)

// CloseLogic closes an order's payment (关单) so that the order can be cancelled safely.
type CloseLogic struct {
	ctx    context.Context
	svcCtx *svc.ServiceContext
	logx.Logger
}

// NewCloseLogic is built per call, like NewChargeLogic.
func NewCloseLogic(ctx context.Context, svcCtx *svc.ServiceContext) *CloseLogic {
	return &CloseLogic{ctx: ctx, svcCtx: svcCtx, Logger: logx.WithContext(ctx)}
}

// Close inserts a "closed" row under the key, the way Charge inserts a payment: the unique key makes the
// first of the two win, whatever the timing, with no lock held between a read and a write. If a Charge won,
// the answer is that payment and closed = false: the money was taken, and the order must be completed, not
// cancelled.
func (l *CloseLogic) Close(in *paymentv1.CloseRequest) (*paymentv1.CloseResponse, error) {
	if in.GetIdempotencyKey() == "" || in.GetOrderId() <= 0 {
		return nil, status.Error(codes.InvalidArgument, "order_id and idempotency_key are required")
	}
	db := l.svcCtx.DB
	_, err := db.ExecContext(l.ctx, "INSERT INTO payments (order_id, amount_cents, idempotency_key, status) VALUES (?, 0, ?, ?)",
		in.GetOrderId(), in.GetIdempotencyKey(), svc.StatusClosed)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 { // ER_DUP_ENTRY: the key charged, or was closed, before
		p, st, err := keyRow(l.ctx, db, in.GetIdempotencyKey())
		if err != nil {
			return nil, err
		}
		if p.OrderId != in.GetOrderId() {
			return nil, status.Errorf(codes.FailedPrecondition, "idempotency key %q belongs to order %d", p.IdempotencyKey, p.OrderId)
		}
		if st == svc.StatusClosed {
			return &paymentv1.CloseResponse{Closed: true}, nil // closed before: closing is idempotent
		}
		return &paymentv1.CloseResponse{Closed: false, Payment: p}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("close payment: %w", err)
	}
	return &paymentv1.CloseResponse{Closed: true}, nil
}
