// Package loadgen drives bounded HTTP load at a running system with vegeta and reads the resident memory of
// the processes that served it (labctl demo --load uses it for the capstone's figures in docs/benchmarks.md).
//
// Every attack is bounded twice, in requests and in time, and runs with a fixed number of concurrent clients
// (a closed loop): each client sends its next request when the last one answered, so the throughput is what the
// system can serve, not what the generator offers.
package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Request is one request of an attack.
type Request struct {
	Method, URL string
	Body        []byte
	Header      http.Header
}

// Target names an attack and makes its requests: Next(i) is the i-th request (0-based). Next is called from
// several goroutines at once.
type Target struct {
	Name string
	Next func(i int) (Request, error)
}

// Static is a target that sends the same request every time.
func Static(name, method, url string) Target {
	return Target{Name: name, Next: func(int) (Request, error) { return Request{Method: method, URL: url}, nil }}
}

// Bounds caps an attack: it stops after Requests requests or after Duration, whichever comes first.
type Bounds struct {
	Requests int
	Duration time.Duration
	Clients  int           // concurrent clients, each waiting for its answer before the next request
	Timeout  time.Duration // per request; 0 means 10s
}

// Result is what one attack measured.
type Result struct {
	Name       string
	Requests   int           // answered or failed, not counting ones never sent
	Errors     int           // transport errors and answers outside 2xx
	FirstError string        // one of them, to say why
	Elapsed    time.Duration // from the first request to the last answer
	Throughput float64       // successful requests per second over Elapsed
	P50, P99   time.Duration
	Max        time.Duration
}

// Attack runs t within b and returns what it measured. It stops early when ctx ends.
func Attack(ctx context.Context, t Target, b Bounds) (Result, error) {
	if b.Requests <= 0 || b.Duration <= 0 || b.Clients <= 0 {
		return Result{}, fmt.Errorf("loadgen: bounds need Requests, Duration and Clients > 0, got %+v", b)
	}
	if b.Timeout == 0 {
		b.Timeout = 10 * time.Second
	}
	var next atomic.Int64
	var nextErr error
	var once sync.Once
	targeter := func(tgt *vegeta.Target) error {
		i := int(next.Add(1) - 1)
		if i >= b.Requests {
			return vegeta.ErrNoTargets
		}
		r, err := t.Next(i)
		if err != nil {
			once.Do(func() { nextErr = fmt.Errorf("request %d of %s: %w", i, t.Name, err) })
			return err // vegeta stops the attack
		}
		*tgt = vegeta.Target{Method: r.Method, URL: r.URL, Body: r.Body, Header: r.Header}
		return nil
	}
	n := uint64(b.Clients)
	atk := vegeta.NewAttacker(vegeta.Workers(n), vegeta.MaxWorkers(n), vegeta.Connections(b.Clients),
		vegeta.Timeout(b.Timeout), vegeta.KeepAlive(true))
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	var m vegeta.Metrics
	res := Result{Name: t.Name}
	// Rate zero is vegeta's "as fast as the workers go": with Workers = MaxWorkers that is a closed loop.
	for r := range atk.Attack(vegeta.Targeter(targeter), vegeta.Rate{}, b.Duration, t.Name) {
		if r.Method == "" { // the targeter refused: the bound was reached, or Next failed; nothing was sent
			continue
		}
		m.Add(r)
		if r.Error != "" || r.Code < 200 || r.Code > 299 {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = fmt.Sprintf("%s %s: %d %s", r.Method, r.URL, r.Code, firstLine(r.Error, r.Body))
			}
		}
	}
	m.Close()
	// The results channel closes after every worker returned, so nextErr is settled here.
	if nextErr != nil {
		return res, nextErr
	}
	res.Requests = int(m.Requests)
	if res.Requests == 0 {
		return res, fmt.Errorf("loadgen: %s sent no request: %w", t.Name, context.Cause(ctx))
	}
	res.Elapsed = m.Duration + m.Wait
	res.Throughput = float64(res.Requests-res.Errors) / res.Elapsed.Seconds()
	res.P50, res.P99, res.Max = m.Latencies.P50, m.Latencies.P99, m.Latencies.Max
	return res, nil
}

func firstLine(err string, body []byte) string {
	s := err
	if s == "" {
		s = string(body)
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
