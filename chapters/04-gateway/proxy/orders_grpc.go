package proxy

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
)

// The orders service speaks gRPC. Chapter 03 generates its code from .proto files; this chapter keeps
// the gateway free of generated code by registering the service by hand and encoding messages as JSON.
// gRPC itself does not care: a call is an HTTP/2 POST to /package.Service/Method whose body the codec
// named in the content-type (application/grpc+json here) encodes. Protobuf is the usual codec, not a
// requirement. The price is a larger, slower, schema-less wire format, which is why real services use protobuf.

// jsonCodec encodes gRPC messages with encoding/json.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
func (jsonCodec) Name() string                       { return "json" }

func init() { encoding.RegisterCodec(jsonCodec{}) }

// Messages of the orders service.
type (
	GetOrderRequest struct {
		ID string `json:"id"`
	}
	ListOrdersRequest struct {
		UserID string `json:"user_id"`
	}
	Order struct {
		ID         string `json:"id"`
		UserID     string `json:"user_id"`
		TotalCents int64  `json:"total_cents"`
		Status     string `json:"status"`
	}
	OrderList struct {
		Orders []Order `json:"orders"`
	}
)

// OrdersServer is the orders service's API.
type OrdersServer interface {
	GetOrder(ctx context.Context, req *GetOrderRequest) (*Order, error)
	ListOrders(ctx context.Context, req *ListOrdersRequest) (*OrderList, error)
}

const (
	ordersService    = "shop.orders.v1.Orders"
	getOrderMethod   = "/" + ordersService + "/GetOrder"
	listOrdersMethod = "/" + ordersService + "/ListOrders"
)

// RegisterOrders registers srv on s, as protoc-gen-go-grpc's generated RegisterXxxServer would.
func RegisterOrders(s *grpc.Server, srv OrdersServer) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: ordersService,
		HandlerType: (*OrdersServer)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "GetOrder", Handler: unary(getOrderMethod, OrdersServer.GetOrder)},
			{MethodName: "ListOrders", Handler: unary(listOrdersMethod, OrdersServer.ListOrders)},
		},
	}, srv)
}

// unary adapts a typed method to grpc's untyped handler, running the server's interceptors.
func unary[Req, Resp any](fullMethod string, call func(OrdersServer, context.Context, *Req) (*Resp, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
		req := new(Req)
		if err := dec(req); err != nil {
			return nil, err
		}
		handler := func(ctx context.Context, req any) (any, error) { return call(srv.(OrdersServer), ctx, req.(*Req)) }
		if icpt == nil {
			return handler(ctx, req)
		}
		return icpt(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}, handler)
	}
}

// OrdersClient calls the orders service.
type OrdersClient struct{ cc grpc.ClientConnInterface }

// NewOrdersClient wraps a connection (grpc.NewClient) to the orders service.
func NewOrdersClient(cc grpc.ClientConnInterface) *OrdersClient { return &OrdersClient{cc: cc} }

// GetOrder calls Orders.GetOrder. The deadline and cancellation travel in ctx.
func (c *OrdersClient) GetOrder(ctx context.Context, req *GetOrderRequest, opts ...grpc.CallOption) (*Order, error) {
	out := new(Order)
	err := c.cc.Invoke(ctx, getOrderMethod, req, out, append(opts, grpc.CallContentSubtype("json"))...)
	return out, err
}

// ListOrders calls Orders.ListOrders.
func (c *OrdersClient) ListOrders(ctx context.Context, req *ListOrdersRequest, opts ...grpc.CallOption) (*OrderList, error) {
	out := new(OrderList)
	err := c.cc.Invoke(ctx, listOrdersMethod, req, out, append(opts, grpc.CallContentSubtype("json"))...)
	return out, err
}
