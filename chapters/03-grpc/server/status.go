package server

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// toStatus turns an error from the domain (or from a downstream call) into the gRPC status error
// a handler returns. It is the only place in the server that decides status codes.
//
// Its contract (the domain wraps its errors, so look through the wrapping):
//   - *shop.InvalidError -> InvalidArgument, carrying an errdetails.BadRequest detail whose field
//     violation names the field, so clients can point at the wrong input without parsing text;
//   - shop.ErrNotFound -> NotFound;
//   - shop.ErrAlreadyExists -> AlreadyExists;
//   - shop.ErrIllegalTransition -> FailedPrecondition;
//   - shop.ErrNotOwner -> PermissionDenied;
//   - shop.ErrUnavailable -> Unavailable (a dependency is down: what order.proto documents);
//   - context.DeadlineExceeded / context.Canceled -> DeadlineExceeded / Canceled;
//   - anything else -> Internal, with a generic message: internal details stay in our logs.
//
// An error from a downstream service may be wrapped in err. Its code and its message are that
// service's, not ours: never send either to our client (it may name hosts, IPs and queries).
func toStatus(err error) error {
	// TODO(03-status-codes): map the domain's errors to status codes as the contract above says.
	return status.Errorf(codes.Unimplemented, "TODO(03-status-codes): toStatus does not map errors yet (got %v)", err)
}
