package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// slowPost opens a connection and sends the headers of a POST whose body of
// 1000 bytes is yet to come, as a client on a very slow link (or an attacker
// holding connections) does.
func slowPost(t testing.TB, addr, token string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	fmt.Fprintf(conn, "POST /v1/organizations/acme/apps:export HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", addr, auth)
	return conn, bufio.NewReader(conn)
}

// trickle sends a byte every interval until the connection fails or stop
// is closed.
func trickle(conn net.Conn, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if _, err := conn.Write([]byte(" ")); err != nil {
			return
		}
	}
}

// closedWithin reports whether the server closes conn within d (reads
// whatever else comes until EOF, or a reset: closing a connection with
// unread trickled bytes makes the kernel answer RST).
func closedWithin(conn net.Conn, r *bufio.Reader, d time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

// TestSlowBodyCut: an authenticated body trickled a byte at a time is cut
// off with 408 once BodyTimeout passes; an unauthenticated one is answered
// 401 before any of its body is read, and the connection closed at once.
func TestSlowBodyCut(t *testing.T) {
	const liveness = 15 * time.Second
	h := start(t, tokenAuth(t), func(o *Options) { o.BodyTimeout = 300 * time.Millisecond })
	stop := make(chan struct{})
	defer close(stop)

	conn, r := slowPost(t, h.addr, acmeToken)
	defer conn.Close()
	go trickle(conn, 50*time.Millisecond, stop)
	conn.SetReadDeadline(time.Now().Add(liveness))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("trickled body: no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("trickled body: %s, want 408", resp.Status)
	}
	if !closedWithin(conn, r, liveness) {
		t.Error("trickled body: connection left open after the 408")
	}
	if calls := h.ops.Calls(); len(calls) != 0 {
		t.Errorf("a cut-off request reached the manager: %v", calls)
	}

	// Without credentials: the answer comes while the body has not even
	// started, with a body deadline far away.
	h2 := start(t, tokenAuth(t), func(o *Options) { o.BodyTimeout = time.Hour })
	conn2, r2 := slowPost(t, h2.addr, "")
	defer conn2.Close()
	conn2.SetReadDeadline(time.Now().Add(liveness))
	resp, err = http.ReadResponse(r2, nil)
	if err != nil {
		t.Fatalf("unauthenticated slow body: no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Errorf("unauthenticated slow body: %s (close %v), want 401 with Connection: close", resp.Status, resp.Close)
	}
	if !closedWithin(conn2, r2, liveness) {
		t.Error("unauthenticated slow body: connection held open for its body")
	}
}

// TestSlowClientsDoNotStarve: 250 clients without credentials that trickle
// bodies (and reconnect when cut off) do not keep authenticated callers
// from being answered, with connections capped well below 250.
func TestSlowClientsDoNotStarve(t *testing.T) {
	h := start(t, tokenAuth(t), func(o *Options) {
		o.MaxConnections = 32
		o.BodyTimeout = time.Hour
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var mu sync.Mutex
	var conns int
	for range 250 {
		wg.Go(func() {
			for ctx.Err() == nil {
				d := net.Dialer{}
				conn, err := d.DialContext(ctx, "tcp", h.addr)
				if err != nil {
					return
				}
				mu.Lock()
				conns++
				mu.Unlock()
				stop := context.AfterFunc(ctx, func() { conn.Close() })
				fmt.Fprintf(conn, "POST /v1/organizations/acme/apps:export HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", h.addr)
				go trickle(conn, time.Second, ctx.Done())
				io.Copy(io.Discard, conn)
				stop()
				conn.Close()
			}
		})
	}
	time.Sleep(500 * time.Millisecond) // let them pile up
	c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 20 {
		req, _ := http.NewRequest("GET", h.url+"/v1/organizations/acme/operations", nil)
		req.Header.Set("Authorization", "Bearer "+acmeToken)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("authenticated call %d under 250 slow clients: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("authenticated call %d: %s", i, resp.Status)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if conns < 250 {
		t.Errorf("only %d slow connections were made, want at least 250", conns)
	}
}
