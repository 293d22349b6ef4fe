// Package aggregate answers one client request from two backends: the caller's profile (required)
// and their recent orders (optional), fetched concurrently within one time budget.
package aggregate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
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
	// One deadline for the whole aggregate, derived from the caller's: WithTimeout keeps the earlier of
	// the two, so a gateway-wide timeout still wins when it is tighter than our budget.
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	// Not errgroup: its first error cancels the siblings, which is right when every part is required
	// (chapter 00's dashboard) and wrong here, where a failed optional part must not sink the profile.
	var (
		wg                    sync.WaitGroup
		profile               Profile
		orders                []Order
		profileErr, ordersErr error
	)
	wg.Go(func() { profile, profileErr = p.Profile(ctx, userID) })
	wg.Go(func() { orders, ordersErr = o.RecentOrders(ctx, userID) })
	// Both calls honour ctx, so both end by the deadline and waiting costs nothing extra, while it
	// guarantees that no call outlives the request. A call that ignored ctx would hold us past the
	// budget; the fix for that belongs in the client (a deadline on every call), not here.
	wg.Wait()

	if profileErr != nil {
		return Summary{}, fmt.Errorf("summary for %s: profile: %w", userID, profileErr)
	}
	if ordersErr != nil {
		// Degrade instead of failing: the response says it is partial, so a client can show
		// "orders unavailable" rather than an error page. The error is dropped here; Handler's caller
		// sees a 200, and the orders client's own metrics record the failure.
		return Summary{Profile: profile, Orders: []Order{}, Partial: true}, nil
	}
	if orders == nil {
		orders = []Order{} // JSON [] rather than null
	}
	return Summary{Profile: profile, Orders: orders}, nil
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
