package proxy

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"google.golang.org/grpc/codes"
)

// MetadataUserID carries the caller's id to gRPC backends (gRPC metadata keys are lower case).
const MetadataUserID = "x-user-id"

// GetOrder serves GET .../orders/:id from the orders service over gRPC. It passes the caller's identity
// in metadata and the request's deadline in the context, and maps gRPC codes to HTTP statuses (HTTPStatus).
func GetOrder(client *OrdersClient) gin.HandlerFunc {
	return func(c *gin.Context) {
		// TODO(04-routes): call client.GetOrder with c.Request.Context() plus outgoing metadata
		// (metadata.AppendToOutgoingContext) carrying the auth identity's user id; answer 200 with the order
		// as JSON, or HTTPStatus(status.Code(err)) with a JSON error.
		c.AbortWithStatusJSON(http.StatusNotImplemented, gin.H{"error": "TODO(04-routes): gRPC route is not implemented"})
	}
}

// HTTPStatus maps a gRPC code to the HTTP status the gateway answers with.
func HTTPStatus(code codes.Code) int {
	// TODO(04-routes): OK 200, InvalidArgument 400, Unauthenticated 401, PermissionDenied 403, NotFound 404,
	// AlreadyExists and FailedPrecondition 409, ResourceExhausted 429, Unavailable 503,
	// DeadlineExceeded 504, Canceled 499; anything else 502 (the backend failed, not the gateway).
	return http.StatusNotImplemented
}
