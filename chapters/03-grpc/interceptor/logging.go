package interceptor

import (
	"log/slog"

	"google.golang.org/grpc"
)

// Logging logs one record per call when the call ends, at Info when it succeeded and at Error when
// it failed, with these attributes:
//   - "method": the full method name, like "/shop.user.v1.UserService/GetUser";
//   - "code": the status code the client receives, as its name (codes.Code's String, like "NotFound");
//   - "duration": how long this call took, as a slog.Duration.
func Logging(logger *slog.Logger) grpc.UnaryServerInterceptor {
	// TODO(03-interceptors): call the handler, then log the call's method, code and duration.
	return todo("TODO(03-interceptors): Logging is not implemented")
}
