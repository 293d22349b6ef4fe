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
			require.NotContains(t, rec.Body.String(), errDown.Error(), "GET /api/me/summary (%s): body %q carries a backend's error text; log it, answer with the status", tt.name, rec.Body)
			if tt.want == http.StatusOK {
				var s Summary
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &s))
				require.Equal(t, "u-42", s.Profile.UserID)
			}
		})
	}
}

// lingering fakes backends whose calls honour ctx but, like real clients (closing a stream, writing a
// log line), take a moment to return after it ends: a call blocks until its ctx is done and then until
// the test opens unwound. While unwound is closed no lingering call can return, so a Summarize that
// returns in that time has left a call running, whatever the scheduling.
type lingering struct {
	profileFails, profileSlow, ordersSlow bool

	started, running atomic.Int64
	unwound          chan struct{}
}

func (l *lingering) call(ctx context.Context, slow bool, fail error) error {
	l.started.Add(1)
	l.running.Add(1)
	defer l.running.Add(-1)
	if fail != nil {
		return fail
	}
	if !slow {
		return nil
	}
	<-ctx.Done()
	<-l.unwound
	return ctx.Err()
}

func (l *lingering) Profile(ctx context.Context, id string) (Profile, error) {
	var fail error
	if l.profileFails {
		fail = errDown
	}
	if err := l.call(ctx, l.profileSlow, fail); err != nil {
		return Profile{}, err
	}
	return Profile{UserID: id, Name: "Ada"}, nil
}

func (l *lingering) RecentOrders(ctx context.Context, id string) ([]Order, error) {
	if err := l.call(ctx, l.ordersSlow, nil); err != nil {
		return nil, err
	}
	return []Order{{ID: "o1", TotalCents: 1250}}, nil
}

// TestAggregateNoCallOutlivesSummarize: when Summarize returns, both backend calls have returned. A
// call left running keeps a connection and a goroutine busy after the request is answered; under load
// they pile up. Waiting costs nothing: the calls honour ctx, so they end at the deadline anyway.
func TestAggregateNoCallOutlivesSummarize(t *testing.T) {
	// hold is how long the test keeps the slow calls from returning after the deadline. A Summarize
	// that does not wait returns within microseconds of the deadline (or of the profile's error); one
	// that waits cannot return before the test lets the calls go. 1 s is generous on a loaded machine.
	const hold = time.Second
	tests := []struct {
		name    string
		backend *lingering
		partial bool  // want a partial summary
		wantErr error // or this error
	}{
		{name: "orders too slow", backend: &lingering{ordersSlow: true}, partial: true},
		{name: "profile fails while the orders call runs", backend: &lingering{profileFails: true, ordersSlow: true}, wantErr: errDown},
		{name: "profile too slow", backend: &lingering{profileSlow: true}, wantErr: context.DeadlineExceeded},
		{name: "both too slow", backend: &lingering{profileSlow: true, ordersSlow: true}, wantErr: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := tt.backend
			l.unwound = make(chan struct{})
			type result struct {
				s                Summary
				err              error
				started, running int64
			}
			done := make(chan result, 1)
			go func() {
				s, err := Summarize(context.Background(), "u-42", l, l, budget)
				done <- result{s, err, l.started.Load(), l.running.Load()}
			}()

			select {
			case r := <-done:
				close(l.unwound)
				t.Fatalf("Summarize (%s) returned (err %v) before its backend calls had returned (calls started %d of 2, still running %d): call both, and wait for both before returning, even after the deadline or an error",
					tt.name, r.err, r.started, r.running)
			case <-time.After(budget + hold):
			}
			close(l.unwound)
			var r result
			select {
			case r = <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("Summarize (%s) did not return within 5 s after its backend calls returned", tt.name)
			}
			require.EqualValues(t, 2, r.started, "Summarize (%s) started %d backend calls, want 2 (profile and orders)", tt.name, r.started)
			require.Zero(t, r.running, "Summarize (%s) returned with %d backend calls still running", tt.name, r.running)
			if tt.wantErr != nil {
				require.ErrorIs(t, r.err, tt.wantErr, "Summarize(%s) error = %v, want %v", tt.name, r.err, tt.wantErr)
				return
			}
			require.NoError(t, r.err, "Summarize(%s)", tt.name)
			require.Equal(t, tt.partial, r.s.Partial, "Summarize(%s).Partial = %v, want %v", tt.name, r.s.Partial, tt.partial)
		})
	}
}

// deadlineRecorder records the deadline each backend call was given.
type deadlineRecorder struct {
	mu        sync.Mutex
	deadlines []time.Time
}

func (d *deadlineRecorder) record(ctx context.Context) {
	dl, _ := ctx.Deadline() // zero when there is none
	d.mu.Lock()
	d.deadlines = append(d.deadlines, dl)
	d.mu.Unlock()
}

func (d *deadlineRecorder) Profile(ctx context.Context, id string) (Profile, error) {
	d.record(ctx)
	return Profile{UserID: id}, nil
}

func (d *deadlineRecorder) RecentOrders(ctx context.Context, _ string) ([]Order, error) {
	d.record(ctx)
	return nil, nil
}

// TestAggregateHandlerKeepsRequestContext: the handler runs Summarize on the request's context, so the
// gateway's Timeout (and a client that went away) bounds the backend calls, not only the budget.
func TestAggregateHandlerKeepsRequestContext(t *testing.T) {
	d := &deadlineRecorder{}
	r := gin.New()
	r.GET("/api/me/summary", func(c *gin.Context) { auth.SetIdentity(c, auth.Identity{UserID: "u-42"}) }, Handler(d, d, time.Hour))
	requestDeadline := time.Now().Add(time.Minute) // far enough not to expire under any load, far before the hour
	ctx, cancel := context.WithDeadline(context.Background(), requestDeadline)
	defer cancel()
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/me/summary", nil))

	require.Equal(t, http.StatusOK, rec.Code, "GET /api/me/summary: status = %d, want 200 (body %s)", rec.Code, rec.Body)
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Len(t, d.deadlines, 2, "backend calls = %d, want 2 (profile and orders)", len(d.deadlines))
	for _, dl := range d.deadlines {
		require.False(t, dl.IsZero() || dl.After(requestDeadline),
			"a backend call's deadline = %v, want no later than the request's %v (budget 1 h): pass c.Request.Context() to Summarize, not context.Background()", dl, requestDeadline)
	}
}
