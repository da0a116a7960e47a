package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// http2Preface is what every HTTP/2 client sends first. Over plaintext,
// only gRPC clients speak HTTP/2 to this server (they use prior knowledge;
// browsers, curl and the REST clients use HTTP/1.1), so a connection that
// starts with it is handed to the gRPC server's own transport, which
// serves unary calls several times faster than grpc.Server.ServeHTTP
// behind net/http. Everything else goes to net/http (REST, the console).
var http2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// splitListener sorts the connections of one listener by their first
// bytes into a gRPC listener and an HTTP/1 listener.
type splitListener struct {
	l         net.Listener
	grpc, web *connQueue
	// sniffTimeout bounds how long a connection may take to send its first
	// bytes (as http.Server's ReadHeaderTimeout does for a request line).
	sniffTimeout time.Duration
}

func split(l net.Listener, sniffTimeout time.Duration) *splitListener {
	s := &splitListener{l: l, sniffTimeout: sniffTimeout}
	done := make(chan struct{})
	s.grpc = &connQueue{c: make(chan net.Conn), done: done, closed: make(chan struct{}), addr: l.Addr()}
	s.web = &connQueue{c: make(chan net.Conn), done: done, closed: make(chan struct{}), addr: l.Addr()}
	go s.accept(done)
	return s
}

// accept runs until l is closed; then both queues report net.ErrClosed.
func (s *splitListener) accept(done chan struct{}) {
	defer close(done)
	for {
		c, err := s.l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return
		}
		go s.sniff(c)
	}
}

// sniff reads the first bytes of c without a goroutine per byte source
// waiting forever: a client that sends nothing is closed after
// sniffTimeout.
func (s *splitListener) sniff(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(s.sniffTimeout))
	buf := make([]byte, len(http2Preface))
	n, err := io.ReadFull(c, buf)
	c.SetReadDeadline(time.Time{})
	if err != nil && n == 0 {
		c.Close()
		return
	}
	pc := &peekedConn{Conn: c, peeked: buf[:n]}
	q := s.web
	if n == len(buf) && bytes.Equal(buf, http2Preface) {
		q = s.grpc
	}
	select {
	case q.c <- pc:
	case <-q.done:
		c.Close()
	case <-q.closed:
		c.Close()
	}
}

// Close closes the underlying listener.
func (s *splitListener) Close() error { return s.l.Close() }

// connQueue is a net.Listener fed by splitListener. Closing it stops its
// own server accepting; the other goes on until the split listener is
// closed.
type connQueue struct {
	c      chan net.Conn
	done   chan struct{} // the split listener stopped
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.c:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// peekedConn replays the bytes sniff read before the rest of the stream.
type peekedConn struct {
	net.Conn
	peeked []byte
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if len(c.peeked) > 0 {
		n := copy(p, c.peeked)
		c.peeked = c.peeked[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
