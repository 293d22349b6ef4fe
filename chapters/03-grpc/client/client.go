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
// TODO(03-retry): write the service config: a methodConfig naming the methods that are safe to retry,
// one by one, with a retryPolicy.
const ServiceConfig = `{}`

// Dial returns a client connection to target that uses ServiceConfig unless the name resolver
// supplies its own. opts add transport credentials, dialers and the like.
func Dial(target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient(target, append([]grpc.DialOption{grpc.WithDefaultServiceConfig(ServiceConfig)}, opts...)...)
}
