package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
)

// infraPool starts each service once, when the first chapter that needs it asks, and shares it with every
// later chapter of the run: chapters overlap, and two of them starting the same server (a reused
// container, a native data directory) at once would race. Tests namespace what they create on a shared
// server, as they do within one chapter. close stops every server the pool started.
type infraPool struct {
	l        *lab.Lab
	mu       sync.Mutex
	services map[string]*pooledService
}

type pooledService struct {
	once sync.Once
	env  []string
	stop func(context.Context) error
	err  error
}

func newInfraPool(l *lab.Lab) *infraPool {
	return &infraPool{l: l, services: map[string]*pooledService{}}
}

// env starts what the chapter's exercises need (or reuses it) and returns the environment that points
// test processes at it. An error names the first service that could not start.
func (p *infraPool) env(ctx context.Context, ch *course.Chapter) ([]string, error) {
	var names []string
	for _, ex := range ch.Exercises {
		for _, s := range ex.Infra {
			if !slices.Contains(names, s) {
				names = append(names, s)
			}
		}
	}
	if len(names) == 0 || p.l.StartInfra == nil {
		return nil, nil
	}
	slices.Sort(names)
	var env []string
	for _, name := range names {
		p.mu.Lock()
		s, ok := p.services[name]
		if !ok {
			s = &pooledService{}
			p.services[name] = s
		}
		p.mu.Unlock()
		s.once.Do(func() { s.env, s.stop, s.err = p.l.StartInfra(ctx, []string{name}, nil) })
		if s.err != nil {
			return nil, fmt.Errorf("%s: %w", name, s.err)
		}
		env = append(env, s.env...)
	}
	return env, nil
}

// close stops every server the pool started.
func (p *infraPool) close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, s := range p.services {
		if s.stop != nil {
			errs = append(errs, s.stop(ctx))
		}
	}
	return errors.Join(errs...)
}
