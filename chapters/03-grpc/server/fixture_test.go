package server

import (
	"testing"
	"time"

	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/order/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/grpctest"
	"github.com/gomicrolab/microlab/chapters/03-grpc/grpctest/identity"
	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
	"google.golang.org/grpc"
)

// fixture is the shop's two services, each on its own in-memory connection, sharing one store.
// The order service reaches the user service through a real gRPC client, as it would in production.
// Calls to the order service act as the user named with identity.As (the stand-in for Auth).
type fixture struct {
	store  *shop.Store
	users  userv1.UserServiceClient
	orders orderv1.OrderServiceClient
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	store := shop.NewStore()
	userConn := grpctest.Serve(t, func(s *grpc.Server) {
		userv1.RegisterUserServiceServer(s, NewUserServer(store))
	}, nil)
	orderConn := grpctest.Serve(t, func(s *grpc.Server) {
		orderv1.RegisterOrderServiceServer(s, NewOrderServer(store, userv1.NewUserServiceClient(userConn), time.Second))
	}, []grpc.ServerOption{grpc.UnaryInterceptor(identity.Interceptor)})
	return fixture{store: store, users: userv1.NewUserServiceClient(userConn), orders: orderv1.NewOrderServiceClient(orderConn)}
}
