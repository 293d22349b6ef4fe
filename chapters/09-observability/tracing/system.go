package tracing

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/gomicrolab/microlab/chapters/09-observability/gen/obs/orders/v1"
)

// Instrumentation scope of the spans this package starts by hand.
const scope = "github.com/gomicrolab/microlab/chapters/09-observability/tracing"

// Tracer returns this package's tracer from tp.
func Tracer(tp trace.TracerProvider) trace.Tracer { return tp.Tracer(scope) }

// NewGateway returns the HTTP gateway: POST /orders/:id/confirm calls OrderService.ConfirmOrder. otelgin starts
// a server span per request, named after the route template ("POST /orders/:id/confirm"), never the raw path:
// a span name per order id would make every request its own operation in Jaeger. Middlewares in outer run
// first, outside gin.Recovery: a metrics middleware there counts a panic as the 500 the client received.
func NewGateway(tp trace.TracerProvider, orders ordersv1.OrderServiceClient, outer ...gin.HandlerFunc) *gin.Engine {
	r := gin.New()
	r.Use(outer...)
	r.Use(gin.Recovery(), otelgin.Middleware("gateway", otelgin.WithTracerProvider(tp)))
	r.POST("/orders/:id/confirm", func(c *gin.Context) {
		// c.Request.Context() carries otelgin's span; the gRPC client handler makes its span a child of it.
		resp, err := orders.ConfirmOrder(c.Request.Context(), &ordersv1.ConfirmOrderRequest{Id: c.Param("id")})
		if err != nil {
			code := http.StatusBadGateway
			if status.Code(err) == codes.InvalidArgument {
				code = http.StatusBadRequest
			}
			c.JSON(code, gin.H{"error": status.Convert(err).Message()})
			return
		}
		c.JSON(http.StatusOK, gin.H{"id": resp.GetId(), "status": resp.GetStatus()})
	})
	return r
}

// Dial connects to the OrderService with otelgrpc's client stats handler: one client span per call, and its
// trace context injected into the outgoing gRPC metadata by the global propagator.
func Dial(addr string, tp trace.TracerProvider) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp))))
}

// NewGRPCServer returns a gRPC server with otelgrpc's server stats handler (it extracts the caller's trace
// context from the metadata and starts a server span) and reflection, serving orders.
func NewGRPCServer(tp trace.TracerProvider, orders ordersv1.OrderServiceServer) *grpc.Server {
	s := grpc.NewServer(grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp))))
	ordersv1.RegisterOrderServiceServer(s, orders)
	reflection.Register(s)
	return s
}

// OrderEvent is what the order service announces on Kafka.
type OrderEvent struct {
	OrderID string `json:"order_id"`
	Type    string `json:"type"`
}

// OrderServer confirms orders and publishes "order.confirmed" to Topic with Publish.
type OrderServer struct {
	ordersv1.UnimplementedOrderServiceServer
	Tracer   trace.Tracer
	Producer *kgo.Client
	Topic    string
}

func (s *OrderServer) ConfirmOrder(ctx context.Context, req *ordersv1.ConfirmOrderRequest) (*ordersv1.ConfirmOrderResponse, error) {
	if req.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "id is required")
	}
	value, err := json.Marshal(OrderEvent{OrderID: req.GetId(), Type: "order.confirmed"})
	if err != nil {
		return nil, status.Error(codes.Internal, "encode event")
	}
	rec := &kgo.Record{Topic: s.Topic, Key: []byte(req.GetId()), Value: value}
	if err := Publish(ctx, s.Tracer, s.Producer, rec); err != nil {
		log.Printf("orders: publish %s: %v", req.GetId(), err)
		return nil, status.Error(codes.Unavailable, "could not publish the order event")
	}
	return &ordersv1.ConfirmOrderResponse{Id: req.GetId(), Status: "confirmed"}, nil
}

// Consume polls cl until ctx ends and runs Process with handle for every record. A failed record is logged
// and skipped (chapter 07 shows retries and dead letters; here the point is the trace).
func Consume(ctx context.Context, tracer trace.Tracer, cl *kgo.Client, handle Handler) error {
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if fetches.IsClientClosed() {
			return errors.New("consume: client closed")
		}
		fetches.EachError(func(topic string, p int32, err error) {
			log.Printf("consume %s[%d]: %v", topic, p, err)
		})
		var stop bool
		fetches.EachRecord(func(r *kgo.Record) {
			if stop {
				return
			}
			if err := Process(ctx, tracer, r, handle); err != nil {
				log.Printf("consume %s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
			stop = ctx.Err() != nil
		})
		if stop {
			return nil
		}
	}
}
