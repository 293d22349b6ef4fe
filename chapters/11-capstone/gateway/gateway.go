// Package gateway is the capstone's only HTTP door: a Gin router that speaks chapter 01's JSON API (the
// acceptance suite's) and calls the user and order services over gRPC. It owns no data; its job is to
// translate: JSON to requests, the Idempotency-Key header to a field, gRPC codes to HTTP statuses.
package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orderv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/order/v1"
	userv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/user/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/obs"
)

// Gateway holds the clients of the services behind it.
type Gateway struct {
	Users  userv1.UserServiceClient
	Orders orderv1.OrderServiceClient
	// Timeout bounds each request's calls to the services; zero means 10s.
	Timeout time.Duration
	// Tracer, if not nil, starts a span per request (or continues the caller's traceparent).
	Tracer trace.TracerProvider
	// Registry, if not nil, gets the RED metrics, served at GET /metrics.
	Registry *prometheus.Registry
	// Logger, if not nil, writes one access line per request, with its trace id.
	Logger *zap.Logger
}

// Handler returns the HTTP API.
func (g *Gateway) Handler() http.Handler {
	r := gin.New()
	// Outermost first: the span, so that the metrics, the log line and the calls below all see it; then the
	// metrics and the log, which must see the 500 that Recovery writes for a panic.
	if g.Tracer != nil {
		r.Use(otelgin.Middleware("gateway", otelgin.WithTracerProvider(g.Tracer),
			otelgin.WithPropagators(propagation.TraceContext{})))
	}
	if g.Registry != nil {
		r.Use(obs.NewMetrics(g.Registry).Middleware())
		r.GET("/metrics", gin.WrapH(obs.MetricsHandler(g.Registry)))
	}
	if g.Logger != nil {
		r.Use(accessLog(g.Logger))
	}
	r.Use(gin.Recovery())
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.POST("/users", g.createUser)
	r.GET("/users/:id", g.getUser)
	r.GET("/users/:id/orders", g.userOrders)
	r.POST("/products", g.createProduct)
	r.GET("/products/:id", g.getProduct)
	r.POST("/orders", g.placeOrder)
	r.GET("/orders/:id", g.getOrder)
	r.POST("/orders/:id/payments", g.pay)
	return r
}

type userJSON struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type productJSON struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Stock      int32  `json:"stock"`
}

type itemJSON struct {
	ProductID  int64 `json:"product_id"`
	Quantity   int32 `json:"quantity"`
	PriceCents int64 `json:"price_cents"`
}

type orderJSON struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"user_id"`
	Status     string     `json:"status"`
	TotalCents int64      `json:"total_cents"`
	Items      []itemJSON `json:"items"`
}

func (g *Gateway) ctx(c *gin.Context) (context.Context, context.CancelFunc) {
	d := g.Timeout
	if d <= 0 {
		d = 10 * time.Second
	}
	return context.WithTimeout(c.Request.Context(), d)
}

func (g *Gateway) createUser(c *gin.Context) {
	var in struct{ Name, Email string }
	if !bind(c, &in) {
		return
	}
	ctx, cancel := g.ctx(c)
	defer cancel()
	resp, err := g.Users.CreateUser(ctx, &userv1.CreateUserRequest{Name: in.Name, Email: in.Email})
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, userOut(resp.GetUser()))
}

func (g *Gateway) getUser(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	ctx, cancel := g.ctx(c)
	defer cancel()
	resp, err := g.Users.GetUser(ctx, &userv1.GetUserRequest{Id: id})
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, userOut(resp.GetUser()))
}

type paymentJSON struct {
	ID          int64 `json:"id"`
	AmountCents int64 `json:"amount_cents"`
}

// userOrders answers with the user's orders, oldest first, each with its payments.
func (g *Gateway) userOrders(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	ctx, cancel := g.ctx(c)
	defer cancel()
	resp, err := g.Orders.ListUserOrders(ctx, &orderv1.ListUserOrdersRequest{UserId: id})
	if err != nil {
		writeError(c, err)
		return
	}
	type orderWithPayments struct {
		orderJSON
		Payments []paymentJSON `json:"payments"`
	}
	out := []orderWithPayments{}
	for _, o := range resp.GetOrders() {
		op := orderWithPayments{orderJSON: orderOut(o.GetOrder()), Payments: []paymentJSON{}}
		for _, p := range o.GetPayments() {
			op.Payments = append(op.Payments, paymentJSON{ID: p.GetId(), AmountCents: p.GetAmountCents()})
		}
		out = append(out, op)
	}
	c.JSON(http.StatusOK, gin.H{"orders": out})
}

func (g *Gateway) createProduct(c *gin.Context) {
	var in struct {
		Name       string `json:"name"`
		PriceCents int64  `json:"price_cents"`
		Stock      int32  `json:"stock"`
	}
	if !bind(c, &in) {
		return
	}
	ctx, cancel := g.ctx(c)
	defer cancel()
	resp, err := g.Orders.CreateProduct(ctx, &orderv1.CreateProductRequest{Name: in.Name, PriceCents: in.PriceCents, Stock: in.Stock})
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, productOut(resp.GetProduct()))
}

func (g *Gateway) getProduct(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	ctx, cancel := g.ctx(c)
	defer cancel()
	resp, err := g.Orders.GetProduct(ctx, &orderv1.GetProductRequest{Id: id})
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, productOut(resp.GetProduct()))
}

func (g *Gateway) placeOrder(c *gin.Context) {
	var in struct {
		UserID int64      `json:"user_id"`
		Items  []itemJSON `json:"items"`
	}
	if !bind(c, &in) {
		return
	}
	req := &orderv1.PlaceOrderRequest{UserId: in.UserID, IdempotencyKey: c.GetHeader("Idempotency-Key")}
	for _, it := range in.Items {
		req.Items = append(req.Items, &orderv1.Item{ProductId: it.ProductID, Quantity: it.Quantity})
	}
	ctx, cancel := g.ctx(c)
	defer cancel()
	resp, err := g.Orders.PlaceOrder(ctx, req)
	if err != nil {
		writeError(c, err)
		return
	}
	code := http.StatusCreated
	if !resp.GetCreated() { // the key's first order: a replay, nothing new was created
		code = http.StatusOK
	}
	c.JSON(code, orderOut(resp.GetOrder()))
}

func (g *Gateway) getOrder(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	ctx, cancel := g.ctx(c)
	defer cancel()
	resp, err := g.Orders.GetOrder(ctx, &orderv1.GetOrderRequest{Id: id})
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, orderOut(resp.GetOrder()))
}

func (g *Gateway) pay(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var in struct {
		AmountCents int64 `json:"amount_cents"`
	}
	if !bind(c, &in) {
		return
	}
	ctx, cancel := g.ctx(c)
	defer cancel()
	resp, err := g.Orders.PayOrder(ctx, &orderv1.PayOrderRequest{OrderId: id, AmountCents: in.AmountCents})
	if err != nil {
		writeError(c, err)
		return
	}
	if resp.GetOrder().GetStatus() == orderv1.OrderStatus_ORDER_STATUS_PENDING {
		// The payment service is unavailable: the order service took the payment on and will charge later
		// (degraded checkout). 202: accepted, not done; GET /orders/:id says when it is paid.
		c.JSON(http.StatusAccepted, gin.H{"order_id": id, "amount_cents": in.AmountCents, "status": "pending"})
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": resp.GetPaymentId(), "order_id": id, "amount_cents": in.AmountCents})
}

// maxBody bounds a request body: the largest honest one is a few kilobytes, and a bigger one would be read
// into memory and forwarded to a service whose gRPC limit (4 MiB) answers with its own text.
const maxBody = 1 << 20

func bind(c *gin.Context, v any) bool {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	if err := c.ShouldBindJSON(v); err != nil {
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": "body too large"})
			return false
		}
		c.JSON(http.StatusBadRequest, gin.H{"error": "body is not the expected JSON"})
		return false
	}
	return true
}

func pathID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		c.JSON(http.StatusNotFound, gin.H{"error": "not found"})
		return 0, false
	}
	return id, true
}

// httpStatus maps a gRPC code to the HTTP status chapter 01's API answers with.
var httpStatus = map[codes.Code]int{
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.NotFound:           http.StatusNotFound,
	codes.AlreadyExists:      http.StatusConflict,
	codes.FailedPrecondition: http.StatusConflict,
	codes.Aborted:            http.StatusConflict,
	codes.Unavailable:        http.StatusServiceUnavailable,
	codes.ResourceExhausted:  http.StatusTooManyRequests,
	codes.DeadlineExceeded:   http.StatusGatewayTimeout,
	codes.Unauthenticated:    http.StatusUnauthorized,
	codes.PermissionDenied:   http.StatusForbidden,
}

// writeError answers with the status a gRPC error maps to. A 4xx carries the service's message and the
// fields it names; a 5xx says only what kind of failure it was: internal text stays inside.
func writeError(c *gin.Context, err error) {
	st := status.Convert(err)
	code, ok := httpStatus[st.Code()]
	if !ok {
		code = http.StatusInternalServerError
	}
	body := gin.H{"error": http.StatusText(code)}
	if code < 500 {
		body["error"] = st.Message()
		fields := map[string]string{}
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					fields[v.GetField()] = v.GetDescription()
				}
			}
		}
		if len(fields) > 0 {
			body["fields"] = fields
		}
	}
	c.JSON(code, body)
}

func userOut(u *userv1.User) userJSON {
	return userJSON{ID: u.GetId(), Name: u.GetName(), Email: u.GetEmail()}
}

func productOut(p *orderv1.Product) productJSON {
	return productJSON{ID: p.GetId(), Name: p.GetName(), PriceCents: p.GetPriceCents(), Stock: p.GetStock()}
}

func orderOut(o *orderv1.Order) orderJSON {
	out := orderJSON{ID: o.GetId(), UserID: o.GetUserId(), TotalCents: o.GetTotalCents(), Status: "pending", Items: []itemJSON{}}
	switch o.GetStatus() {
	case orderv1.OrderStatus_ORDER_STATUS_PAID:
		out.Status = "paid"
	case orderv1.OrderStatus_ORDER_STATUS_CANCELLED:
		out.Status = "cancelled"
	}
	for _, it := range o.GetItems() {
		out.Items = append(out.Items, itemJSON{ProductID: it.GetProductId(), Quantity: it.GetQuantity(), PriceCents: it.GetPriceCents()})
	}
	return out
}

// accessLog writes one line per request with the trace id of its span, so a line leads to its trace in Jaeger.
func accessLog(base *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		obs.FromContext(c.Request.Context(), base).Info("request",
			zap.String("method", c.Request.Method), zap.String("route", c.FullPath()),
			zap.Int("status", c.Writer.Status()), zap.Duration("took", time.Since(start)))
	}
}
