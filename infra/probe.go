package infra

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These probes check that a server answers, and return the version it reports, for doctor.

func redisVersion(ctx context.Context, addr string) (string, error) {
	// ContextTimeoutEnabled: without it go-redis ignores ctx deadlines and waits its own 3-5s timeouts.
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return "", fmt.Errorf("ping Redis: %w", err)
	}
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "redis", nil // answers PING but not INFO server: still usable
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "redis_version:"); ok {
			return "Redis " + v, nil
		}
	}
	return "redis", nil
}

func consulVersion(ctx context.Context, addr string) (string, error) {
	c, err := consulapi.NewClient(&consulapi.Config{Address: addr})
	if err != nil {
		return "", err
	}
	leader, err := c.Status().LeaderWithQueryOptions((&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("ask Consul for its leader: %w", err)
	}
	if leader == "" {
		return "", fmt.Errorf("consul has no leader yet")
	}
	self, err := c.Agent().Self()
	if err != nil {
		return "", fmt.Errorf("read Consul agent: %w", err)
	}
	if cfg, ok := self["Config"]; ok {
		if v, ok := cfg["Version"].(string); ok {
			return "Consul " + v, nil
		}
	}
	return "consul", nil
}

func kafkaVersion(ctx context.Context, brokers []string) (string, error) {
	c, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.Ping(ctx); err != nil {
		return "", fmt.Errorf("reach Kafka: %w", err)
	}
	return "kafka", nil
}
