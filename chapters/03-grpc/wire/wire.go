// Package wire decodes a gRPC conversation from the bytes of its TCP connection: HTTP/2 frames,
// HPACK header blocks, and the 5-byte length prefix of every gRPC message.
//
// A Recorder (recorder.go) sits between a real grpc-go client and server on loopback and keeps a
// copy of the bytes in each direction. Decode turns one direction into streams, and Calls pairs the
// two directions into the calls that really happened. Decode, ParseTimeout and Calls are yours
// (decode.go).
package wire

import (
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
)

// Direction says which side wrote the bytes.
type Direction int

const (
	// ClientToServer bytes begin with the client connection preface (http2.ClientPreface).
	ClientToServer Direction = iota
	// ServerToClient bytes begin directly with the server's SETTINGS frame.
	ServerToClient
)

func (d Direction) String() string {
	if d == ClientToServer {
		return "client->server"
	}
	return "server->client"
}

// Message is one gRPC message as it travels in DATA frames: a 1-byte compressed flag, a 4-byte
// big-endian length, then Length bytes (a protobuf message, compressed when the flag is 1).
type Message struct {
	Compressed bool
	Data       []byte // the message bytes without the 5-byte prefix
}

// Stream is what one HTTP/2 stream carried in one direction.
type Stream struct {
	ID uint32
	// Headers is the first header block of the stream that does not end it: the request headers
	// (:method, :path, grpc-timeout, metadata ...) or the response headers (:status, content-type).
	Headers []hpack.HeaderField
	// Trailers is the header block that carried END_STREAM (grpc-status, grpc-message). A response
	// that fails before any message is "Trailers-Only": one block with END_STREAM and no Headers.
	// The client's side of a stream ends with END_STREAM on a DATA frame instead (for a unary call the
	// one that holds the request; after a streaming client's CloseSend an empty one), so it has no Trailers.
	Trailers []hpack.HeaderField
	// Messages are the gRPC messages of the stream's DATA frames, in order.
	Messages []Message
	// Ended reports whether the stream's last frame in this direction had END_STREAM.
	Ended bool
}

// Capture is one direction of a connection, decoded.
type Capture struct {
	Direction Direction
	// Streams are in the order of their first frame.
	Streams []*Stream
	// Other counts the frames that belong to no call's content: SETTINGS, PING, WINDOW_UPDATE,
	// RST_STREAM, GOAWAY ... keyed by frame type. HEADERS, CONTINUATION and DATA are not counted.
	Other map[http2.FrameType]int
}

// Stream returns the stream with the given id, or nil.
func (c *Capture) Stream(id uint32) *Stream {
	for _, s := range c.Streams {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// stream returns the stream with this id, adding it (in order of appearance) when it is new.
func (c *Capture) stream(id uint32) *Stream {
	if s := c.Stream(id); s != nil {
		return s
	}
	s := &Stream{ID: id}
	c.Streams = append(c.Streams, s)
	return s
}

// Call is one gRPC call, read from both directions of its stream.
type Call struct {
	StreamID uint32
	Method   string        // :path, e.g. "/shop.user.v1.UserService/GetUser"
	Timeout  time.Duration // the grpc-timeout the client sent; 0 when it set no deadline
	Request  []Message
	Response []Message
	Code     codes.Code // grpc-status
	Message  string     // grpc-message, percent-decoded ("" when absent)
}

// Header returns the value of the first field named name in fields.
func Header(fields []hpack.HeaderField, name string) (string, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}
