// Package handler is the payment service's HTTP side on go-zero's rest.Server: each handler decodes the
// request, calls the same logic the gRPC server calls, and writes JSON. No business code here either.
package handler

import (
	"net/http"

	"github.com/zeromicro/go-zero/rest"

	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/svc"
)

// RegisterHandlers adds the routes of api/payment.api to server.
func RegisterHandlers(server *rest.Server, svcCtx *svc.ServiceContext) {
	server.AddRoutes([]rest.Route{
		{Method: http.MethodGet, Path: "/payments", Handler: ListPaymentsHandler(svcCtx)},
	})
}
