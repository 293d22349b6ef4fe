// Package domain holds the order service's business types and errors. It imports nothing of the outside
// world (no SQL, no gRPC): the other layers depend on it, never the reverse.
package domain

import "errors"

// Status is where an order is in its life: pending, then paid, or cancelled when it was not paid in time.
type Status string

const (
	StatusPending   Status = "pending"
	StatusPaid      Status = "paid"
	StatusCancelled Status = "cancelled"
)

// Product is one thing for sale, with its stock.
type Product struct {
	ID         int64
	Name       string
	PriceCents int64
	Stock      int
}

// Item is one line of an order: what, how many, at which unit price.
type Item struct {
	ProductID  int64
	Quantity   int
	PriceCents int64
}

// Order is a user's purchase.
type Order struct {
	ID             int64
	UserID         int64
	Status         Status
	TotalCents     int64
	Items          []Item
	IdempotencyKey string // the client's key, "" if none
}

// Payment is money taken for an order, as the payment service reports it.
type Payment struct {
	ID          int64
	AmountCents int64
}

// OrderWithPayments is an order with its payments, oldest first: one line of a user's order history.
type OrderWithPayments struct {
	Order    Order
	Payments []Payment
}

// PlaceOrder is the command to place an order.
type PlaceOrder struct {
	UserID         int64
	Items          []Item // ProductID and Quantity; the catalogue sets the price
	IdempotencyKey string
}

// Event types the order service publishes on its topic.
const (
	EventOrderPlaced = "OrderPlaced"
	EventOrderPaid   = "OrderPaid"
	// EventOrderCancelled: the order expired unpaid; its stock is back on sale (the saga's compensation).
	EventOrderCancelled = "OrderCancelled"
)

// Event is what other services learn about an order, published through the outbox.
type Event struct {
	Type       string `json:"type"`
	OrderID    int64  `json:"order_id"`
	UserID     int64  `json:"user_id"`
	TotalCents int64  `json:"total_cents"`
	PaymentID  int64  `json:"payment_id,omitempty"`
}

// Errors the service returns; the transport maps each to a gRPC code. Any other error is internal.
var (
	ErrInvalid         = errors.New("invalid request")         // INVALID_ARGUMENT
	ErrUserNotFound    = errors.New("user not found")          // NOT_FOUND
	ErrProductNotFound = errors.New("product not found")       // NOT_FOUND
	ErrOrderNotFound   = errors.New("order not found")         // NOT_FOUND
	ErrOutOfStock      = errors.New("not enough stock")        // FAILED_PRECONDITION
	ErrNotPending      = errors.New("order is not pending")    // FAILED_PRECONDITION
	ErrAmountMismatch  = errors.New("amount is not the total") // FAILED_PRECONDITION
	// ErrKeyInUse: another request with the same idempotency key placed its order while this one was under way.
	// ABORTED (409): the client's retry gets the first order.
	ErrKeyInUse    = errors.New("a request with this idempotency key is in progress")
	ErrUnavailable = errors.New("a service is not reachable") // UNAVAILABLE: retrying is safe
	// ErrPaymentRefused: the payment service answered and said no (a bad request, a key used for another
	// payment). FAILED_PRECONDITION: retrying the same payment gets the same answer.
	ErrPaymentRefused = errors.New("the payment service refused the payment")
)
