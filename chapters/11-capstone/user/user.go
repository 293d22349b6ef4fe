// Package user is the user service: it owns the users table in its own database and answers over gRPC.
// It is kept simple on purpose (one file: handlers straight on SQL); the order service shows the layered layout.
package user

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/consul/api"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	userv1 "github.com/gomicrolab/microlab/chapters/11-capstone/gen/capstone/user/v1"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/discovery"
	"github.com/gomicrolab/microlab/chapters/11-capstone/internal/mysqldb"
)

// Schema is the user service's only table.
var Schema = []string{`CREATE TABLE IF NOT EXISTS users (
	id    BIGINT AUTO_INCREMENT PRIMARY KEY,
	name  VARCHAR(255) NOT NULL,
	email VARCHAR(255) NOT NULL,
	UNIQUE KEY email (email)
) ENGINE=InnoDB`}

// Server implements userv1.UserServiceServer on a database.
type Server struct {
	userv1.UnimplementedUserServiceServer
	DB    *sql.DB
	Cache *Cache // reads of one user go through it, when it is not nil
}

// CreateUser validates, then inserts: the unique key on email decides a duplicate, not a SELECT first.
func (s *Server) CreateUser(ctx context.Context, req *userv1.CreateUserRequest) (*userv1.CreateUserResponse, error) {
	name, email := strings.TrimSpace(req.GetName()), strings.TrimSpace(req.GetEmail())
	var bad []*errdetails.BadRequest_FieldViolation
	if name == "" {
		bad = append(bad, &errdetails.BadRequest_FieldViolation{Field: "name", Description: "required"})
	} else if utf8.RuneCountInString(name) > 255 { // the column's size: longer would be a 500 from MySQL
		bad = append(bad, &errdetails.BadRequest_FieldViolation{Field: "name", Description: "at most 255 characters"})
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || utf8.RuneCountInString(email) > 255 {
		bad = append(bad, &errdetails.BadRequest_FieldViolation{Field: "email", Description: "not an email address"})
	}
	if len(bad) > 0 {
		st, err := status.New(codes.InvalidArgument, "invalid user").WithDetails(&errdetails.BadRequest{FieldViolations: bad})
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, "invalid user")
		}
		return nil, st.Err()
	}
	res, err := s.DB.ExecContext(ctx, "INSERT INTO users (name, email) VALUES (?, ?)", name, email)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 { // ER_DUP_ENTRY
		return nil, status.Error(codes.AlreadyExists, "email already registered")
	}
	if err != nil {
		return nil, fmt.Errorf("insert user: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, fmt.Errorf("insert user: %w", err)
	}
	return &userv1.CreateUserResponse{User: &userv1.User{Id: id, Name: name, Email: email}}, nil
}

// GetUser returns one user or NOT_FOUND.
func (s *Server) GetUser(ctx context.Context, req *userv1.GetUserRequest) (*userv1.GetUserResponse, error) {
	var u *userv1.User
	var err error
	if s.Cache != nil {
		u, err = s.Cache.Get(ctx, req.GetId(), s.load)
	} else {
		u, err = s.load(ctx, req.GetId())
	}
	if errors.Is(err, ErrNoUser) {
		return nil, status.Errorf(codes.NotFound, "user %d not found", req.GetId())
	}
	if err != nil {
		return nil, err
	}
	return &userv1.GetUserResponse{User: u}, nil
}

// load reads one user from the database: ErrNoUser if there is none.
func (s *Server) load(ctx context.Context, id int64) (*userv1.User, error) {
	u := &userv1.User{}
	err := s.DB.QueryRowContext(ctx, "SELECT id, name, email FROM users WHERE id = ?", id).Scan(&u.Id, &u.Name, &u.Email)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoUser
	}
	if err != nil {
		return nil, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

// Config says where the user service keeps its data and how it is found.
type Config struct {
	DSN      string
	Consul   *api.Client
	Service  string       // its name in Consul
	ID       string       // this instance's id
	Listener net.Listener // where it serves gRPC
	Options  []grpc.ServerOption
	OnUp     func() // called once it is registered (may be nil)
	Cache    *Cache // the Redis cache in front of GetUser (nil: none)
}

// Run serves the user service until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	db, err := mysqldb.Open(ctx, cfg.DSN, Schema...)
	if err != nil {
		cfg.Listener.Close()
		return fmt.Errorf("user service: %w", err)
	}
	defer db.Close()
	srv := grpc.NewServer(cfg.Options...)
	userv1.RegisterUserServiceServer(srv, &Server{DB: db, Cache: cfg.Cache})
	return discovery.Serve(ctx, discovery.Instance{Consul: cfg.Consul, Service: cfg.Service, ID: cfg.ID}, srv, cfg.Listener, cfg.OnUp)
}
