// Command framedump makes real gRPC calls through a recording proxy on loopback and prints every
// HTTP/2 frame of the connection, then what your wire.Decode and wire.Calls read from the same bytes.
//
//	go run ./03-grpc/cmd/framedump               # from chapters/
//	go run ./03-grpc/cmd/framedump -big 200000   # a 200 KB request: many DATA frames and WINDOW_UPDATEs
//
// The calls: GetUser with a 5 s deadline, two GetUser in flight at once (two streams on one
// connection), a GetUser that fails with NotFound, and a CreateUser with a -big byte name.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	userv1 "github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/gomicrolab/microlab/chapters/03-grpc/wire"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

type users struct {
	userv1.UnimplementedUserServiceServer
	arrived chan struct{}
	release chan struct{}
}

func (u *users) GetUser(ctx context.Context, req *userv1.GetUserRequest) (*userv1.GetUserResponse, error) {
	switch id := req.GetId(); {
	case id == "missing":
		return nil, status.Error(codes.NotFound, `user "missing" not found: 100% gone, 用户不存在`)
	case strings.HasPrefix(id, "pair-"):
		u.arrived <- struct{}{}
		select {
		case <-u.release:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	return &userv1.GetUserResponse{User: &userv1.User{Id: req.GetId(), Name: "Ada"}}, nil
}

func (u *users) CreateUser(_ context.Context, req *userv1.CreateUserRequest) (*userv1.CreateUserResponse, error) {
	return &userv1.CreateUserResponse{User: &userv1.User{Id: "u-new", Email: req.GetEmail(), Name: req.GetName()}}, nil
}

func main() {
	big := flag.Int("big", 100_000, "bytes in the CreateUser name (0: skip that call)")
	flag.Parse()
	if err := run(*big); err != nil {
		fmt.Fprintln(os.Stderr, "framedump:", err)
		os.Exit(1)
	}
}

func run(big int) error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	fake := &users{arrived: make(chan struct{}, 2), release: make(chan struct{})}
	userv1.RegisterUserServiceServer(srv, fake)
	reflection.Register(srv)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	rec, err := wire.NewRecorder(lis.Addr().String())
	if err != nil {
		return err
	}
	cc, err := grpc.NewClient("passthrough:///"+rec.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	if err := calls(userv1.NewUserServiceClient(cc), fake, big); err != nil {
		return err
	}
	_ = cc.Close()
	recs, err := rec.Close()
	if err != nil {
		return err
	}

	for i, r := range recs {
		fmt.Printf("=== connection %d\n", i+1)
		dump(r.ClientToServer, wire.ClientToServer)
		dump(r.ServerToClient, wire.ServerToClient)
		fmt.Println("=== your wire.Decode and wire.Calls on the same bytes")
		client, err := wire.Decode(bytes.NewReader(r.ClientToServer), wire.ClientToServer)
		if err != nil {
			return fmt.Errorf("wire.Decode(client->server): %w", err)
		}
		server, err := wire.Decode(bytes.NewReader(r.ServerToClient), wire.ServerToClient)
		if err != nil {
			return fmt.Errorf("wire.Decode(server->client): %w", err)
		}
		cs, err := wire.Calls(client, server)
		if err != nil {
			return fmt.Errorf("wire.Calls: %w", err)
		}
		for _, c := range cs {
			fmt.Printf("stream %d %s timeout=%v request=%s response=%s status=%v %q\n",
				c.StreamID, c.Method, c.Timeout, sizes(c.Request), sizes(c.Response), c.Code, c.Message)
		}
		fmt.Printf("other frames: client %v, server %v\n", client.Other, server.Other)
	}
	return nil
}

func calls(c userv1.UserServiceClient, fake *users, big int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.GetUser(ctx, &userv1.GetUserRequest{Id: "u1"}); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, id := range []string{"pair-a", "pair-b"} {
		wg.Go(func() {
			_, err := c.GetUser(ctx, &userv1.GetUserRequest{Id: id})
			errs <- err
		})
	}
	for range 2 {
		select {
		case <-fake.arrived:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	close(fake.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	if _, err := c.GetUser(ctx, &userv1.GetUserRequest{Id: "missing"}); status.Code(err) != codes.NotFound {
		return fmt.Errorf("GetUser(missing) = %v, want NotFound", err)
	}
	if big > 0 {
		name := strings.Repeat("x", big)
		if _, err := c.CreateUser(ctx, &userv1.CreateUserRequest{Email: "big@example.com", Name: name}); err != nil {
			return err
		}
	}
	return nil
}

// dump prints one line per frame, with the library's own HPACK decoding (Framer.ReadMetaHeaders).
func dump(b []byte, dir wire.Direction) {
	fmt.Printf("--- %s, %d bytes\n", dir, len(b))
	r := bytes.NewReader(b)
	if dir == wire.ClientToServer {
		preface := make([]byte, len(http2.ClientPreface))
		_, _ = io.ReadFull(r, preface)
		fmt.Printf("PREFACE %q\n", preface)
	}
	fr := http2.NewFramer(nil, r)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 16 << 20
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		h := f.Header()
		fmt.Printf("%-13s stream=%-2d len=%-5d %s", h.Type, h.StreamID, h.Length, flags(h))
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			for _, hf := range f.Fields {
				v := hf.Value
				if len(v) > 60 {
					v = v[:60] + "..."
				}
				fmt.Printf("\n    %s: %s", hf.Name, v)
			}
		case *http2.DataFrame:
			if d := f.Data(); len(d) >= 5 {
				fmt.Printf(" first bytes % x", d[:5])
			}
		case *http2.SettingsFrame:
			_ = f.ForeachSetting(func(s http2.Setting) error { fmt.Printf(" %v", s); return nil })
		case *http2.WindowUpdateFrame:
			fmt.Printf(" increment=%d", f.Increment)
		case *http2.PingFrame:
			fmt.Printf(" data=% x", f.Data)
		}
		fmt.Println()
	}
}

func flags(h http2.FrameHeader) string {
	var s []string
	if h.Flags.Has(http2.FlagHeadersEndStream) && (h.Type == http2.FrameHeaders || h.Type == http2.FrameData) {
		s = append(s, "END_STREAM")
	}
	if h.Flags.Has(http2.FlagHeadersEndHeaders) && (h.Type == http2.FrameHeaders || h.Type == http2.FrameContinuation) {
		s = append(s, "END_HEADERS")
	}
	if h.Flags.Has(http2.FlagSettingsAck) && (h.Type == http2.FrameSettings || h.Type == http2.FramePing) {
		s = append(s, "ACK")
	}
	return strings.Join(s, ",")
}

func sizes(ms []wire.Message) string {
	var s []string
	for _, m := range ms {
		z := ""
		if m.Compressed {
			z = " gz"
		}
		s = append(s, fmt.Sprintf("%dB%s", len(m.Data), z))
	}
	return "[" + strings.Join(s, " ") + "]"
}
