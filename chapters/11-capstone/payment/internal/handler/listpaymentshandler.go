package handler

import (
	"net/http"

	"github.com/zeromicro/go-zero/rest/httpx"

	paymentv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/payment/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/logic"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/svc"
	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/types"
)

// ListPaymentsHandler serves GET /payments?order_id=N with ListPaymentsLogic, the logic ListPayments uses.
func ListPaymentsHandler(svcCtx *svc.ServiceContext) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req types.ListPaymentsReq
		if err := httpx.Parse(r, &req); err != nil { // missing or non-numeric order_id
			httpx.ErrorCtx(r.Context(), w, err) // go-zero's default error handler answers 400 with the message
			return
		}
		if req.OrderId <= 0 {
			http.Error(w, "order_id must be positive", http.StatusBadRequest)
			return
		}
		out, err := logic.NewListPaymentsLogic(r.Context(), svcCtx).ListPayments(&paymentv1.ListPaymentsRequest{OrderId: req.OrderId})
		if err != nil {
			// Not httpx.ErrorCtx, which goctl's template calls here: without a custom error handler it answers
			// 400 for every error that is not a gRPC status, and a failed query is the server's fault.
			http.Error(w, "list payments failed", http.StatusInternalServerError)
			return
		}
		resp := types.ListPaymentsResp{Payments: make([]types.Payment, 0, len(out.GetPayments()))}
		for _, p := range out.GetPayments() {
			resp.Payments = append(resp.Payments, types.Payment{Id: p.GetId(), OrderId: p.GetOrderId(),
				AmountCents: p.GetAmountCents(), IdempotencyKey: p.GetIdempotencyKey()})
		}
		httpx.OkJsonCtx(r.Context(), w, resp)
	}
}
