package graceful

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/order/v1"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

const orderService = "shop.order.v1.OrderService"

// slowID makes the fake order service hold the call until release is closed (or its ctx ends).
const slowID = "slow"

type fakeOrders struct {
	orderv1.UnimplementedOrderServiceServer
	entered chan struct{} // receives when a slow call has started
	release chan struct{} // closed to let slow calls finish
}

func (f *fakeOrders) GetOrder(ctx context.Context, req *orderv1.GetOrderRequest) (*orderv1.GetOrderResponse, error) {
	if req.GetId() == slowID {
		f.entered <- struct{}{}
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	return &orderv1.GetOrderResponse{Order: &orderv1.Order{Id: req.GetId()}}, nil
}

// running is a graceful.Server serving a fake order service on a loopback port, and clients for it.
type running struct {
	srv     *Server
	fake    *fakeOrders
	served  chan error // Serve's result
	health  healthpb.HealthClient
	orders  orderv1.OrderServiceClient
	release func()
}

func start(t *testing.T, drainDelay time.Duration) running {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fake := &fakeOrders{entered: make(chan struct{}, 1), release: make(chan struct{})}
	srv := New(drainDelay)
	orderv1.RegisterOrderServiceServer(srv, fake)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	cc, err := grpc.NewClient("passthrough:///"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)

	released := false
	release := func() {
		if !released {
			released = true
			close(fake.release)
		}
	}
	t.Cleanup(func() {
		release()
		_ = cc.Close()
		srv.Stop()
	})
	return running{srv: srv, fake: fake, served: served, health: healthpb.NewHealthClient(cc), orders: orderv1.NewOrderServiceClient(cc), release: release}
}

func (r running) check(service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := r.health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	return resp.GetStatus(), err
}

func (r running) requireEventually(t *testing.T, service string, want healthpb.HealthCheckResponse_ServingStatus, within time.Duration, why string) {
	t.Helper()
	var got healthpb.HealthCheckResponse_ServingStatus
	var err error
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got, err = r.check(service); err == nil && got == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("Check(%q) = %v (err code %v), want %v within %v; %s", service, got, status.Code(err), want, within, why)
}

// getOrder calls GetOrder(id) with a short timeout.
func (r running) getOrder(id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := r.orders.GetOrder(ctx, &orderv1.GetOrderRequest{Id: id})
	return err
}

// inFlight starts a slow GetOrder and returns once the server is running it.
func (r running) inFlight(t *testing.T) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.getOrder(slowID, 30*time.Second) }()
	select {
	case <-r.fake.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow GetOrder never reached the server")
	}
	return done
}

func TestHealthServingAfterStart(t *testing.T) {
	r := start(t, time.Second)
	r.requireEventually(t, "", healthpb.HealthCheckResponse_SERVING, 2*time.Second, "the whole server must report SERVING once Serve runs")
	r.requireEventually(t, orderService, healthpb.HealthCheckResponse_SERVING, 2*time.Second,
		"each registered service must report SERVING by its full name (see GetServiceInfo)")
	_, err := r.check("no.such.Service")
	require.Equal(t, codes.NotFound, status.Code(err), "Check(unknown service): code = %v, want NotFound", status.Code(err))
}

func TestHealthNotServingWhileDraining(t *testing.T) {
	const drainDelay = 2 * time.Second // long enough for a probe and a call to get through on a loaded machine
	r := start(t, drainDelay)
	r.requireEventually(t, orderService, healthpb.HealthCheckResponse_SERVING, 2*time.Second,
		"each registered service must report SERVING by its full name (see GetServiceInfo)")
	slow := r.inFlight(t)

	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		drained <- r.srv.Drain(ctx)
	}()

	for _, service := range []string{"", orderService} {
		r.requireEventually(t, service, healthpb.HealthCheckResponse_NOT_SERVING, drainDelay/2,
			"Drain must report NOT_SERVING at once, for the server and every service, before it stops serving")
	}
	require.NoError(t, r.getOrder("o1", time.Second),
		"a new call during the drain delay failed; keep serving for drainDelay after NOT_SERVING, until load balancers notice")

	require.Eventually(t, func() bool { return r.getOrder("o2", 200*time.Millisecond) != nil }, 5*time.Second, 20*time.Millisecond,
		"new calls were still accepted long after the drain delay; stop accepting them (GracefulStop)")
	select {
	case err := <-slow:
		t.Fatalf("the call in flight ended (err %v) before it was released; drain must wait for calls in flight", err)
	default:
	}

	r.release()
	require.NoError(t, <-slow, "the call in flight failed during the drain; GracefulStop lets it finish, Stop would not")
	select {
	case err := <-drained:
		require.NoError(t, err, "Drain() after every call finished = %v, want nil", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not return after the last call in flight finished")
	}
	require.NoError(t, <-r.served, "Serve after Drain = error, want nil")
}

func TestHealthDrainBoundedByContext(t *testing.T) {
	r := start(t, 100*time.Millisecond)
	r.requireEventually(t, "", healthpb.HealthCheckResponse_SERVING, 2*time.Second, "the whole server must report SERVING once Serve runs")
	slow := r.inFlight(t) // never released: a call that would hold a graceful stop forever

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- r.srv.Drain(ctx) }()

	select {
	case err := <-drained:
		require.ErrorIs(t, err, context.DeadlineExceeded, "Drain(ctx that expired with a call still running) = %v, want ctx's error", err)
	case <-time.After(4 * time.Second):
		t.Fatal("Drain did not return 3s after its ctx expired; bound GracefulStop by ctx and Stop the server when ctx ends")
	}
	select {
	case err := <-slow:
		require.Error(t, err, "the stuck call succeeded although it was never released")
	case <-time.After(2 * time.Second):
		t.Fatal("the stuck call was still running after Drain gave up; Stop must end it")
	}
}

func TestHealthDrainHonoursContextDuringDelay(t *testing.T) {
	// Kubernetes gives a pod terminationGracePeriodSeconds in all; a drain delay longer than what is
	// left must not keep the process alive until SIGKILL. ctx is the caller's budget, and it wins.
	r := start(t, 30*time.Second)
	r.requireEventually(t, "", healthpb.HealthCheckResponse_SERVING, 2*time.Second, "the whole server must report SERVING once Serve runs")

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- r.srv.Drain(ctx) }()

	// 3s is ten times the ctx's 300ms: plenty on a loaded machine, and a tenth of the 30s delay.
	select {
	case err := <-drained:
		require.ErrorIs(t, err, context.DeadlineExceeded, "Drain(ctx that expired during the 30s drain delay) = %v, want ctx's error", err)
	case <-time.After(3 * time.Second):
		t.Fatal("Drain was still waiting out its 30s drain delay 3s after its 300ms ctx expired; the delay must end when ctx does")
	}
	select {
	case err := <-r.served:
		require.NoError(t, err, "Serve after Drain gave up = error, want nil")
	case <-time.After(3 * time.Second):
		t.Fatal("the server was still serving 3s after Drain returned; stop it when ctx ends")
	}
}
