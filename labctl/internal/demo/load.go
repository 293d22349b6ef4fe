package demo

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gomicrolab/microlab/labctl/internal/loadgen"
)

// BarePackage is the load test's baseline, a Gin handler with nothing behind it, relative to the course root.
const BarePackage = "./chapters/11-capstone/cmd/baregin"

// LoadReport is what Load measured, in one run.
type LoadReport struct {
	Bounds  loadgen.Bounds
	Results []loadgen.Result          // the bare baseline first
	Parts   []string                  // the processes, in start order, the baseline last
	Memory  map[string]loadgen.Memory // each process's resident memory after the load
}

// Load starts the bare Gin baseline next to the running system, drives the read paths and both checkout
// steps through the gateway and the baseline, each within b, one after the other, and then reads every
// process's resident memory.
func (s *System) Load(ctx context.Context, b loadgen.Bounds) (*LoadReport, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	bare := &Part{Name: "baregin", Bin: "baregin", Args: []string{"-http", addr}, Log: filepath.Join(s.StateDir, "baregin.log")}
	s.Parts = append(s.Parts, bare) // Stop stops it with the rest
	if err := s.spawn(bare); err != nil {
		return nil, err
	}
	s.cfg.Progress("started %-8s pid %d  (the baseline: a bare Gin handler)", bare.Name, bare.PID)
	if err := s.WriteState(); err != nil {
		return nil, err
	}
	bareURL := "http://" + addr
	if err := waitAnswers(ctx, bare, bareURL+"/products/1", 20*time.Second); err != nil {
		return nil, err
	}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	results, err := loadgen.Capstone(ctx, s.GatewayURL, bareURL, runID, b, func(line string) { s.cfg.Progress("load: %s", line) })
	if err != nil {
		return nil, fmt.Errorf("load test: %w", err)
	}
	rep := &LoadReport{Bounds: b, Results: results, Memory: map[string]loadgen.Memory{}}
	for _, p := range s.Parts {
		m, err := loadgen.ReadMemory(p.PID)
		if err != nil {
			return nil, fmt.Errorf("memory of %s: %w", p.Name, err)
		}
		rep.Parts = append(rep.Parts, p.Name)
		rep.Memory[p.Name] = m
	}
	return rep, nil
}

// waitAnswers polls url until it answers 200, the part exits, or timeout passes.
func waitAnswers(ctx context.Context, p *Part, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w: %s exited while starting; its log: %s", ErrUnhealthy, p.Name, tail(p.Log, 10))
		case <-ctx.Done():
			return fmt.Errorf("%w: %s did not answer %s within %v", ErrUnhealthy, p.Name, url, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
