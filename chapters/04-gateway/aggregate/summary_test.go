package aggregate

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func init() { gin.SetMode(gin.TestMode) }

// behaviour of one fake backend call.
type behaviour struct {
	delay time.Duration // answer after delay (or fail with err), unless ctx ends first
	err   error
}

// backends fakes both services. With meet set, each call first waits until both have started,
// which only concurrent calls can satisfy.
type backends struct {
	profile, orders behaviour
	meet            bool

	started sync.WaitGroup
	active  atomic.Int64
}

func newBackends(profile, orders behaviour) *backends {
	b := &backends{profile: profile, orders: orders}
	b.started.Add(2)
	return b
}

var errNotConcurrent = errors.New("the other backend call never started: call both at the same time")

func (b *backends) run(ctx context.Context, s behaviour) error {
	b.active.Add(1)
	defer b.active.Add(-1)
	b.started.Done()
	if b.meet {
		both := make(chan struct{})
		go func() { b.started.Wait(); close(both) }()
		select {
		case <-both:
		case <-time.After(time.Second):
			return errNotConcurrent
		}
	}
	select {
	case <-time.After(s.delay):
		return s.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *backends) Profile(ctx context.Context, id string) (Profile, error) {
	if err := b.run(ctx, b.profile); err != nil {
		return Profile{}, err
	}
	return Profile{UserID: id, Name: "Ada"}, nil
}

func (b *backends) RecentOrders(ctx context.Context, id string) ([]Order, error) {
	if err := b.run(ctx, b.orders); err != nil {
		return nil, err
	}
	return []Order{{ID: "o1", TotalCents: 1250}}, nil
}

const (
	budget = 250 * time.Millisecond
	slow   = 3 * time.Second // far past the budget
	margin = 900 * time.Millisecond
)

var errDown = errors.New("service down")

func TestAggregateSummarize(t *testing.T) {
	tests := []struct {
		name            string
		profile, orders behaviour
		want            Summary
		wantErr         error
	}{
		{name: "both answer", profile: behaviour{delay: 5 * time.Millisecond}, orders: behaviour{delay: 10 * time.Millisecond},
			want: Summary{Profile: Profile{UserID: "u-42", Name: "Ada"}, Orders: []Order{{ID: "o1", TotalCents: 1250}}}},
		{name: "orders too slow: partial", profile: behaviour{delay: 5 * time.Millisecond}, orders: behaviour{delay: slow},
			want: Summary{Profile: Profile{UserID: "u-42", Name: "Ada"}, Orders: []Order{}, Partial: true}},
		{name: "orders fail: partial", profile: behaviour{delay: 20 * time.Millisecond}, orders: behaviour{err: errDown},
			want: Summary{Profile: Profile{UserID: "u-42", Name: "Ada"}, Orders: []Order{}, Partial: true}},
		{name: "profile fails: error", profile: behaviour{err: errDown}, orders: behaviour{delay: 5 * time.Millisecond}, wantErr: errDown},
		{name: "profile too slow: deadline", profile: behaviour{delay: slow}, orders: behaviour{delay: 5 * time.Millisecond},
			wantErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			b := newBackends(tt.profile, tt.orders)

			start := time.Now()
			got, err := Summarize(context.Background(), "u-42", b, b, budget)
			elapsed := time.Since(start)

			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr, "Summarize(%s) error = %v, want %v", tt.name, err, tt.wantErr)
			} else {
				require.NoError(t, err, "Summarize(%s)", tt.name)
				require.Equal(t, tt.want, got, "Summarize(%s) = %#v, want %#v (Orders must be an empty slice, not nil: JSON [] not null)", tt.name, got, tt.want)
			}
			require.Less(t, elapsed, budget+margin, "Summarize(%s) took %v with a %v budget", tt.name, elapsed, budget)
			require.Zero(t, b.active.Load(), "backend calls still running after Summarize returned")
		})
	}
}

func TestAggregateConcurrent(t *testing.T) {
	b := newBackends(behaviour{delay: time.Millisecond}, behaviour{delay: time.Millisecond})
	b.meet = true

	got, err := Summarize(context.Background(), "u-42", b, b, 5*time.Second)

	require.NoError(t, err, "Summarize with both backends waiting for each other: the two calls must run concurrently")
	require.False(t, got.Partial, "Summarize() = %+v, want a full summary: the two calls must run concurrently", got)
}

func TestAggregateCallerDeadlineWins(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	b := newBackends(behaviour{delay: slow}, behaviour{delay: slow})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := Summarize(ctx, "u-42", b, b, 10*time.Second)

	require.ErrorIs(t, err, context.DeadlineExceeded, "Summarize with a caller deadline shorter than the budget: error = %v", err)
	require.Less(t, time.Since(start), margin, "Summarize must stop at the caller's deadline when it is sooner than the budget")
}

func TestAggregateHandler(t *testing.T) {
	tests := []struct {
		name    string
		profile behaviour
		want    int
	}{
		{name: "ok", profile: behaviour{delay: time.Millisecond}, want: http.StatusOK},
		{name: "profile down", profile: behaviour{err: errDown}, want: http.StatusBadGateway},
		{name: "profile slow", profile: behaviour{delay: slow}, want: http.StatusGatewayTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackends(tt.profile, behaviour{delay: time.Millisecond})
			r := gin.New()
			r.GET("/api/me/summary", func(c *gin.Context) { auth.SetIdentity(c, auth.Identity{UserID: "u-42"}) }, Handler(b, b, budget))
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/me/summary", nil))

			require.Equal(t, tt.want, rec.Code, "GET /api/me/summary (%s): status = %d, want %d", tt.name, rec.Code, tt.want)
			if tt.want == http.StatusOK {
				var s Summary
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &s))
				require.Equal(t, "u-42", s.Profile.UserID)
			}
		})
	}
}
