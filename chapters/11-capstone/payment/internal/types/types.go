// Package types holds the HTTP request and response types of api/payment.api, as goctl generates them.
package types

// ListPaymentsReq is GET /payments?order_id=N.
type ListPaymentsReq struct {
	OrderId int64 `form:"order_id"`
}

// Payment is one payment in JSON.
type Payment struct {
	Id             int64  `json:"id"`
	OrderId        int64  `json:"order_id"`
	AmountCents    int64  `json:"amount_cents"`
	IdempotencyKey string `json:"idempotency_key"`
}

// ListPaymentsResp is an order's payments, oldest first.
type ListPaymentsResp struct {
	Payments []Payment `json:"payments"`
}
