// Package client connects to the shop's services with the policy every caller shares: which calls
// are retried, how often, and how far apart. The policy lives in gRPC's service config, so the
// generated clients and every method get it without a line of retry code around each call.
package client

import "google.golang.org/grpc"

// ServiceConfig is the default service config (JSON, see gRPC's service_config.proto and the
// retry design, gRFC A6) for connections to the shop's services.
//
// Its contract:
//   - every method of shop.user.v1.UserService and shop.order.v1.OrderService is retried when,
//     and only when, it fails with UNAVAILABLE: the one code that means "this attempt did not
//     happen, try again";
//   - at most 4 attempts in all, with exponential backoff starting around 50ms and capped well
//     under a second, so retries stay inside a caller's deadline.
//
// Retrying CreateOrder is safe only because it is idempotent on its request id (see server).
//
// Choices:
//   - a "name" entry with only a service applies to all of its methods;
//   - only UNAVAILABLE: INVALID_ARGUMENT, NOT_FOUND or FAILED_PRECONDITION would fail the same way
//     every time, so retrying them only multiplies load; INTERNAL and UNKNOWN may mean the server
//     did the work and then failed, so a blind retry could do it twice; DEADLINE_EXCEEDED means
//     the caller's budget is spent anyway;
//   - maxAttempts counts the first call too (gRPC caps it at 5); 4 attempts multiply the load on a
//     struggling server by at most 4, and gRPC's retry throttling (not set here) can cap it further;
//   - backoff is randomised by gRPC (each wait is uniform in [0, current backoff]), so clients that
//     failed together do not come back together.
const ServiceConfig = `{
  "methodConfig": [{
    "name": [
      {"service": "shop.user.v1.UserService"},
      {"service": "shop.order.v1.OrderService"}
    ],
    "retryPolicy": {
      "maxAttempts": 4,
      "initialBackoff": "0.05s",
      "maxBackoff": "0.5s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}`

// Dial returns a client connection to target that uses ServiceConfig unless the name resolver
// supplies its own. opts add transport credentials, dialers and the like.
func Dial(target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient(target, append([]grpc.DialOption{grpc.WithDefaultServiceConfig(ServiceConfig)}, opts...)...)
}
