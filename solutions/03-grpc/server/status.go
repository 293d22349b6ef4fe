package server

import (
	"context"
	"errors"

	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
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
	// errors.As / errors.Is, not ==: the domain wraps its sentinels with context ("order \"o7\": not found"),
	// and a switch on err == shop.ErrNotFound would silently fall through to Internal.
	var invalid *shop.InvalidError
	switch {
	case errors.As(err, &invalid):
		return invalidArgument(invalid)
	case errors.Is(err, shop.ErrNotFound):
		// Domain messages are ours and safe to show: "order \"o7\": not found".
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, shop.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, shop.ErrIllegalTransition):
		// FailedPrecondition, not InvalidArgument: the request is well-formed, the order's state is
		// what forbids it. Clients must not retry it unchanged, and must not blame their input.
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, shop.ErrNotOwner):
		// The caller is known (Auth let them in), and this order is not theirs. Not NotFound here:
		// the ids are sequential, so hiding existence would buy nothing (see the lesson).
		return status.Error(codes.PermissionDenied, "permission denied")
	case errors.Is(err, shop.ErrUnavailable):
		// A dependency is down. The message is ours and generic: the wrapped downstream error names
		// its address, and says nothing the client can act on beyond "try again".
		return status.Error(codes.Unavailable, "a dependency is unavailable, try again")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// FromContextError maps DeadlineExceeded and Canceled to their codes, which the client's
		// retry and alerting logic treat very differently from Internal.
		return status.FromContextError(err).Err()
	}
	// Unknown errors are our bugs or a dependency's failure. The message is deliberately generic:
	// the caller cannot act on our internals, and they may leak names, SQL or addresses.
	// (This chapter's Logging interceptor records only the code. A production service logs err here,
	// with the request's trace id, before the generic message replaces it.)
	return status.Error(codes.Internal, "internal error")
}

// invalidArgument builds InvalidArgument with a machine-readable BadRequest detail, the standard
// way (google.rpc.BadRequest) to say which field is wrong.
func invalidArgument(e *shop.InvalidError) error {
	st := status.New(codes.InvalidArgument, e.Error())
	detailed, err := st.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: e.Field, Description: e.Reason}},
	})
	if err != nil {
		// WithDetails only fails if the detail cannot be marshalled; the code still matters most.
		return st.Err()
	}
	return detailed.Err()
}
