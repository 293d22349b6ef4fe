package shop

import (
	"context"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Scenario is the chapter's one load pattern, so that every exercise is measured against the same baseline:
// Orders order requests, one every Every, while a user endpoint is probed again and again from ProbeAfter on.
// When Window ends the probes stop and the measures of the process are taken; orders still in flight then get up to
// Settle more to answer (zero: none), and whatever has not answered by then is counted as still waiting, then cancelled.
type Scenario struct {
	Orders     int
	Every      time.Duration
	ProbeAfter time.Duration
	Window     time.Duration
	Settle     time.Duration
}

// Baseline is the scenario the chapter's tests and the lesson's numbers use: 30 orders at 40/s for 1.5s.
var Baseline = Scenario{Orders: 30, Every: 25 * time.Millisecond, ProbeAfter: 300 * time.Millisecond, Window: 1500 * time.Millisecond}

// Report is what one run of a Scenario measured.
type Report struct {
	OrderCodes    map[int]int     // answered orders by HTTP status
	OrderWaiting  int             // orders with no answer when the window (and the settle period, if any) closed
	OrderSlowest  time.Duration   // slowest answered order
	UserLatencies []time.Duration // each /users probe; one still waiting at the end counts as the time it waited
	UserFailures  int             // probes answered with something other than 200
	PeakInflight  int64           // most requests in the order service at once (each one a goroutine)
	Goroutines    int             // goroutines in the process when the window closed, minus before the run
}

// UserMax is the slowest user probe.
func (r Report) UserMax() time.Duration {
	if len(r.UserLatencies) == 0 {
		return 0
	}
	return slices.Max(r.UserLatencies)
}

// Run drives the scenario against the order service at base (http://host:port) served by app.
func (s Scenario) Run(ctx context.Context, base string, app *App) Report {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	defer client.CloseIdleConnections()
	app.ResetPeak()
	before := runtime.NumGoroutine()

	probeCtx, stopProbes := context.WithCancel(ctx)
	defer stopProbes()
	var (
		mu      sync.Mutex
		rep     = Report{OrderCodes: map[int]int{}}
		orders  sync.WaitGroup
		probing sync.WaitGroup
	)
	send := func(ctx context.Context, method, url string) (int, time.Duration) {
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, method, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return 0, time.Since(start)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	windowEnd := time.After(s.Window)
	for i := range s.Orders {
		orders.Add(1)
		go func() {
			defer orders.Done()
			select {
			case <-time.After(time.Duration(i) * s.Every):
			case <-ctx.Done():
				return
			}
			code, d := send(ctx, http.MethodPost, base+"/orders?cents="+strconv.Itoa(100+i))
			mu.Lock()
			defer mu.Unlock()
			if code == 0 {
				rep.OrderWaiting++
				return
			}
			rep.OrderCodes[code]++
			rep.OrderSlowest = max(rep.OrderSlowest, d)
		}()
	}
	probing.Add(1)
	go func() { // user probes, one after another, until the window ends
		defer probing.Done()
		select {
		case <-time.After(s.ProbeAfter):
		case <-probeCtx.Done():
			return
		}
		for i := 0; probeCtx.Err() == nil; i++ {
			code, d := send(probeCtx, http.MethodGet, base+"/users/"+strconv.Itoa(i))
			mu.Lock()
			rep.UserLatencies = append(rep.UserLatencies, d)
			if code != http.StatusOK && probeCtx.Err() == nil { // a probe cut off by the window's end only counts its wait
				rep.UserFailures++
			}
			mu.Unlock()
			select {
			case <-time.After(50 * time.Millisecond):
			case <-probeCtx.Done():
			}
		}
	}()
	select {
	case <-windowEnd:
	case <-ctx.Done():
	}
	peak := app.PeakInflight()
	grown := runtime.NumGoroutine() - before
	stopProbes()
	probing.Wait()
	if s.Settle > 0 { // orders in flight get up to Settle more to answer
		done := make(chan struct{})
		go func() { orders.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(s.Settle):
		case <-ctx.Done():
		}
	}
	cancel() // whatever is still waiting now is cut off, and counted as waiting
	orders.Wait()
	rep.PeakInflight, rep.Goroutines = peak, grown
	return rep
}

// Sequential sends n orders one after another and counts the answers by status: the healthy-path check, with
// at most one payment call in flight, so that a loaded machine cannot fill a bulkhead by accident.
func Sequential(ctx context.Context, base string, n int) map[int]int {
	codes := map[int]int{}
	for i := range n {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/orders?cents="+strconv.Itoa(100+i), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			codes[0]++
			continue
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	return codes
}
