package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
)

// Recorder is a TCP proxy on loopback that forwards every connection it accepts to a target and
// keeps a copy of the bytes that went each way. Point a gRPC client at Addr instead of the server.
type Recorder struct {
	lis    net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns []*recorded
}

// recorded is one proxied connection: the bytes each side wrote.
type recorded struct {
	clientToServer bytes.Buffer
	serverToClient bytes.Buffer
}

// NewRecorder listens on 127.0.0.1 and forwards to target (host:port).
func NewRecorder(target string) (*Recorder, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Recorder{lis: lis, target: target}
	r.wg.Add(1)
	go r.accept()
	return r, nil
}

// Addr is the address clients dial.
func (r *Recorder) Addr() string { return r.lis.Addr().String() }

func (r *Recorder) accept() {
	defer r.wg.Done()
	for {
		client, err := r.lis.Accept()
		if err != nil {
			return // the listener was closed
		}
		server, err := net.Dial("tcp", r.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		rec := &recorded{}
		r.mu.Lock()
		r.conns = append(r.conns, rec)
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			proxy(client, server.(*net.TCPConn), rec)
		}()
	}
}

// proxy copies both ways until both sides are done. When the client closes, the server is told by a
// half-close (FIN), so it can finish writing its last frames; the copy from the server keeps reading
// (and recording) until the server closes, even when the client no longer listens. So each recording
// ends on a frame boundary.
func proxy(client net.Conn, server *net.TCPConn, rec *recorded) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tee(client, server, &rec.serverToClient)
		_ = client.Close()
	}()
	tee(server, client, &rec.clientToServer)
	_ = server.CloseWrite()
	<-done
	_ = server.Close()
}

// tee reads src until EOF or an error, records every byte, and forwards it to dst while dst accepts.
func tee(dst io.Writer, src io.Reader, record *bytes.Buffer) {
	buf := make([]byte, 32<<10)
	forward := true
	for {
		n, err := src.Read(buf)
		if n > 0 {
			record.Write(buf[:n]) // recorded before the peer can see it
			if forward {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					forward = false
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// Close stops accepting, waits until every proxied connection has ended (close the gRPC client
// first), and returns what each connection carried, in the order they were accepted.
func (r *Recorder) Close() ([]Recording, error) {
	err := r.lis.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Recording, 0, len(r.conns))
	for _, c := range r.conns {
		out = append(out, Recording{ClientToServer: c.clientToServer.Bytes(), ServerToClient: c.serverToClient.Bytes()})
	}
	return out, err
}

// Recording is the bytes of one TCP connection, one slice per direction.
type Recording struct {
	ClientToServer []byte
	ServerToClient []byte
}
