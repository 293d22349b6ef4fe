package middleware

import (
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"golang.org/x/time/rate"
)

// RateLimiter gives every caller its own token bucket: the authenticated user id, or the client IP for
// a request without one. The gateway runs two: one before authentication (no identity yet, so it keys
// by IP and bounds floods of bad tokens) and one after it (keyed by user, each caller's fair share).
//
// The map only grows; chapter 06 replaces this with a bounded, shared (Redis) limiter.
type RateLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewRateLimiter allows each caller perSecond requests per second, with bursts up to burst.
func NewRateLimiter(perSecond rate.Limit, burst int) *RateLimiter {
	return &RateLimiter{limit: perSecond, burst: burst, buckets: map[string]*rate.Limiter{}}
}

func (l *RateLimiter) bucket(key string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[key] = b
	}
	return b
}

// Handler answers 429 with Retry-After when the caller's bucket is empty.
func (l *RateLimiter) Handler() gin.HandlerFunc {
	return func(c *gin.Context) {
		key := "ip:" + c.ClientIP()
		if id, ok := auth.IdentityFrom(c); ok {
			key = "user:" + id.UserID
		}
		if !l.bucket(key).Allow() {
			retry := 1
			if l.limit > 0 {
				retry = int(math.Ceil(1 / float64(l.limit)))
			}
			c.Header("Retry-After", strconv.Itoa(retry))
			c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{"error": "rate limited"})
			return
		}
		c.Next()
	}
}
