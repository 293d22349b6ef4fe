package handler

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gomicrolab/microlab/chapters/11-capstone/payment/internal/svc"
)

// TestListPaymentsHandlerRejectsBadQuery: a request without a usable order_id is the caller's mistake (400)
// and never reaches the logic (the ServiceContext here has no database: reaching it would panic).
func TestListPaymentsHandlerRejectsBadQuery(t *testing.T) {
	h := ListPaymentsHandler(&svc.ServiceContext{})
	for _, target := range []string{"/payments", "/payments?order_id=abc", "/payments?order_id=0", "/payments?order_id=-3"} {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("GET %s = %d, want 400: a bad order_id is the caller's error", target, rec.Code)
		}
	}
}
