// Package transport is the order service's edge: the gRPC server that turns requests into service calls and
// domain errors into status codes, and the gRPC clients of the user and payment services behind the
// service's ports.
package transport

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orderv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/order/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/domain"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/service"
)

// Server implements orderv1.OrderServiceServer on the service.
type Server struct {
	orderv1.UnimplementedOrderServiceServer
	Svc *service.Service
	// OnInternal is told every error that became INTERNAL (its text never leaves the service), with the
	// request's ctx (its trace id); may be nil.
	OnInternal func(ctx context.Context, method string, err error)
}

func (s *Server) CreateProduct(ctx context.Context, req *orderv1.CreateProductRequest) (*orderv1.CreateProductResponse, error) {
	p, err := s.Svc.CreateProduct(ctx, domain.Product{Name: req.GetName(), PriceCents: req.GetPriceCents(), Stock: int(req.GetStock())})
	if err != nil {
		return nil, s.toStatus(ctx, "CreateProduct", err)
	}
	return &orderv1.CreateProductResponse{Product: productPB(p)}, nil
}

func (s *Server) GetProduct(ctx context.Context, req *orderv1.GetProductRequest) (*orderv1.GetProductResponse, error) {
	p, err := s.Svc.Product(ctx, req.GetId())
	if err != nil {
		return nil, s.toStatus(ctx, "GetProduct", err)
	}
	return &orderv1.GetProductResponse{Product: productPB(p)}, nil
}

func (s *Server) PlaceOrder(ctx context.Context, req *orderv1.PlaceOrderRequest) (*orderv1.PlaceOrderResponse, error) {
	cmd := domain.PlaceOrder{UserID: req.GetUserId(), IdempotencyKey: req.GetIdempotencyKey()}
	for _, it := range req.GetItems() {
		cmd.Items = append(cmd.Items, domain.Item{ProductID: it.GetProductId(), Quantity: int(it.GetQuantity())})
	}
	o, created, err := s.Svc.PlaceOrder(ctx, cmd)
	if err != nil {
		return nil, s.toStatus(ctx, "PlaceOrder", err)
	}
	return &orderv1.PlaceOrderResponse{Order: orderPB(o), Created: created}, nil
}

func (s *Server) GetOrder(ctx context.Context, req *orderv1.GetOrderRequest) (*orderv1.GetOrderResponse, error) {
	o, err := s.Svc.Order(ctx, req.GetId())
	if err != nil {
		return nil, s.toStatus(ctx, "GetOrder", err)
	}
	return &orderv1.GetOrderResponse{Order: orderPB(o)}, nil
}

func (s *Server) PayOrder(ctx context.Context, req *orderv1.PayOrderRequest) (*orderv1.PayOrderResponse, error) {
	// An order still pending in the answer is a deferred payment (the gateway says 202 Accepted).
	o, paymentID, err := s.Svc.PayOrDefer(ctx, req.GetOrderId(), req.GetAmountCents())
	if err != nil {
		return nil, s.toStatus(ctx, "PayOrder", err)
	}
	return &orderv1.PayOrderResponse{Order: orderPB(o), PaymentId: paymentID}, nil
}

func (s *Server) ListUserOrders(ctx context.Context, req *orderv1.ListUserOrdersRequest) (*orderv1.ListUserOrdersResponse, error) {
	history, err := s.Svc.OrdersOfUser(ctx, req.GetUserId())
	if err != nil {
		return nil, s.toStatus(ctx, "ListUserOrders", err)
	}
	out := &orderv1.ListUserOrdersResponse{}
	for _, h := range history {
		op := &orderv1.OrderWithPayments{Order: orderPB(h.Order)}
		for _, p := range h.Payments {
			op.Payments = append(op.Payments, &orderv1.Payment{Id: p.ID, AmountCents: p.AmountCents})
		}
		out.Orders = append(out.Orders, op)
	}
	return out, nil
}

// codeOf maps the service's errors to gRPC codes. Only errors the service names pass; anything else
// (a SQL error, a downstream service's status) is INTERNAL, so no internal detail and no other service's
// verdict reaches the client by accident.
var codeOf = []struct {
	err  error
	code codes.Code
}{
	{domain.ErrInvalid, codes.InvalidArgument},
	{domain.ErrUserNotFound, codes.NotFound},
	{domain.ErrProductNotFound, codes.NotFound},
	{domain.ErrOrderNotFound, codes.NotFound},
	{domain.ErrOutOfStock, codes.FailedPrecondition},
	{domain.ErrNotPending, codes.FailedPrecondition},
	{domain.ErrAmountMismatch, codes.FailedPrecondition},
	{domain.ErrKeyInUse, codes.Aborted},
	{domain.ErrUnavailable, codes.Unavailable},
	{domain.ErrPaymentRefused, codes.FailedPrecondition},
}

func (s *Server) toStatus(ctx context.Context, method string, err error) error {
	for _, c := range codeOf {
		if errors.Is(err, c.err) {
			return status.Error(c.code, c.err.Error())
		}
	}
	// The request's own ctx ended (the client went away, or its deadline passed): that is the answer, whatever
	// error the work it cut short returned (a downstream call's "canceled" is not an internal error).
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, "canceled")
	}
	if s.OnInternal != nil {
		s.OnInternal(ctx, method, err)
	}
	return status.Error(codes.Internal, "internal error")
}

func productPB(p domain.Product) *orderv1.Product {
	return &orderv1.Product{Id: p.ID, Name: p.Name, PriceCents: p.PriceCents, Stock: int32(p.Stock)}
}

func orderPB(o domain.Order) *orderv1.Order {
	pb := &orderv1.Order{Id: o.ID, UserId: o.UserID, TotalCents: o.TotalCents, Status: orderv1.OrderStatus_ORDER_STATUS_PENDING}
	switch o.Status {
	case domain.StatusPaid:
		pb.Status = orderv1.OrderStatus_ORDER_STATUS_PAID
	case domain.StatusCancelled:
		pb.Status = orderv1.OrderStatus_ORDER_STATUS_CANCELLED
	}
	for _, it := range o.Items {
		pb.Items = append(pb.Items, &orderv1.Item{ProductId: it.ProductID, Quantity: int32(it.Quantity), PriceCents: it.PriceCents})
	}
	return pb
}
