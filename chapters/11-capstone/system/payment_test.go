package system

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment"
	"github.com/gomicrolab/microlab/infra"
)

// TestCheckoutPaymentServiceOnZrpc runs the go-zero payment service alone: it serves on the address the caller picked,
// is in Consul when OnUp runs, charges once per key, refuses a key reused for another amount, and leaves
// Consul before Run returns.
func TestCheckoutPaymentServiceOnZrpc(t *testing.T) {
	ce := infra.Consul(t)
	consul, err := api.NewClient(&api.Config{Address: ce.Addr})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	service, id := ce.Prefix+"payment", ce.Prefix+"payment-1"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- payment.Run(ctx, payment.Config{DSN: infra.MySQL(t), Consul: consul, Service: service, ID: id, Listener: lis,
			OnUp: func() { close(up) }})
	}()
	select {
	case <-up:
	case err := <-done:
		t.Fatalf("Run = %v before OnUp, want it serving", err)
	case <-time.After(30 * time.Second): // generous: a loaded machine, a fresh database
		t.Fatal("Run did not call OnUp within 30s")
	}
	entries, _, err := consul.Health().Service(service, "", false, nil)
	if err != nil || len(entries) != 1 || entries[0].Service.Port != lis.Addr().(*net.TCPAddr).Port {
		t.Fatalf("Consul entries of %s after OnUp = %d (err %v), want 1 at %s: OnUp means registered", service, len(entries), err, addr)
	}

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := paymentv1.NewPaymentServiceClient(conn)
	req := &paymentv1.ChargeRequest{OrderId: 7, AmountCents: 1500, IdempotencyKey: "order-7"}
	first, err := c.Charge(ctx, req)
	if err != nil || first.GetReplayed() {
		t.Fatalf("Charge(order-7) = %v, %v; want a new payment", first, err)
	}
	again, err := c.Charge(ctx, req)
	if err != nil || !again.GetReplayed() || again.GetPayment().GetId() != first.GetPayment().GetId() {
		t.Fatalf("Charge(order-7) again = %v, %v; want the first payment, replayed: a retry must not charge twice", again, err)
	}
	_, err = c.Charge(ctx, &paymentv1.ChargeRequest{OrderId: 7, AmountCents: 9900, IdempotencyKey: "order-7"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("Charge(order-7, another amount) = %v, want FailedPrecondition: a key is bound to one charge", err)
	}
	list, err := c.ListPayments(ctx, &paymentv1.ListPaymentsRequest{OrderId: 7})
	if err != nil || len(list.GetPayments()) != 1 {
		t.Fatalf("ListPayments(7) = %v, %v; want exactly one payment", list, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil (a clean stop)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of cancel: the zrpc server did not stop")
	}
	entries, _, err = consul.Health().Service(service, "", false, nil)
	if err != nil || len(entries) != 0 {
		t.Fatalf("Consul entries of %s after Run returned = %d (err %v), want 0: deregister before stopping", service, len(entries), err)
	}
}
