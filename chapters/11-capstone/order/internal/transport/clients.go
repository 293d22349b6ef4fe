package transport

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	userv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/user/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/order/internal/domain"
)

// Users is service.Users over the user service's gRPC client.
type Users struct{ Client userv1.UserServiceClient }

// Exists asks the user service for the user: NOT_FOUND is an answer (false), anything else an error.
func (u Users) Exists(ctx context.Context, id int64) (bool, error) {
	_, err := u.Client.GetUser(ctx, &userv1.GetUserRequest{Id: id})
	switch status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.NotFound:
		return false, nil
	default:
		return false, downstream("user service", err)
	}
}

// Payments is service.Payments over the payment service's gRPC client.
type Payments struct {
	Client paymentv1.PaymentServiceClient
}

// Charge asks the payment service to take the money.
func (p Payments) Charge(ctx context.Context, orderID, amountCents int64, key string) (int64, error) {
	resp, err := p.Client.Charge(ctx, &paymentv1.ChargeRequest{OrderId: orderID, AmountCents: amountCents, IdempotencyKey: key})
	switch status.Code(err) {
	case codes.OK:
		return resp.GetPayment().GetId(), nil
	case codes.InvalidArgument, codes.FailedPrecondition: // an answer, not an outage: asking again changes nothing
		return 0, fmt.Errorf("payment service: %w (%w)", domain.ErrPaymentRefused, err)
	default:
		return 0, downstream("payment service", err)
	}
}

// Close asks the payment service to close an order's payment.
func (p Payments) Close(ctx context.Context, orderID int64, key string) (bool, int64, error) {
	resp, err := p.Client.Close(ctx, &paymentv1.CloseRequest{OrderId: orderID, IdempotencyKey: key})
	if err != nil {
		return false, 0, downstream("payment service", err)
	}
	return resp.GetClosed(), resp.GetPayment().GetId(), nil
}

// List asks the payment service for an order's payments.
func (p Payments) List(ctx context.Context, orderID int64) ([]domain.Payment, error) {
	resp, err := p.Client.ListPayments(ctx, &paymentv1.ListPaymentsRequest{OrderId: orderID})
	if err != nil {
		return nil, downstream("payment service", err)
	}
	out := make([]domain.Payment, 0, len(resp.GetPayments()))
	for _, pm := range resp.GetPayments() {
		out = append(out, domain.Payment{ID: pm.GetId(), AmountCents: pm.GetAmountCents()})
	}
	return out, nil
}

// downstream wraps a failed call: an unreachable or slow service is domain.ErrUnavailable (the caller may retry),
// any other answer stays an error of its own (INTERNAL at our edge).
func downstream(who string, err error) error {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return fmt.Errorf("%s: %w (%w)", who, domain.ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", who, err)
	}
}
