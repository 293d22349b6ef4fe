package proxy

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gomicrolab/microlab/chapters/04-gateway/auth"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// MetadataUserID carries the caller's id to gRPC backends (gRPC metadata keys are lower case).
const MetadataUserID = "x-user-id"

// GetOrder serves GET .../orders/:id from the orders service over gRPC. It passes the caller's identity
// in metadata and the request's deadline in the context, and maps gRPC codes to HTTP statuses (HTTPStatus).
func GetOrder(client *OrdersClient) gin.HandlerFunc {
	return func(c *gin.Context) {
		// The request context carries the Timeout middleware's deadline; gRPC sends it to the server as
		// grpc-timeout, so the backend stops when the gateway stops waiting.
		ctx := c.Request.Context()
		if id, ok := auth.IdentityFrom(c); ok {
			// Identity travels as metadata, the gRPC analogue of the X-User-Id header. Never copy incoming
			// HTTP headers into metadata wholesale: that would forward whatever the client sent.
			ctx = metadata.AppendToOutgoingContext(ctx, MetadataUserID, id.UserID)
		}
		order, err := client.GetOrder(ctx, &GetOrderRequest{ID: c.Param("id")})
		if err != nil {
			_ = c.Error(err)
			code := status.Code(err) // codes.Unknown for a non-status error, codes.OK for nil
			c.AbortWithStatusJSON(HTTPStatus(code), gin.H{"error": code.String()})
			return
		}
		c.JSON(http.StatusOK, order)
	}
}

// HTTPStatus maps a gRPC code to the HTTP status the gateway answers with.
func HTTPStatus(code codes.Code) int {
	switch code {
	case codes.OK:
		return http.StatusOK
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.FailedPrecondition:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Canceled:
		return 499 // client closed request (nginx's convention); nobody is left to read it
	default:
		// Internal, Unknown, DataLoss, ...: the backend failed. 502 tells the client (and our alerts)
		// that the gateway itself is fine.
		return http.StatusBadGateway
	}
}
