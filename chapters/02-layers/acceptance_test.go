package layers_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/01-monolith/acceptance"
	layers "github.com/gomicrolab/microlab/chapters/02-layers"
	"github.com/gomicrolab/microlab/infra"
)

// TestAcceptance runs chapter 01's black-box suite, unchanged, against the layered shop: the layers
// changed how the code is organised, not what the shop does.
func TestAcceptance(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := infra.Redis(t)
	cfg := layers.Config{MySQLDSN: infra.MySQL(t), RedisAddr: r.Addr, RedisDB: r.DB, RedisPrefix: r.Prefix}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- layers.Run(ctx, cfg, ln) }()

	base := "http://" + ln.Addr().String()
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 15*time.Second, 50*time.Millisecond, "the shop did not answer GET /healthz")

	acceptance.Run(t, base)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "layers.Run after cancel")
	case <-time.After(10 * time.Second):
		t.Fatal("layers.Run did not return within 10s of cancel")
	}
}
