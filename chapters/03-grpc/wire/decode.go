package wire

import (
	"errors"
	"io"
	"time"
)

// Decode reads one direction of an HTTP/2 connection that carried gRPC and returns its streams.
// Client bytes start with the connection preface. It stops at a clean EOF between frames; a frame
// cut short, a message left unfinished at END_STREAM or bytes that are not HTTP/2 are errors.
func Decode(r io.Reader, dir Direction) (*Capture, error) {
	// TODO(03-frames): decode one direction of the connection.
	//  1. ClientToServer only: read and check the 24-byte http2.ClientPreface.
	//  2. Loop over http2.NewFramer(nil, r).ReadFrame() until io.EOF.
	//  3. HEADERS (+ CONTINUATION until END_HEADERS) hold an HPACK block: decode the whole block with
	//     an hpack.Decoder that lives as long as the direction. A block with END_STREAM is the
	//     stream's Trailers, another block its Headers.
	//  4. DATA: gRPC messages, each a 5-byte prefix (compressed flag, big-endian length) and the bytes.
	//     A frame may hold part of a message or several. Keep unfinished bytes per stream.
	//  5. Count every other frame type in Capture.Other. Use c.stream(id) to find or add a stream.
	_ = r
	_ = dir
	return nil, errors.New("TODO(03-frames): Decode is not implemented")
}

// ParseTimeout parses a grpc-timeout value: at most 8 ASCII digits and one unit, e.g. "4999870u".
func ParseTimeout(v string) (time.Duration, error) {
	// TODO(03-frames): the units are H, M, S, m, u, n (hours down to nanoseconds). Reject the rest.
	_ = v
	return 0, errors.New("TODO(03-frames): ParseTimeout is not implemented")
}

// Calls pairs the client's streams with the server's (same stream id) into calls, in the client's
// order. A call whose server side has no grpc-status did not finish, and is an error.
func Calls(client, server *Capture) ([]Call, error) {
	// TODO(03-frames): Method is the request's :path, Timeout its grpc-timeout (ParseTimeout), Code
	// and Message come from the response's Trailers (grpc-status, and grpc-message percent-decoded).
	_, _ = client, server
	return nil, errors.New("TODO(03-frames): Calls is not implemented")
}
