package wire

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	userv1 "github.com/gomicrolab/microlab/chapters/03-grpc/gen/shop/user/v1"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const (
	getUser    = "/shop.user.v1.UserService/GetUser"
	createUser = "/shop.user.v1.UserService/CreateUser"
	// missingMsg is the message of the NotFound error. It needs percent-encoding on the wire: non-ASCII,
	// a '%', and a '+' that must stay a '+' (it is not a form-encoded space).
	missingMsg = `user "missing" not found: 100% gone, café+crème 用户不存在`
)

// fakeUsers answers GetUser and echoes CreateUser. GetUser for an id starting with "pair-" waits
// until release is closed (or the call ends), so that two such calls are in flight at the same time.
// GetUser("big-trailer") answers with 40 KB of trailer metadata.
type fakeUsers struct {
	userv1.UnimplementedUserServiceServer
	arrived chan string
	release chan struct{}
}

func (f *fakeUsers) GetUser(ctx context.Context, req *userv1.GetUserRequest) (*userv1.GetUserResponse, error) {
	switch id := req.GetId(); {
	case id == "missing":
		return nil, status.Error(codes.NotFound, missingMsg)
	case id == "big-trailer":
		// 40 KB of trailer metadata: the trailers' header block needs CONTINUATION frames.
		if err := grpc.SetTrailer(ctx, metadata.Pairs("x-big-trailer", randomName(40<<10))); err != nil {
			return nil, err
		}
	case strings.HasPrefix(id, "pair-"):
		f.arrived <- id
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	return &userv1.GetUserResponse{User: &userv1.User{Id: req.GetId(), Name: "name of " + req.GetId()}}, nil
}

func (f *fakeUsers) CreateUser(_ context.Context, req *userv1.CreateUserRequest) (*userv1.CreateUserResponse, error) {
	return &userv1.CreateUserResponse{User: &userv1.User{Id: "u-new", Email: req.GetEmail(), Name: req.GetName()}}, nil
}

// record runs calls against a real grpc-go server through a Recorder on loopback and returns the
// bytes of the one TCP connection they used.
func record(t *testing.T, fake *fakeUsers, calls func(ctx context.Context, c userv1.UserServiceClient)) Recording {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	userv1.RegisterUserServiceServer(srv, fake)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-served })

	rec, err := NewRecorder(lis.Addr().String())
	require.NoError(t, err)
	cc, err := grpc.NewClient("passthrough:///"+rec.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound for a hung test, not a timing check
	calls(ctx, userv1.NewUserServiceClient(cc))
	cancel()
	require.NoError(t, cc.Close())
	recs, err := rec.Close()
	require.NoError(t, err)
	require.Equal(t, 1, len(recs), "the client opened %d TCP connections, want 1: every call of the test must share one connection", len(recs))
	return recs[0]
}

// decode decodes both directions of a recording with the learner's Decode and pairs them with Calls.
func decode(t *testing.T, rec Recording) (client, server *Capture, calls []Call) {
	t.Helper()
	client, err := Decode(bytes.NewReader(rec.ClientToServer), ClientToServer)
	require.NoError(t, err, "Decode(client->server bytes, %d bytes) failed: a real grpc-go client wrote them", len(rec.ClientToServer))
	require.NotNil(t, client, "Decode(client->server) returned a nil Capture")
	server, err = Decode(bytes.NewReader(rec.ServerToClient), ServerToClient)
	require.NoError(t, err, "Decode(server->client bytes, %d bytes) failed: a real grpc-go server wrote them", len(rec.ServerToClient))
	require.NotNil(t, server, "Decode(server->client) returned a nil Capture")
	calls, err = Calls(client, server)
	require.NoError(t, err, "Calls(client, server) failed on a recording of calls that all finished")
	return client, server, calls
}

// rawFrames is the test's own walk over the frames of one direction: how many of each type, and the
// DATA and CONTINUATION frames per stream. It only reads frame headers, it decodes nothing.
type rawFrames struct {
	types        map[http2.FrameType]int
	data         map[uint32]int
	continuation int
}

func walk(t *testing.T, b []byte, dir Direction) rawFrames {
	t.Helper()
	if dir == ClientToServer {
		b = b[len(http2.ClientPreface):]
	}
	raw := rawFrames{types: map[http2.FrameType]int{}, data: map[uint32]int{}}
	for len(b) > 0 {
		require.GreaterOrEqual(t, len(b), 9, "recording ends inside a frame header")
		length := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		typ := http2.FrameType(b[3])
		id := binary.BigEndian.Uint32(b[5:9]) & (1<<31 - 1)
		raw.types[typ]++
		if typ == http2.FrameData {
			raw.data[id]++
		}
		if typ == http2.FrameContinuation {
			raw.continuation++
		}
		b = b[9+length:]
	}
	return raw
}

// others is what Capture.Other must hold: every frame that is not HEADERS, CONTINUATION or DATA.
func (r rawFrames) others() map[http2.FrameType]int {
	m := map[http2.FrameType]int{}
	for typ, n := range r.types {
		if typ != http2.FrameHeaders && typ != http2.FrameContinuation && typ != http2.FrameData {
			m[typ] = n
		}
	}
	return m
}

func unmarshalOne(t *testing.T, what string, msgs []Message, into proto.Message) {
	t.Helper()
	require.Equal(t, 1, len(msgs), "%s: %d gRPC messages, want 1 (a unary call carries exactly one each way)", what, len(msgs))
	require.False(t, msgs[0].Compressed, "%s: Compressed = true, want false: this call used no compressor, its flag byte is 0", what)
	require.NoError(t, proto.Unmarshal(msgs[0].Data, into), "%s: the message bytes (%d) do not unmarshal: the 5-byte prefix must be cut off, the length read big-endian", what, len(msgs[0].Data))
}

func TestFramesUnaryCall(t *testing.T) {
	const deadline = 5 * time.Second
	var got *userv1.GetUserResponse
	rec := record(t, &fakeUsers{}, func(ctx context.Context, c userv1.UserServiceClient) {
		ctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		var err error
		got, err = c.GetUser(ctx, &userv1.GetUserRequest{Id: "u1"})
		require.NoError(t, err)
	})
	client, server, calls := decode(t, rec)

	require.Equal(t, 1, len(calls), "Calls = %d calls, want 1: the client made one GetUser", len(calls))
	call := calls[0]
	require.Equal(t, getUser, call.Method, "Call.Method = %q, want the :path pseudo-header %q", call.Method, getUser)
	require.Equal(t, uint32(1), call.StreamID%2, "Call.StreamID = %d, want an odd id: client-initiated streams are odd", call.StreamID)
	// grpc-go sends the time left when the call starts, in whole units rounded up, so the value is at
	// most the deadline; 4s of slack covers a loaded machine between WithTimeout and the write.
	require.True(t, call.Timeout <= deadline && call.Timeout > deadline-4*time.Second,
		"Call.Timeout = %v, want the client's deadline (just under %v): grpc-timeout %q", call.Timeout, deadline, header(client.Stream(call.StreamID), "grpc-timeout"))
	require.Equal(t, codes.OK, call.Code, "Call.Code = %v, want OK (grpc-status 0 in the trailers)", call.Code)
	require.Empty(t, call.Message, "Call.Message = %q, want empty for OK", call.Message)

	req := &userv1.GetUserRequest{}
	unmarshalOne(t, "Call.Request", call.Request, req)
	require.Equal(t, "u1", req.GetId(), "request message Id = %q, want u1", req.GetId())
	resp := &userv1.GetUserResponse{}
	unmarshalOne(t, "Call.Response", call.Response, resp)
	require.True(t, proto.Equal(got, resp), "response message = %v, want what the client received: %v", resp, got)

	// Headers and trailers are two different header blocks of the response.
	s := server.Stream(call.StreamID)
	require.NotNil(t, s, "server Capture has no stream %d", call.StreamID)
	require.Equal(t, "200", header(s, ":status"), "response Headers :status = %q, want 200: the first HEADERS block is the response headers", header(s, ":status"))
	require.Equal(t, "application/grpc", header(s, "content-type"), "response Headers content-type = %q, want application/grpc", header(s, "content-type"))
	_, inHeaders := Header(s.Headers, "grpc-status")
	require.False(t, inHeaders, "response Headers hold grpc-status, want it only in Trailers: the status comes after the messages, in the block with END_STREAM")
	code, _ := Header(s.Trailers, "grpc-status")
	require.Equal(t, "0", code, "response Trailers grpc-status = %q, want 0", code)
	require.True(t, s.Ended, "server stream %d Ended = false, want true: the trailers carry END_STREAM", s.ID)
	cs := client.Stream(call.StreamID)
	require.NotNil(t, cs, "client Capture has no stream %d", call.StreamID)
	require.True(t, cs.Ended, "client stream %d Ended = false, want true: the request's last DATA frame carries END_STREAM", cs.ID)
	require.Equal(t, "POST", header(cs, ":method"), "request :method = %q, want POST", header(cs, ":method"))
}

func header(s *Stream, name string) string {
	if s == nil {
		return ""
	}
	v, _ := Header(s.Headers, name)
	return v
}

func TestFramesErrorStatus(t *testing.T) {
	var callErr error
	rec := record(t, &fakeUsers{}, func(ctx context.Context, c userv1.UserServiceClient) {
		_, callErr = c.GetUser(ctx, &userv1.GetUserRequest{Id: "missing"})
	})
	want := status.Convert(callErr)
	require.Equal(t, codes.NotFound, want.Code(), "the fake server must fail GetUser(missing) with NotFound")
	_, server, calls := decode(t, rec)

	require.Equal(t, 1, len(calls), "Calls = %d calls, want 1", len(calls))
	call := calls[0]
	require.Equal(t, want.Code(), call.Code, "Call.Code = %v, want %v: grpc-status of the trailers", call.Code, want.Code())
	require.Equal(t, want.Message(), call.Message, "Call.Message = %q, want %q: grpc-message is percent-encoded on the wire (%%XX for non-ASCII and %%), and '+' is a plus, not a space", call.Message, want.Message())
	require.Equal(t, 0, len(call.Response), "Call.Response = %d messages, want none: the handler failed before sending one", len(call.Response))
	s := server.Stream(call.StreamID)
	require.NotNil(t, s, "server Capture has no stream %d", call.StreamID)
	_, hasStatus := Header(s.Trailers, "grpc-status")
	require.True(t, hasStatus, "response Trailers hold no grpc-status: a failed call answers with one header block that carries END_STREAM (Trailers-Only), and that block is the trailers")
	require.Empty(t, s.Headers, "response Headers = %v, want none: a Trailers-Only response has a single header block, and it carries END_STREAM, so it is the Trailers and not the Headers", s.Headers)
}

func TestFramesTimeoutUnits(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"2H", 2 * time.Hour},
		{"3M", 3 * time.Minute},
		{"107999S", 107999 * time.Second},
		{"179999m", 179999 * time.Millisecond},
		{"4999870u", 4999870 * time.Microsecond},
		{"99999999n", 99999999 * time.Nanosecond},
		{"0n", 0},
	}
	for _, tt := range tests {
		got, err := ParseTimeout(tt.in)
		require.NoError(t, err, "ParseTimeout(%q)", tt.in)
		require.Equal(t, tt.want, got, "ParseTimeout(%q) = %v, want %v: H hours, M minutes, S seconds, m milliseconds, u microseconds, n nanoseconds", tt.in, got, tt.want)
	}
	// 8 digits of hours are more than a time.Duration holds (about 2.5 million hours of int64 nanoseconds).
	if got, err := ParseTimeout("99999999H"); err != nil || got != time.Duration(math.MaxInt64) {
		t.Fatalf("ParseTimeout(%q) = %v, %v, want %v, nil: 8 digits of hours are a valid grpc-timeout; clamp to the longest Duration as grpc-go does, the multiplication must not overflow into a negative deadline", "99999999H", got, err, time.Duration(math.MaxInt64))
	}
	for _, bad := range []string{"", "5", "S", "5s", "5x", "123456789S", "-1S", "+1S", "1.5S", " 1S"} {
		_, err := ParseTimeout(bad)
		require.Error(t, err, "ParseTimeout(%q) = nil error, want an error: a timeout is 1 to 8 digits and one of H M S m u n", bad)
	}

	// The units real deadlines produce: grpc-go picks the smallest unit in which the value has at most 8 digits.
	deadlines := []struct {
		d    time.Duration
		unit string
	}{
		{3 * time.Minute, "m"},
		{30 * time.Hour, "S"},
	}
	rec := record(t, &fakeUsers{}, func(ctx context.Context, c userv1.UserServiceClient) {
		for _, dl := range deadlines {
			// Without the recording's 30 s bound, which would cap these deadlines.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dl.d)
			_, err := c.GetUser(ctx, &userv1.GetUserRequest{Id: "u1"})
			cancel()
			require.NoError(t, err)
		}
	})
	client, _, calls := decode(t, rec)
	require.Equal(t, len(deadlines), len(calls), "Calls = %d calls, want %d", len(calls), len(deadlines))
	for i, dl := range deadlines {
		call := calls[i]
		sent := header(client.Stream(call.StreamID), "grpc-timeout")
		require.True(t, strings.HasSuffix(sent, dl.unit), "grpc-timeout of a %v deadline = %q, want unit %q (is the header decoded right?)", dl.d, sent, dl.unit)
		require.True(t, call.Timeout <= dl.d && call.Timeout > dl.d-4*time.Second,
			"Call.Timeout for a %v deadline = %v (grpc-timeout %q), want just under %v", dl.d, call.Timeout, sent, dl.d)
	}
}

func TestFramesConcurrentCalls(t *testing.T) {
	fake := &fakeUsers{arrived: make(chan string, 2), release: make(chan struct{})}
	ids := []string{"pair-a", "pair-b"}
	rec := record(t, fake, func(ctx context.Context, c userv1.UserServiceClient) {
		var wg sync.WaitGroup
		errs := make(chan error, len(ids))
		for _, id := range ids {
			wg.Go(func() {
				_, err := c.GetUser(ctx, &userv1.GetUserRequest{Id: id})
				errs <- err
			})
		}
		// Both calls are on the server at once before either may answer: two open streams.
		for range ids {
			select {
			case <-fake.arrived:
			case <-ctx.Done():
				t.Error("the two concurrent calls did not both reach the server")
			}
		}
		close(fake.release)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		// A third call on the same connection: its headers repeat the first ones, so the client's HPACK
		// encoder sends most of them as indexes into the dynamic table the earlier calls filled.
		_, err := c.GetUser(ctx, &userv1.GetUserRequest{Id: "u3"})
		require.NoError(t, err)
	})
	_, _, calls := decode(t, rec)

	require.Equal(t, 3, len(calls), "Calls = %d calls, want 3 (two concurrent, one after): each call is its own stream", len(calls))
	seen := map[uint32]bool{}
	for _, call := range calls {
		require.Equal(t, uint32(1), call.StreamID%2, "Call.StreamID = %d, want odd: client streams are odd", call.StreamID)
		require.False(t, seen[call.StreamID], "stream id %d appears in two calls, want one stream per call", call.StreamID)
		seen[call.StreamID] = true
		require.Equal(t, getUser, call.Method, "stream %d: Call.Method = %q, want %q: the later calls' :path comes from HPACK's dynamic table, so one decoder must serve the whole connection", call.StreamID, call.Method, getUser)
		req, resp := &userv1.GetUserRequest{}, &userv1.GetUserResponse{}
		unmarshalOne(t, fmt.Sprintf("stream %d request", call.StreamID), call.Request, req)
		unmarshalOne(t, fmt.Sprintf("stream %d response", call.StreamID), call.Response, resp)
		require.Equal(t, req.GetId(), resp.GetUser().GetId(), "stream %d: request for %q got the response for %q: messages belong to the stream id of their DATA frame", call.StreamID, req.GetId(), resp.GetUser().GetId())
		require.Equal(t, codes.OK, call.Code, "stream %d: Call.Code = %v, want OK", call.StreamID, call.Code)
	}
}

// randomName is size bytes of letters that do not compress to nothing.
func randomName(size int) string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}

func TestFramesLargeMessage(t *testing.T) {
	// 300 KB: more than the 16 KB default frame size and the 64 KB initial flow-control window.
	req := &userv1.CreateUserRequest{Email: "big@example.com", Name: randomName(300 << 10)}
	var got *userv1.CreateUserResponse
	rec := record(t, &fakeUsers{}, func(ctx context.Context, c userv1.UserServiceClient) {
		var err error
		got, err = c.CreateUser(ctx, req)
		require.NoError(t, err)
	})
	client, server, calls := decode(t, rec)
	rawClient, rawServer := walk(t, rec.ClientToServer, ClientToServer), walk(t, rec.ServerToClient, ServerToClient)

	require.Equal(t, 1, len(calls), "Calls = %d calls, want 1", len(calls))
	call := calls[0]
	require.Greater(t, rawClient.data[call.StreamID], 2, "the request went in %d DATA frames; the test needs it split", rawClient.data[call.StreamID])
	require.Equal(t, createUser, call.Method, "Call.Method = %q, want %q", call.Method, createUser)
	gotReq := &userv1.CreateUserRequest{}
	unmarshalOne(t, fmt.Sprintf("Call.Request (sent in %d DATA frames)", rawClient.data[call.StreamID]), call.Request, gotReq)
	require.True(t, proto.Equal(req, gotReq), "the request decoded from %d DATA frames differs from the one sent: join a message's bytes across frames until its length is reached", rawClient.data[call.StreamID])
	gotResp := &userv1.CreateUserResponse{}
	unmarshalOne(t, fmt.Sprintf("Call.Response (sent in %d DATA frames)", rawServer.data[call.StreamID]), call.Response, gotResp)
	require.True(t, proto.Equal(got, gotResp), "the response decoded from %d DATA frames differs from the one received", rawServer.data[call.StreamID])

	// 300 KB cannot pass a 64 KB window without the receiver opening it again.
	require.Positive(t, rawServer.types[http2.FrameWindowUpdate], "the server sent no WINDOW_UPDATE; the test needs flow control at work")
	require.Equal(t, rawClient.others(), client.Other, "client Capture.Other = %v, want %v: count every frame that is not HEADERS, CONTINUATION or DATA, by type", client.Other, rawClient.others())
	require.Equal(t, rawServer.others(), server.Other, "server Capture.Other = %v, want %v: count every frame that is not HEADERS, CONTINUATION or DATA, by type", server.Other, rawServer.others())
}

func TestFramesCompressed(t *testing.T) {
	req := &userv1.CreateUserRequest{Email: "gz@example.com", Name: strings.Repeat("gzip me ", 100)}
	rec := record(t, &fakeUsers{}, func(ctx context.Context, c userv1.UserServiceClient) {
		_, err := c.CreateUser(ctx, req, grpc.UseCompressor(grpcgzip.Name))
		require.NoError(t, err)
	})
	client, _, calls := decode(t, rec)
	require.Equal(t, 1, len(calls), "Calls = %d calls, want 1", len(calls))
	call := calls[0]
	enc := header(client.Stream(call.StreamID), "grpc-encoding")
	require.Equal(t, "gzip", enc, "request grpc-encoding = %q, want gzip", enc)
	require.Equal(t, 1, len(call.Request), "Call.Request = %d messages, want 1", len(call.Request))
	msg := call.Request[0]
	require.True(t, msg.Compressed, "Call.Request[0].Compressed = false, want true: the first prefix byte is 1, so the bytes are gzip (grpc-encoding), not protobuf")
	zr, err := gzip.NewReader(bytes.NewReader(msg.Data))
	require.NoError(t, err, "Call.Request[0].Data is not gzip")
	plain, err := io.ReadAll(zr)
	require.NoError(t, err, "Call.Request[0].Data is not whole gzip")
	got := &userv1.CreateUserRequest{}
	require.NoError(t, proto.Unmarshal(plain, got))
	require.True(t, proto.Equal(req, got), "the gunzipped request = %v, want %v", got, req)
}

func TestFramesContinuation(t *testing.T) {
	// 40 KB of metadata: the request's header block is bigger than one 16 KB frame.
	big := randomName(40 << 10)
	rec := record(t, &fakeUsers{}, func(ctx context.Context, c userv1.UserServiceClient) {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-big", big)
		_, err := c.GetUser(ctx, &userv1.GetUserRequest{Id: "u1"})
		require.NoError(t, err)
	})
	raw := walk(t, rec.ClientToServer, ClientToServer)
	require.Positive(t, raw.continuation, "the client sent no CONTINUATION frame; the test needs one")
	client, _, calls := decode(t, rec)
	require.Equal(t, 1, len(calls), "Calls = %d calls, want 1", len(calls))
	got := header(client.Stream(calls[0].StreamID), "x-big")
	require.Equal(t, len(big), len(got), "request header x-big has %d bytes, want %d: a header block continues in CONTINUATION frames until END_HEADERS, decode it whole", len(got), len(big))
	require.True(t, big == got, "request header x-big differs from the metadata sent")

	// The other way: 40 KB of trailer metadata. END_STREAM is a flag of the HEADERS frame that opens the
	// block (CONTINUATION frames have no such flag), and it still makes the whole block the trailers.
	var trailer metadata.MD
	rec = record(t, &fakeUsers{}, func(ctx context.Context, c userv1.UserServiceClient) {
		_, err := c.GetUser(ctx, &userv1.GetUserRequest{Id: "big-trailer"}, grpc.Trailer(&trailer))
		require.NoError(t, err)
	})
	require.Positive(t, walk(t, rec.ServerToClient, ServerToClient).continuation, "the server sent no CONTINUATION frame; the test needs one")
	server, err := Decode(bytes.NewReader(rec.ServerToClient), ServerToClient)
	require.NoError(t, err, "Decode(server->client bytes with 40 KB of trailers) failed")
	require.Equal(t, 1, len(server.Streams), "server Capture has %d streams, want 1", len(server.Streams))
	s := server.Streams[0]
	want := trailer.Get("x-big-trailer")
	require.Equal(t, 1, len(want), "the client received no x-big-trailer trailer")
	gotTrailer, _ := Header(s.Trailers, "x-big-trailer")
	require.True(t, gotTrailer == want[0], "response Trailers x-big-trailer has %d bytes, want the %d the client received: the HEADERS frame that starts a block carries END_STREAM for the whole block, CONTINUATION frames included", len(gotTrailer), len(want[0]))
	require.Equal(t, "200", header(s, ":status"), "response Headers :status = %q, want 200: the big block is the trailers, the response headers came before it", header(s, ":status"))
	require.True(t, s.Ended, "server stream %d Ended = false, want true: the trailers' HEADERS frame carries END_STREAM", s.ID)
	_, _, calls = decode(t, rec)
	require.Equal(t, codes.OK, calls[0].Code, "Call.Code = %v, want OK", calls[0].Code)
}

// synthetic builds a client->server byte stream frame by frame, in an order grpc-go's unary calls
// do not reliably produce: two streams interleaved, a message split mid-prefix, two messages in
// one DATA frame.
type synthetic struct {
	buf bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newSynthetic(t *testing.T) *synthetic {
	s := &synthetic{}
	s.buf.WriteString(http2.ClientPreface)
	s.fr = http2.NewFramer(&s.buf, nil)
	s.enc = hpack.NewEncoder(&s.hb)
	require.NoError(t, s.fr.WriteSettings())
	return s
}

func (s *synthetic) headers(t *testing.T, id uint32, path string) {
	s.hb.Reset()
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":path", Value: path}, {Name: "content-type", Value: "application/grpc"}} {
		require.NoError(t, s.enc.WriteField(f))
	}
	require.NoError(t, s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: s.hb.Bytes(), EndHeaders: true}))
}

func (s *synthetic) data(t *testing.T, id uint32, end bool, p []byte) {
	require.NoError(t, s.fr.WriteData(id, end, p))
}

// framed is a gRPC message on the wire: flag, big-endian length, bytes.
func framed(compressed bool, p []byte) []byte {
	out := make([]byte, 5, 5+len(p))
	if compressed {
		out[0] = 1
	}
	binary.BigEndian.PutUint32(out[1:], uint32(len(p)))
	return append(out, p...)
}

func TestFramesSplitAndInterleaved(t *testing.T) {
	a, _ := proto.Marshal(&userv1.CreateUserRequest{Email: "a@example.com", Name: randomName(700)})
	b1, _ := proto.Marshal(&userv1.GetUserRequest{Id: "b1"})
	b2 := []byte("\x1f\x8b pretend-gzip") // a compressed message: its bytes are not protobuf
	fa, fb1, fb2 := framed(false, a), framed(false, b1), framed(true, b2)

	s := newSynthetic(t)
	s.headers(t, 1, createUser)
	s.headers(t, 3, getUser)
	s.data(t, 1, false, fa[:3])                               // stream 1: inside the 5-byte prefix
	s.data(t, 3, false, append(bytes.Clone(fb1), fb2[:7]...)) // stream 3: a whole message and the start of the next
	require.NoError(t, s.fr.WritePing(false, [8]byte{1}))
	s.data(t, 1, false, fa[3:400])
	require.NoError(t, s.fr.WriteWindowUpdate(0, 1<<20))
	s.data(t, 3, true, fb2[7:])
	s.data(t, 1, false, fa[400:])
	s.data(t, 1, true, nil)

	c, err := Decode(bytes.NewReader(s.buf.Bytes()), ClientToServer)
	require.NoError(t, err, "Decode(two interleaved streams) failed")
	require.Equal(t, 2, len(c.Streams), "Decode found %d streams, want 2 (ids 1 and 3)", len(c.Streams))
	one, three := c.Stream(1), c.Stream(3)
	require.NotNil(t, one, "no stream 1")
	require.NotNil(t, three, "no stream 3")
	require.Equal(t, 1, len(one.Messages), "stream 1 has %d messages, want 1: its message came in 4 DATA frames interleaved with stream 3's; keep unfinished bytes per stream", len(one.Messages))
	require.True(t, bytes.Equal(a, one.Messages[0].Data), "stream 1's message bytes differ from the %d bytes sent in 4 DATA frames", len(a))
	require.Equal(t, 2, len(three.Messages), "stream 3 has %d messages, want 2: its first DATA frame held one whole message and the start of the next", len(three.Messages))
	require.True(t, bytes.Equal(b1, three.Messages[0].Data), "stream 3's first message differs from the one sent")
	require.False(t, three.Messages[0].Compressed, "stream 3 message 1: Compressed = true, want false (flag byte 0)")
	require.True(t, bytes.Equal(b2, three.Messages[1].Data), "stream 3's second message differs from the one sent")
	require.True(t, three.Messages[1].Compressed, "stream 3 message 2: Compressed = false, want true: its flag byte is 1")
	require.True(t, one.Ended && three.Ended, "Ended = %v and %v, want both true: END_STREAM on their last DATA frames", one.Ended, three.Ended)
	require.Equal(t, map[http2.FrameType]int{http2.FrameSettings: 1, http2.FramePing: 1, http2.FrameWindowUpdate: 1}, c.Other,
		"Capture.Other = %v, want one each of SETTINGS, PING and WINDOW_UPDATE", c.Other)

	// A stream that ends inside a message lost bytes: that is an error, not a shorter message.
	s = newSynthetic(t)
	s.headers(t, 1, getUser)
	s.data(t, 1, true, fb1[:len(fb1)-1])
	_, err = Decode(bytes.NewReader(s.buf.Bytes()), ClientToServer)
	require.Error(t, err, "Decode(a stream whose END_STREAM cuts its message one byte short) = nil error, want an error")
}

func TestFramesCallsByStreamID(t *testing.T) {
	// The server answered stream 3 before stream 1, as it may whenever calls overlap; stream 1 set no deadline.
	hf := func(kv ...string) []hpack.HeaderField {
		var fs []hpack.HeaderField
		for i := 0; i < len(kv); i += 2 {
			fs = append(fs, hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return fs
	}
	client := &Capture{Direction: ClientToServer, Streams: []*Stream{
		{ID: 1, Headers: hf(":method", "POST", ":path", createUser), Messages: []Message{{Data: []byte("req-1")}}, Ended: true},
		{ID: 3, Headers: hf(":method", "POST", ":path", getUser, "grpc-timeout", "250m"), Messages: []Message{{Data: []byte("req-3")}}, Ended: true},
		{ID: 5, Headers: hf(":method", "POST", ":path", getUser), Messages: []Message{{Data: []byte("req-5")}}, Ended: true},
	}}
	server := &Capture{Direction: ServerToClient, Streams: []*Stream{
		{ID: 3, Trailers: hf(":status", "200", "grpc-status", "5", "grpc-message", "no%20such%20user"), Ended: true},
		{ID: 1, Headers: hf(":status", "200"), Messages: []Message{{Data: []byte("resp-1")}}, Trailers: hf("grpc-status", "0"), Ended: true},
		// A server that did not percent-encode its message: a '%' that starts no escape.
		{ID: 5, Trailers: hf(":status", "200", "grpc-status", "14", "grpc-message", "100% overloaded"), Ended: true},
	}}
	calls, err := Calls(client, server)
	require.NoError(t, err, "Calls(three finished streams) failed: a grpc-message that is not valid percent-encoding (\"100%% overloaded\") is no reason to fail, grpc-go keeps such text as it is")
	require.Equal(t, 3, len(calls), "Calls = %d calls, want 3", len(calls))
	byID := map[uint32]Call{}
	for _, c := range calls {
		byID[c.StreamID] = c
	}
	one, three, five := byID[1], byID[3], byID[5]
	require.Equal(t, createUser, one.Method, "stream 1: Method = %q, want %q", one.Method, createUser)
	require.Equal(t, time.Duration(0), one.Timeout, "stream 1: Timeout = %v, want 0: no grpc-timeout means no deadline, not an error", one.Timeout)
	require.Equal(t, codes.OK, one.Code, "stream 1: Code = %v, want OK: pair the two directions by stream id, not by their order (the server answered stream 3 first)", one.Code)
	require.Equal(t, 1, len(one.Response), "stream 1: %d response messages, want 1", len(one.Response))
	require.Equal(t, "resp-1", string(one.Response[0].Data), "stream 1: response %q, want resp-1: pair by stream id", one.Response[0].Data)
	require.Equal(t, codes.NotFound, three.Code, "stream 3: Code = %v, want NotFound", three.Code)
	require.Equal(t, "no such user", three.Message, "stream 3: Message = %q, want %q", three.Message, "no such user")
	require.Equal(t, 250*time.Millisecond, three.Timeout, "stream 3: Timeout = %v, want 250ms", three.Timeout)
	require.Equal(t, codes.Unavailable, five.Code, "stream 5: Code = %v, want Unavailable", five.Code)
	require.Equal(t, "100% overloaded", five.Message, "stream 5: Message = %q, want the text as it came: a '%%' that starts no escape stays a '%%', as in grpc-go", five.Message)
}

func TestFramesEmptyMessage(t *testing.T) {
	// A request whose fields are all default marshals to zero bytes: on the wire it is the prefix alone.
	rec := record(t, &fakeUsers{}, func(ctx context.Context, c userv1.UserServiceClient) {
		_, err := c.GetUser(ctx, &userv1.GetUserRequest{})
		require.NoError(t, err)
	})
	_, _, calls := decode(t, rec)
	require.Equal(t, 1, len(calls), "Calls = %d calls, want 1", len(calls))
	call := calls[0]
	require.Equal(t, 1, len(call.Request), "Call.Request = %d messages, want 1: an empty protobuf is a message of length 0, the 5 bytes 00 00 00 00 00", len(call.Request))
	require.Equal(t, 0, len(call.Request[0].Data), "Call.Request[0] has %d bytes, want 0", len(call.Request[0].Data))
	require.Equal(t, codes.OK, call.Code, "Call.Code = %v, want OK", call.Code)
}

func TestFramesUnfinishedCall(t *testing.T) {
	// The server sent its headers and a message, then nothing: no trailers, so no grpc-status (the
	// stream was reset, or the connection dropped). That call did not succeed.
	client := &Capture{Direction: ClientToServer, Streams: []*Stream{
		{ID: 1, Headers: []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":path", Value: getUser}}, Messages: []Message{{Data: []byte("req")}}, Ended: true},
	}}
	server := &Capture{Direction: ServerToClient, Streams: []*Stream{
		{ID: 1, Headers: []hpack.HeaderField{{Name: ":status", Value: "200"}}, Messages: []Message{{Data: []byte("resp")}}},
	}}
	calls, err := Calls(client, server)
	require.Error(t, err, "Calls(a response without trailers) = %v, nil error, want an error: without grpc-status the call never finished, it must not read as OK", calls)

	// A real one: the client cancels a call the server is still working on. The client resets the
	// stream with RST_STREAM, and the server never sends a status for it.
	fake := &fakeUsers{arrived: make(chan string, 1), release: make(chan struct{})}
	rec := record(t, fake, func(ctx context.Context, c userv1.UserServiceClient) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := c.GetUser(ctx, &userv1.GetUserRequest{Id: "pair-cancelled"})
			done <- err
		}()
		<-fake.arrived // the handler runs: the stream is open on both sides
		cancel()
		require.Equal(t, codes.Canceled, status.Code(<-done), "the cancelled call must fail with Canceled")
	})
	rawClient, rawServer := walk(t, rec.ClientToServer, ClientToServer), walk(t, rec.ServerToClient, ServerToClient)
	require.Positive(t, rawClient.types[http2.FrameRSTStream], "the client sent no RST_STREAM; the test needs one")
	cl, err := Decode(bytes.NewReader(rec.ClientToServer), ClientToServer)
	require.NoError(t, err, "Decode(client->server bytes of a cancelled call) failed")
	srv, err := Decode(bytes.NewReader(rec.ServerToClient), ServerToClient)
	require.NoError(t, err, "Decode(server->client bytes of a cancelled call) failed")
	require.Equal(t, rawClient.others(), cl.Other, "client Capture.Other = %v, want %v: count every frame that is not HEADERS, CONTINUATION or DATA, by type, RST_STREAM included", cl.Other, rawClient.others())
	require.Equal(t, rawServer.others(), srv.Other, "server Capture.Other = %v, want %v: count every frame that is not HEADERS, CONTINUATION or DATA, by type", srv.Other, rawServer.others())
	calls, err = Calls(cl, srv)
	require.Error(t, err, "Calls(a call the client cancelled) = %v, nil error, want an error: the server sent no grpc-status for it", calls)
}

func TestFramesNotHTTP2(t *testing.T) {
	// Server-side bytes start with frames, not the preface. These 24 bytes are a SETTINGS frame with one
	// setting and a SETTINGS ACK: as long as the preface, so only checking them tells the directions apart.
	var b bytes.Buffer
	fr := http2.NewFramer(&b, nil)
	require.NoError(t, fr.WriteSettings(http2.Setting{ID: http2.SettingMaxFrameSize, Val: 16384}))
	require.NoError(t, fr.WriteSettingsAck())
	require.Equal(t, len(http2.ClientPreface), b.Len())
	var hb bytes.Buffer
	require.NoError(t, hpack.NewEncoder(&hb).WriteField(hpack.HeaderField{Name: ":status", Value: "200"}))
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}))
	_, err := Decode(bytes.NewReader(b.Bytes()), ClientToServer)
	require.Error(t, err, "Decode(bytes that do not start with %q, ClientToServer) = nil error, want an error: check the 24-byte preface, do not just skip it", http2.ClientPreface)

	// A recording cut short ends inside a frame: that is an error, not the end of the connection.
	s := newSynthetic(t)
	s.headers(t, 1, getUser)
	s.data(t, 1, true, framed(false, []byte("req")))
	s.headers(t, 3, getUser)
	whole := s.buf.Bytes()
	_, err = Decode(bytes.NewReader(whole), ClientToServer)
	require.NoError(t, err, "Decode(two whole streams) failed")
	for _, cut := range []int{2, 9 + 1} { // inside the last HEADERS frame's payload; inside its 9-byte header
		_, err = Decode(bytes.NewReader(whole[:len(whole)-cut]), ClientToServer)
		require.Error(t, err, "Decode(bytes cut %d bytes before the end of the last frame) = nil error, want an error: only io.EOF between two frames ends a connection cleanly", cut)
	}
}
