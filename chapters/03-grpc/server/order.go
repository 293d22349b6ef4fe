package server

import (
	"context"
	"fmt"
	"time"

	orderv1 "github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/order/v1"
	userv1 "github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/interceptor"
	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// OrderStore is what OrderServer needs from storage. *shop.Store implements it.
type OrderStore interface {
	CreateOrder(ctx context.Context, o shop.Order) (shop.Order, error)
	Order(ctx context.Context, id string) (shop.Order, error)
	OrderByRequestID(ctx context.Context, requestID string) (shop.Order, error)
	UpdateOrder(ctx context.Context, id string, change func(*shop.Order) error) (shop.Order, error)
}

// OrderServer implements orderv1.OrderServiceServer. Creating an order asks the user service,
// over gRPC, whether the user exists: that downstream call is where deadlines must propagate.
//
// Every method acts for the authenticated caller (interceptor.UserID) and only on the caller's own
// orders. A valid token proves who you are, not which orders you may touch: without the owner check,
// any customer could pay or cancel anyone's order by trying ids (OWASP API1, broken object-level
// authorisation). A call without an identity fails closed with Unauthenticated.
type OrderServer struct {
	orderv1.UnimplementedOrderServiceServer
	orders      OrderStore
	users       userv1.UserServiceClient
	userTimeout time.Duration // the most this server will wait for the user service on one call
}

// NewOrderServer returns an OrderServer that stores orders in orders and checks users with users,
// waiting at most userTimeout for each user-service call.
func NewOrderServer(orders OrderStore, users userv1.UserServiceClient, userTimeout time.Duration) *OrderServer {
	if orders == nil || users == nil || userTimeout <= 0 {
		panic("server.NewOrderServer: need an OrderStore, a UserServiceClient and a positive userTimeout")
	}
	return &OrderServer{orders: orders, users: users, userTimeout: userTimeout}
}

func (s *OrderServer) CreateOrder(ctx context.Context, req *orderv1.CreateOrderRequest) (*orderv1.CreateOrderResponse, error) {
	o, err := shop.NewOrder(req.GetRequestId(), req.GetUserId(), req.GetSku(), int(req.GetQuantity()), req.GetUnitPriceCents())
	if err != nil {
		return nil, toStatus(err)
	}
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	if o.UserID != caller {
		return nil, toStatus(fmt.Errorf("create order for user %s as %s: %w", o.UserID, caller, shop.ErrNotOwner))
	}
	if err := s.checkUser(ctx, o.UserID); err != nil {
		return nil, toStatus(err)
	}
	created, err := s.createOnce(ctx, o)
	if err != nil {
		return nil, toStatus(err)
	}
	return &orderv1.CreateOrderResponse{Order: orderToProto(created)}, nil
}

// checkUser asks the user service whether userID exists.
func (s *OrderServer) checkUser(ctx context.Context, userID string) error {
	callCtx, cancel := s.userCallContext(ctx)
	defer cancel()
	_, err := s.users.GetUser(callCtx, &userv1.GetUserRequest{Id: userID})
	switch status.Code(err) {
	case codes.OK:
		return nil
	case codes.NotFound:
		// The user service's NOT_FOUND means "your user_id is wrong", not "the order was not found":
		// passing a downstream code straight through would tell our caller something false.
		return &shop.InvalidError{Field: "user_id", Reason: "no such user"}
	case codes.DeadlineExceeded:
		// The call used up its time budget (ours or our caller's). Say so as the context error it is,
		// which toStatus maps to DeadlineExceeded; an opaque downstream error would become Internal.
		return fmt.Errorf("check user %s: %w", userID, context.DeadlineExceeded)
	case codes.Canceled:
		return fmt.Errorf("check user %s: %w", userID, context.Canceled)
	case codes.Unavailable:
		// The user service is down or unreachable. Our contract (order.proto) calls that UNAVAILABLE,
		// try again. The downstream error stays wrapped for our logs; its text (addresses, hosts,
		// "connection refused") is not for our client, and toStatus must not send it.
		return fmt.Errorf("check user %s: %w: %w", userID, shop.ErrUnavailable, err)
	}
	// Anything else from downstream (Internal, Unauthenticated for our own service credentials,
	// PermissionDenied, ...) is our problem, not the caller's: passing the code through would tell
	// our client its token is bad when ours is. It stays wrapped, so toStatus sees an unknown error.
	return fmt.Errorf("check user %s: %w", userID, err)
}

// callerID returns the authenticated caller, or Unauthenticated if no interceptor put one in ctx.
func callerID(ctx context.Context) (string, error) {
	id, ok := interceptor.UserID(ctx)
	if !ok {
		return "", status.Error(codes.Unauthenticated, "no authenticated caller")
	}
	return id, nil
}

// ownOrder loads order id and checks that it belongs to the caller.
func (s *OrderServer) ownOrder(ctx context.Context, id string) (shop.Order, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return shop.Order{}, err
	}
	o, err := s.orders.Order(ctx, id)
	if err != nil {
		return shop.Order{}, toStatus(err)
	}
	if o.UserID != caller {
		return shop.Order{}, toStatus(fmt.Errorf("order %s as %s: %w", id, caller, shop.ErrNotOwner))
	}
	return o, nil
}

// changeOwnOrder applies change to order id if the caller owns it. The owner is checked again
// inside UpdateOrder's lock, so the check and the change are one step.
func (s *OrderServer) changeOwnOrder(ctx context.Context, id string, change func(*shop.Order) error) (shop.Order, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return shop.Order{}, err
	}
	o, err := s.orders.UpdateOrder(ctx, id, func(o *shop.Order) error {
		if o.UserID != caller {
			return fmt.Errorf("order %s as %s: %w", id, caller, shop.ErrNotOwner)
		}
		return change(o)
	})
	if err != nil {
		return shop.Order{}, toStatus(err)
	}
	return o, nil
}

func (s *OrderServer) GetOrder(ctx context.Context, req *orderv1.GetOrderRequest) (*orderv1.GetOrderResponse, error) {
	o, err := s.ownOrder(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &orderv1.GetOrderResponse{Order: orderToProto(o)}, nil
}

func (s *OrderServer) PayOrder(ctx context.Context, req *orderv1.PayOrderRequest) (*orderv1.PayOrderResponse, error) {
	o, err := s.changeOwnOrder(ctx, req.GetId(), (*shop.Order).Pay)
	if err != nil {
		return nil, err
	}
	return &orderv1.PayOrderResponse{Order: orderToProto(o)}, nil
}

func (s *OrderServer) CancelOrder(ctx context.Context, req *orderv1.CancelOrderRequest) (*orderv1.CancelOrderResponse, error) {
	o, err := s.changeOwnOrder(ctx, req.GetId(), (*shop.Order).Cancel)
	if err != nil {
		return nil, err
	}
	return &orderv1.CancelOrderResponse{Order: orderToProto(o)}, nil
}
