// Package server is the gRPC side of the payment service, in goctl's rpc layout: one method per RPC, each
// building that RPC's logic and delegating to it. No business code lives here.
package server

import (
	"context"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/logic"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/svc"
)

// PaymentServiceServer implements paymentv1.PaymentServiceServer.
type PaymentServiceServer struct {
	svcCtx *svc.ServiceContext
	paymentv1.UnimplementedPaymentServiceServer
}

// NewPaymentServiceServer serves the RPCs with the dependencies in svcCtx.
func NewPaymentServiceServer(svcCtx *svc.ServiceContext) *PaymentServiceServer {
	return &PaymentServiceServer{svcCtx: svcCtx}
}

// Charge delegates to ChargeLogic.
func (s *PaymentServiceServer) Charge(ctx context.Context, in *paymentv1.ChargeRequest) (*paymentv1.ChargeResponse, error) {
	return logic.NewChargeLogic(ctx, s.svcCtx).Charge(in)
}

// ListPayments delegates to ListPaymentsLogic.
func (s *PaymentServiceServer) ListPayments(ctx context.Context, in *paymentv1.ListPaymentsRequest) (*paymentv1.ListPaymentsResponse, error) {
	return logic.NewListPaymentsLogic(ctx, s.svcCtx).ListPayments(in)
}

// Close delegates to CloseLogic.
func (s *PaymentServiceServer) Close(ctx context.Context, in *paymentv1.CloseRequest) (*paymentv1.CloseResponse, error) {
	return logic.NewCloseLogic(ctx, s.svcCtx).Close(in)
}
