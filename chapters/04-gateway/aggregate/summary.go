// Package aggregate answers one client request from two backends: the caller's profile (required)
// and their recent orders (optional), fetched concurrently within one time budget.
package aggregate

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
)

// Profile is the users service's view of a caller.
type Profile struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
}

// Order is one line of the orders service's list.
type Order struct {
	ID         string `json:"id"`
	TotalCents int64  `json:"total_cents"`
}

// Profiles and Orders are the two backends. Both honour ctx.
type (
	Profiles interface {
		Profile(ctx context.Context, userID string) (Profile, error)
	}
	Orders interface {
		RecentOrders(ctx context.Context, userID string) ([]Order, error)
	}
)

// Summary is the aggregated response. Partial is true when the orders could not be fetched in time
// (or failed) and Orders is therefore empty: the page still renders, and the client knows it is incomplete.
type Summary struct {
	Profile Profile `json:"profile"`
	Orders  []Order `json:"orders"`
	Partial bool    `json:"partial"`
}

// Summarize fetches the profile and the orders concurrently and returns within budget (or sooner,
// if ctx's own deadline is sooner).
//   - The profile is required: if it fails or misses the budget, Summarize returns that error
//     (wrapping context.DeadlineExceeded when it ran out of time).
//   - The orders are optional: if they fail or miss the budget, the Summary is Partial with no orders.
//   - When Summarize returns, neither backend call is still running.
func Summarize(ctx context.Context, userID string, p Profiles, o Orders, budget time.Duration) (Summary, error) {
	// TODO(04-aggregate): derive a context with the budget, run both calls in goroutines, wait for both
	// (they honour ctx, so both end by the deadline), then decide: profile error -> error;
	// orders error -> Partial. Orders must be an empty slice, never nil, also when Partial or when the
	// backend returned nil: the client gets JSON [] (not null).
	return Summary{}, errors.New("TODO(04-aggregate): Summarize is not implemented")
}

// Handler serves GET /api/me/summary for the authenticated caller.
func Handler(p Profiles, o Orders, budget time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := auth.IdentityFrom(c)
		if !ok {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unauthenticated"})
			return
		}
		s, err := Summarize(c.Request.Context(), id.UserID, p, o, budget)
		switch {
		case err == nil:
			c.JSON(http.StatusOK, s)
		case errors.Is(err, context.DeadlineExceeded):
			_ = c.Error(err)
			c.AbortWithStatusJSON(http.StatusGatewayTimeout, gin.H{"error": "profile timed out"})
		default:
			_ = c.Error(err)
			c.AbortWithStatusJSON(http.StatusBadGateway, gin.H{"error": "profile unavailable"})
		}
	}
}
