package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gomicrolab/microlab/chapters/04-gateway/aggregate"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"github.com/gomicrolab/microlab/chapters/04-gateway/proxy"
)

// profilesOverHTTP reads a profile from the users service: GET {base}/users/{id}.
type profilesOverHTTP struct {
	base   *url.URL
	client http.Client
}

func (p *profilesOverHTTP) Profile(ctx context.Context, userID string) (aggregate.Profile, error) {
	u := p.base.JoinPath("users", userID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return aggregate.Profile{}, fmt.Errorf("profile request: %w", err)
	}
	req.Header.Set(auth.HeaderUserID, userID)
	resp, err := p.client.Do(req)
	if err != nil {
		return aggregate.Profile{}, fmt.Errorf("get profile %s: %w", userID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return aggregate.Profile{}, fmt.Errorf("get profile %s: status %d", userID, resp.StatusCode)
	}
	var out aggregate.Profile
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return aggregate.Profile{}, fmt.Errorf("decode profile %s: %w", userID, err)
	}
	return out, nil
}

// ordersOverGRPC lists a user's orders from the orders service.
type ordersOverGRPC struct{ client *proxy.OrdersClient }

func (o *ordersOverGRPC) RecentOrders(ctx context.Context, userID string) ([]aggregate.Order, error) {
	list, err := o.client.ListOrders(ctx, &proxy.ListOrdersRequest{UserID: userID})
	if err != nil {
		return nil, fmt.Errorf("list orders of %s: %w", userID, err)
	}
	out := make([]aggregate.Order, 0, len(list.Orders))
	for _, ord := range list.Orders {
		out = append(out, aggregate.Order{ID: ord.ID, TotalCents: ord.TotalCents})
	}
	return out, nil
}

// pooledTransport is the profiles client's transport: the zero http.Client would use
// http.DefaultTransport, which keeps only 2 idle connections per host and re-dials under load.
func pooledTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // backends are reached directly, never through HTTP_PROXY
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return t
}
