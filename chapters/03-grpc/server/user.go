// Package server implements the shop's gRPC services on top of the shop domain.
// It is thin on purpose: decode the request, call the domain, translate the result or the error.
package server

import (
	"context"
	"fmt"

	userv1 "github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
)

// UserStore is what UserServer needs from storage. *shop.Store implements it.
type UserStore interface {
	CreateUser(ctx context.Context, u shop.User) (shop.User, error)
	User(ctx context.Context, id string) (shop.User, error)
}

// UserServer implements userv1.UserServiceServer.
//
// A user record holds personal data (an email address), and user ids are sequential: if any valid
// token could read any user, one customer could list every customer's email by counting (OWASP API1,
// as for orders). So GetUser serves the caller's own record, and any record to the services named
// at construction (the order service checks the users it takes orders for). A call without an
// identity fails closed with Unauthenticated.
type UserServer struct {
	userv1.UnimplementedUserServiceServer
	users    UserStore
	services map[string]bool // callers that may read every user: service accounts, never customers
}

// NewUserServer returns a UserServer backed by users. services are the caller ids (service
// accounts) that may read any user; everybody else may read only themselves.
func NewUserServer(users UserStore, services ...string) *UserServer {
	if users == nil {
		panic("server.NewUserServer: nil UserStore")
	}
	s := &UserServer{users: users, services: map[string]bool{}}
	for _, id := range services {
		s.services[id] = true
	}
	return s
}

func (s *UserServer) CreateUser(ctx context.Context, req *userv1.CreateUserRequest) (*userv1.CreateUserResponse, error) {
	u, err := shop.NewUser(req.GetEmail(), req.GetName())
	if err != nil {
		return nil, toStatus(err)
	}
	u, err = s.users.CreateUser(ctx, u)
	if err != nil {
		return nil, toStatus(err)
	}
	return &userv1.CreateUserResponse{User: userToProto(u)}, nil
}

func (s *UserServer) GetUser(ctx context.Context, req *userv1.GetUserRequest) (*userv1.GetUserResponse, error) {
	caller, err := callerID(ctx)
	if err != nil {
		return nil, err
	}
	// Decide before looking the user up: a NotFound for some ids and a PermissionDenied for others
	// would tell a stranger which ids exist.
	if caller != req.GetId() && !s.services[caller] {
		return nil, toStatus(fmt.Errorf("user %q as %s: %w", req.GetId(), caller, shop.ErrNotOwner))
	}
	u, err := s.users.User(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &userv1.GetUserResponse{User: userToProto(u)}, nil
}
