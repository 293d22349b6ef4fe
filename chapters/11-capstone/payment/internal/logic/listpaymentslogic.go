package logic

import (
	"context"
	"fmt"

	"github.com/zeromicro/go-zero/core/logx"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/svc"
)

// ListPaymentsLogic reads an order's payments.
type ListPaymentsLogic struct {
	ctx    context.Context
	svcCtx *svc.ServiceContext
	logx.Logger
}

// NewListPaymentsLogic is built per call, like NewChargeLogic.
func NewListPaymentsLogic(ctx context.Context, svcCtx *svc.ServiceContext) *ListPaymentsLogic {
	return &ListPaymentsLogic{ctx: ctx, svcCtx: svcCtx, Logger: logx.WithContext(ctx)}
}

// ListPayments returns an order's payments, oldest first.
func (l *ListPaymentsLogic) ListPayments(in *paymentv1.ListPaymentsRequest) (*paymentv1.ListPaymentsResponse, error) {
	rows, err := l.svcCtx.DB.QueryContext(l.ctx,
		"SELECT id, order_id, amount_cents, idempotency_key FROM payments WHERE order_id = ? AND status = ? ORDER BY id",
		in.GetOrderId(), svc.StatusPaid) // a closed key took no money: it is not a payment
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
