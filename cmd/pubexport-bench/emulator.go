package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// benchOrg is the organization every emulator of the harness serves.
const benchOrg = "bench"

// emulatorPkg is built once per run; the harness needs the Go toolchain,
// which `make bench` (go run) implies.
const emulatorPkg = "pubexport/cmd/apigee-emulator"

// emulatorProc is an apigee-emulator child process. It runs in its own
// process so that its memory and CPU time are never counted as the
// exporter's.
type emulatorProc struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
	// tail keeps the last lines it printed, for error messages.
	mu   sync.Mutex
	tail []string
}

// emulatorEnv names a prebuilt apigee-emulator to use instead of building
// one (for running the harness outside the module).
const emulatorEnv = "PUBEXPORT_BENCH_EMULATOR"

// emulatorBinary builds the emulator once per run into the work folder. The
// build runs in the current folder, which must be inside the pubexport
// module (make bench and go test run there).
func (h *harness) emulatorBinary(ctx context.Context) (string, error) {
	h.buildOnce.Do(func() {
		if bin := os.Getenv(emulatorEnv); bin != "" {
			h.emuBin = bin
			return
		}
		bin := filepath.Join(h.tmp, "apigee-emulator")
		h.logf("building %s", emulatorPkg)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, emulatorPkg)
		out, err := cmd.CombinedOutput()
		if err != nil {
			h.buildErr = fmt.Errorf("building the emulator (go build %s; run the harness inside the pubexport module, or set %s to an apigee-emulator binary): %w: %s", emulatorPkg, emulatorEnv, err, out)
			return
		}
		h.emuBin = bin
	})
	return h.emuBin, h.buildErr
}

// startEmulator runs apigee-emulator generating an organization of the
// given size, and waits until it answers.
func (h *harness) startEmulator(ctx context.Context, developers, apps, products int, latency time.Duration) (*emulatorProc, error) {
	bin, err := h.emulatorBinary(ctx)
	if err != nil {
		return nil, err
	}
	args := []string{
		"--addr", "127.0.0.1:0",
		"--org", benchOrg,
		"--seed", "1",
		"--generate", fmt.Sprintf("developers=%d,apps=%d,apiproducts=%d", developers, apps, products),
	}
	if latency > 0 {
		args = append(args, "--latency", latency.String())
	}
	h.logf("starting apigee-emulator %s", strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = childAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the emulator: %w", err)
	}
	p := &emulatorProc{cmd: cmd, done: make(chan struct{})}
	urls := make(chan string, 2)
	var readers sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		readers.Go(func() { p.scan(r, urls) })
	}
	go func() {
		readers.Wait() // the pipes must be drained before Wait
		cmd.Wait()
		close(p.done)
	}()

	// Generating a million records takes a while; the run's budget bounds it.
	wait, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	select {
	case u := <-urls:
		p.URL = u
	case <-p.done:
		return nil, fmt.Errorf("the emulator exited before serving: %s", p.lastLines())
	case <-wait.Done():
		p.Close()
		return nil, fmt.Errorf("the emulator did not report its URL: %w (%s)", wait.Err(), p.lastLines())
	}
	if err := p.ready(wait); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// servingURL finds the base URL in the emulator's log line, whatever its
// log format.
var servingURL = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`)

func (p *emulatorProc) scan(r io.Reader, urls chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if u := servingURL.FindString(line); u != "" {
			select {
			case urls <- u:
			default:
			}
		}
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > 10 {
			p.tail = p.tail[1:]
		}
		p.mu.Unlock()
	}
	io.Copy(io.Discard, r)
}

func (p *emulatorProc) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == 0 {
		return "no output"
	}
	return strings.Join(p.tail, " | ")
}

// ready waits until the organization answers.
func (p *emulatorProc) ready(ctx context.Context) error {
	u := p.URL + "/v1/organizations/" + benchOrg
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the emulator is not ready: %w (last: %v)", ctx.Err(), err)
		case <-p.done:
			return fmt.Errorf("the emulator exited: %s", p.lastLines())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops the emulator: politely first, then for good.
func (p *emulatorProc) Close() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	// The harness's requests go through http.DefaultTransport, which may
	// hold a connection it dialled for a request that then took another
	// one. The emulator's graceful shutdown waits 5 s for a connection that
	// never carried a request (net/http cannot tell it from one whose
	// request is on its way), so close the idle ones first.
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// CPU is the emulator's CPU time so far (0 where the OS does not say).
func (p *emulatorProc) CPU() time.Duration { return procCPU(p.cmd.Process.Pid) }
