// Package client connects to the shop's services with the policy every caller shares: which calls
// are retried, how often, and how far apart. The policy lives in gRPC's service config, so the
// generated clients and every method get it without a line of retry code around each call.
package client

import "google.golang.org/grpc"

// ServiceConfig is the default service config (JSON, see gRPC's service_config.proto and the
// retry design, gRFC A6) for connections to the shop's services.
//
// Its contract:
//   - only the methods that are safe to repeat are retried: UserService.GetUser, OrderService.GetOrder
//     (reads) and OrderService.CreateOrder (idempotent on its request id, see server). PayOrder,
//     CancelOrder and CreateUser carry no idempotency key, so they are never retried blindly;
//   - they are retried when, and only when, they fail with UNAVAILABLE. UNAVAILABLE says "try again",
//     not "nothing happened": the server may have done the work and lost the response. That is why
//     only idempotent methods get a retry policy at all;
//   - at most 4 attempts in all, with a real exponential backoff: the first wait at least 10ms
//     (around 50ms is good), each next one at least 1.5 times longer, capped well under a second,
//     so retries stay inside a caller's deadline and do not hammer a server that is down.
//
// Choices:
//   - "name" entries name each method; a service-only entry would cover PayOrder too, and a retried
//     payment whose first response was lost comes back FAILED_PRECONDITION (already paid), or in a
//     real payment system charges twice;
//   - only UNAVAILABLE: INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, PERMISSION_DENIED fail the
//     same way every time; INTERNAL and UNKNOWN may mean the work was done; DEADLINE_EXCEEDED and
//     CANCELLED mean the caller's budget is spent or the caller left; RESOURCE_EXHAUSTED means
//     "you are sending too much", and retrying sends more; ABORTED is a conflict to be retried by
//     the layer that re-reads and decides again (the application), not by re-sending the same bytes;
//   - maxAttempts counts the first call too (gRPC caps it at 5); 4 attempts multiply the load on a
//     struggling server by at most 4, and gRPC's retry throttling (not set here) can cap it further;
//   - backoff is randomised by gRPC (each wait is uniform in [0, current backoff]), so clients that
//     failed together do not come back together.
//
// gRPC also retries on its own, "transparently", when an attempt provably never reached the server's
// application (the stream was refused, say). That retry is safe for any method, and needs no policy.
const ServiceConfig = `{
  "methodConfig": [{
    "name": [
      {"service": "shop.user.v1.UserService", "method": "GetUser"},
      {"service": "shop.order.v1.OrderService", "method": "GetOrder"},
      {"service": "shop.order.v1.OrderService", "method": "CreateOrder"}
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
