package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
)

// prefixLen is the gRPC message prefix: 1 byte compressed flag + 4 bytes big-endian length.
const prefixLen = 5

// Decode reads one direction of an HTTP/2 connection that carried gRPC and returns its streams.
// Client bytes start with the connection preface. It stops at a clean EOF between frames; a frame
// cut short, a message left unfinished at END_STREAM or bytes that are not HTTP/2 are errors.
func Decode(r io.Reader, dir Direction) (*Capture, error) {
	if dir == ClientToServer {
		// The preface is not a frame: 24 fixed bytes, then the client's SETTINGS frame.
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(r, preface); err != nil {
			return nil, fmt.Errorf("reading the client preface: %w", err)
		}
		if string(preface) != http2.ClientPreface {
			return nil, fmt.Errorf("client preface = %q, want %q", preface, http2.ClientPreface)
		}
	}

	c := &Capture{Direction: dir, Other: map[http2.FrameType]int{}}
	fr := http2.NewFramer(nil, r)
	// One HPACK decoder for the whole direction: the sender's encoder adds fields to its dynamic table
	// and later refers to them by index, so the table must live as long as the connection.
	dec := hpack.NewDecoder(4096, nil) // 4096: SETTINGS_HEADER_TABLE_SIZE's default, which grpc-go keeps
	pending := map[uint32][]byte{}     // unfinished gRPC message bytes per stream

	var block []byte       // header block fragments of HEADERS + CONTINUATION so far
	var blockEnds bool     // the HEADERS frame of that block had END_STREAM
	var blockStream uint32 // its stream

	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading a frame: %w", err)
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			block = append(block[:0], f.HeaderBlockFragment()...)
			blockEnds, blockStream = f.StreamEnded(), f.StreamID
			if f.HeadersEnded() {
				if err := c.addHeaders(dec, blockStream, block, blockEnds); err != nil {
					return nil, err
				}
			}
		case *http2.ContinuationFrame:
			// A header block too big for one frame goes on in CONTINUATION frames; only the whole
			// block can be decoded. (The framer already rejects any other frame in between.)
			block = append(block, f.HeaderBlockFragment()...)
			if f.HeadersEnded() {
				if err := c.addHeaders(dec, blockStream, block, blockEnds); err != nil {
					return nil, err
				}
			}
		case *http2.DataFrame:
			s := c.stream(f.StreamID)
			// Data() is only valid until the next ReadFrame: append copies it. A DATA frame may end in
			// the middle of a message or hold several, so bytes wait per stream until a message is whole.
			buf := append(pending[f.StreamID], f.Data()...)
			for len(buf) >= prefixLen {
				n := binary.BigEndian.Uint32(buf[1:prefixLen])
				if uint64(len(buf)-prefixLen) < uint64(n) {
					break
				}
				s.Messages = append(s.Messages, Message{
					Compressed: buf[0] == 1,
					Data:       bytes.Clone(buf[prefixLen : prefixLen+int(n)]),
				})
				buf = buf[prefixLen+int(n):]
			}
			pending[f.StreamID] = buf
			if f.StreamEnded() {
				s.Ended = true
				if len(buf) > 0 {
					return nil, fmt.Errorf("stream %d ended inside a gRPC message (%d bytes left)", f.StreamID, len(buf))
				}
			}
		default:
			c.Other[f.Header().Type]++
		}
	}
	for id, buf := range pending {
		if len(buf) > 0 {
			return nil, fmt.Errorf("stream %d: connection ended inside a gRPC message (%d bytes left)", id, len(buf))
		}
	}
	return c, nil
}

// addHeaders decodes a complete header block. The block that ends the stream is the trailers
// (grpc-status lives there, after the last message); any other is the headers.
func (c *Capture) addHeaders(dec *hpack.Decoder, id uint32, block []byte, endStream bool) error {
	fields, err := dec.DecodeFull(block)
	if err != nil {
		return fmt.Errorf("stream %d: HPACK: %w", id, err)
	}
	s := c.stream(id)
	if endStream {
		s.Trailers = fields
		s.Ended = true
	} else {
		s.Headers = fields
	}
	return nil
}

// timeoutUnits are grpc-timeout's units. Note the case: "m" is milliseconds, "M" minutes.
var timeoutUnits = map[byte]time.Duration{
	'H': time.Hour,
	'M': time.Minute,
	'S': time.Second,
	'm': time.Millisecond,
	'u': time.Microsecond,
	'n': time.Nanosecond,
}

// ParseTimeout parses a grpc-timeout value: at most 8 ASCII digits and one unit, e.g. "4999870u".
func ParseTimeout(v string) (time.Duration, error) {
	if len(v) < 2 || len(v) > 9 {
		return 0, fmt.Errorf("grpc-timeout %q: want 1 to 8 digits and a unit", v)
	}
	unit, ok := timeoutUnits[v[len(v)-1]]
	if !ok {
		return 0, fmt.Errorf("grpc-timeout %q: unknown unit %q", v, v[len(v)-1])
	}
	digits := v[:len(v)-1]
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("grpc-timeout %q: want only digits before the unit", v)
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("grpc-timeout %q: %w", v, err)
	}
	// 8 digits of hours do not fit in a Duration (int64 nanoseconds, about 2.5 million hours): clamp,
	// as grpc-go does, instead of overflowing into a negative deadline.
	if n > int64(math.MaxInt64/unit) {
		return time.Duration(math.MaxInt64), nil
	}
	return time.Duration(n) * unit, nil
}

// Calls pairs the client's streams with the server's (same stream id) into calls, in the client's
// order. A call whose server side has no grpc-status did not finish, and is an error.
func Calls(client, server *Capture) ([]Call, error) {
	var calls []Call
	for _, req := range client.Streams {
		path, ok := Header(req.Headers, ":path")
		if !ok {
			return nil, fmt.Errorf("stream %d: request headers without :path", req.ID)
		}
		call := Call{StreamID: req.ID, Method: path, Request: req.Messages}
		if v, ok := Header(req.Headers, "grpc-timeout"); ok {
			d, err := ParseTimeout(v)
			if err != nil {
				return nil, fmt.Errorf("stream %d: %w", req.ID, err)
			}
			call.Timeout = d
		}
		resp := server.Stream(req.ID)
		if resp == nil {
			return nil, fmt.Errorf("stream %d (%s): no response", req.ID, path)
		}
		call.Response = resp.Messages
		code, ok := Header(resp.Trailers, "grpc-status")
		if !ok {
			return nil, fmt.Errorf("stream %d (%s): no grpc-status in the trailers", req.ID, path)
		}
		n, err := strconv.ParseUint(code, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("stream %d: grpc-status %q: %w", req.ID, code, err)
		}
		call.Code = codes.Code(n)
		if msg, ok := Header(resp.Trailers, "grpc-message"); ok {
			// grpc-message is percent-encoded (RFC 3986 style, no '+' for space): a header value may
			// only hold printable ASCII, and the message may be any UTF-8.
			if call.Message, err = url.PathUnescape(msg); err != nil {
				call.Message = msg // a bad escape is no reason to lose the call: keep the text as it came
			}
		}
		calls = append(calls, call)
	}
	return calls, nil
}
