// Package server implements the shop's gRPC services on top of the shop domain.
// It is thin on purpose: decode the request, call the domain, translate the result or the error.
package server

import (
	"context"

	userv1 "github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/shop"
)

// UserStore is what UserServer needs from storage. *shop.Store implements it.
type UserStore interface {
	CreateUser(ctx context.Context, u shop.User) (shop.User, error)
	User(ctx context.Context, id string) (shop.User, error)
}

// UserServer implements userv1.UserServiceServer.
type UserServer struct {
	userv1.UnimplementedUserServiceServer
	users UserStore
}

// NewUserServer returns a UserServer backed by users.
func NewUserServer(users UserStore) *UserServer {
	if users == nil {
		panic("server.NewUserServer: nil UserStore")
	}
	return &UserServer{users: users}
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
	u, err := s.users.User(ctx, req.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &userv1.GetUserResponse{User: userToProto(u)}, nil
}
