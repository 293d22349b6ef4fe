package canary

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	canaryv1 "github.com/gomicrolab/microlab/chapters/10-deploy/gen/canary/v1"
)

// Backends is the next hop as seen by its caller: one connection to its stable instance and one to its
// canary instance (a canary is a Deployment of its own, behind a Service of its own). It is a
// grpc.ClientConnInterface, so a generated client sends its calls through Invoke, which picks the instance.
type Backends struct {
	Stable grpc.ClientConnInterface
	Canary grpc.ClientConnInterface // nil: no canary is deployed
}

var _ grpc.ClientConnInterface = Backends{}

// NewStream is not used in this chapter: every call is unary.
func (b Backends) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, status.Error(codes.Unimplemented, "canary.Backends routes unary calls only")
}

// Dial connects to one instance, with UnaryClientInterceptor on every call.
func Dial(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(UnaryClientInterceptor()))
}

// NewGRPCServer returns a gRPC server for svc with UnaryServerInterceptor, and reflection (grpcurl).
func NewGRPCServer(svc canaryv1.HopServiceServer) *grpc.Server {
	s := grpc.NewServer(grpc.UnaryInterceptor(UnaryServerInterceptor()))
	canaryv1.RegisterHopServiceServer(s, svc)
	reflection.Register(s)
	return s
}

// Served is one request served by one instance: which, for which request, and the tag it arrived with.
type Served struct {
	Service   string
	Version   Version // the instance's version
	Tag       Version // the version tag the request carried ("" for none)
	RequestID string
}

// Log collects what every instance and consumer served; tests and canarydemo count it.
type Log struct {
	mu     sync.Mutex
	served []Served
}

// Add notes s.
func (l *Log) Add(s Served) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.served = append(l.served, s)
}

// All returns a copy of what was served so far.
func (l *Log) All() []Served {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Served(nil), l.served...)
}

// Event is the record the last service publishes.
type Event struct {
	RequestID string `json:"request_id"`
	UserID    string `json:"user_id"`
}

// Service is one instance of a service of the chain, at one version. It notes each request in Log, calls
// Next when there is one (passing the request id on), and publishes an Event to Topic when it has a Producer.
type Service struct {
	canaryv1.UnimplementedHopServiceServer
	Name     string
	Version  Version
	Log      *Log
	Next     canaryv1.HopServiceClient // nil: the last service
	Producer *kgo.Client               // nil: publishes nothing
	Topic    string
}

func (s *Service) Handle(ctx context.Context, req *canaryv1.HandleRequest) (*canaryv1.HandleResponse, error) {
	var requestID string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if ids := md.Get(RequestIDKey); len(ids) > 0 {
			requestID = ids[0]
		}
	}
	tag := FromContext(ctx)
	if s.Log != nil {
		s.Log.Add(Served{Service: s.Name, Version: s.Version, Tag: tag, RequestID: requestID})
	}
	resp := &canaryv1.HandleResponse{Hops: []*canaryv1.Hop{{Service: s.Name, Version: string(s.Version), Tag: string(tag)}}}
	if s.Next != nil {
		next, err := s.Next.Handle(metadata.AppendToOutgoingContext(ctx, RequestIDKey, requestID), req)
		if err != nil {
			log.Printf("%s %s: call next: %v", s.Name, s.Version, err)
			return nil, status.Error(codes.Internal, "next service failed")
		}
		resp.Hops = append(resp.Hops, next.GetHops()...)
	}
	if s.Producer != nil {
		value, err := json.Marshal(Event{RequestID: requestID, UserID: req.GetUserId()})
		if err != nil {
			return nil, status.Error(codes.Internal, "encode event")
		}
		rec := &kgo.Record{Topic: s.Topic, Key: []byte(req.GetUserId()), Value: value}
		SetRecordVersion(ctx, rec)
		if err := s.Producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
			log.Printf("%s %s: publish: %v", s.Name, s.Version, err)
			// Internal, not Unavailable: the caller must not retry this on another instance (the request
			// may have been half done).
			return nil, status.Error(codes.Internal, "could not publish the event")
		}
	}
	return resp, nil
}

// NewGateway returns the public HTTP gateway: Middleware at weight percent decides the version, then
// GET /checkout calls service A (next) with the request id in the metadata and answers with the decision
// and the hops that served the request.
func NewGateway(next canaryv1.HopServiceClient, weight int) *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery(), Middleware(weight))
	r.GET("/checkout", func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if id == "" {
			id = newRequestID()
		}
		ctx := metadata.AppendToOutgoingContext(c.Request.Context(), RequestIDKey, id)
		resp, err := next.Handle(ctx, &canaryv1.HandleRequest{UserId: c.GetHeader(HeaderUser)})
		if err != nil {
			log.Printf("gateway: %s: %v", id, err)
			c.JSON(http.StatusBadGateway, gin.H{"error": "upstream failed", "request_id": id})
			return
		}
		hops := make([]gin.H, 0, len(resp.GetHops()))
		for _, h := range resp.GetHops() {
			hops = append(hops, gin.H{"service": h.GetService(), "version": h.GetVersion(), "tag": h.GetTag()})
		}
		c.JSON(http.StatusOK, gin.H{"request_id": id, "version": FromContext(c.Request.Context()), "hops": hops})
	})
	return r
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Handler processes one record that a consumer accepted; ctx carries the record's version.
type Handler func(ctx context.Context, r *kgo.Record) error

// Consume polls cl until ctx ends and runs handle for each record that a consumer of version self Accepts,
// with the record's version in ctx. cl must be in a consumer group of its own version: the stable and the
// canary consumers both read every record and each keeps its own.
func Consume(ctx context.Context, cl *kgo.Client, self Version, handle Handler) error {
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
		fetches.EachRecord(func(r *kgo.Record) {
			if !Accepts(self, r) {
				return
			}
			if err := handle(WithVersion(ctx, RecordVersion(r)), r); err != nil {
				log.Printf("consume %s %s[%d]@%d: %v", self, r.Topic, r.Partition, r.Offset, err)
			}
		})
	}
}

// LogEvents returns a Handler that notes each event in l as served by the consumer service name at version
// self, with the tag the record carried.
func LogEvents(l *Log, name string, self Version) Handler {
	return func(ctx context.Context, r *kgo.Record) error {
		var e Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			return fmt.Errorf("decode event: %w", err)
		}
		var tag Version
		for _, h := range r.Headers {
			if h.Key == RecordHeader {
				tag = Version(h.Value)
			}
		}
		l.Add(Served{Service: name, Version: self, Tag: tag, RequestID: e.RequestID})
		return nil
	}
}
