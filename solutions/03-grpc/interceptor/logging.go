package interceptor

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Logging logs one record per call when the call ends, at Info when it succeeded and at Error when
// it failed, with these attributes:
//   - "method": the full method name, like "/shop.user.v1.UserService/GetUser";
//   - "code": the status code the client receives, as its name (codes.Code's String, like "NotFound");
//   - "duration": how long the call took.
func Logging(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		// status.Code gives OK for nil and Unknown for a non-status error, which is exactly what
		// grpc-go will send, so the log agrees with what the client saw.
		code := status.Code(err)
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelError
		}
		// The code is logged by name: "NotFound" is what people search for, 5 is not.
		// The request body is deliberately not logged: it may hold personal data or secrets.
		logger.LogAttrs(ctx, level, "rpc",
			slog.String("method", info.FullMethod),
			slog.String("code", code.String()),
			slog.Duration("duration", time.Since(start)),
		)
		return resp, err
	}
}
