package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startServe runs `bertserve serve` through the real entry point and
// returns the child, its address once ready, and its log so far (a
// function, since it keeps growing).
func startServe(t *testing.T, args ...string) (*exec.Cmd, string, func() string) {
	t.Helper()
	model := cliModel(t)
	cmd := cli(t, nil, append([]string{"serve", "--model", model, "--heads", filepath.Join(t.TempDir(), "heads"),
		"--addr", "127.0.0.1:0", "--log-format", "json", "--threads", "1"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	addr := ""
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited before it was ready:\n%s", log.String())
			}
			log.WriteString(l + "\n")
			var rec map[string]any
			json.Unmarshal([]byte(l), &rec)
			if rec["msg"] == "listening" {
				addr, _ = rec["addr"].(string)
			}
			if rec["msg"] == "ready" {
				rest := make(chan string, 1)
				go func() {
					var b strings.Builder
					for l := range lines {
						b.WriteString(l + "\n")
					}
					rest <- b.String()
				}()
				var all string
				got := false
				return cmd, addr, func() string {
					if !got {
						all, got = log.String()+<-rest, true
					}
					return all
				}
			}
		case <-deadline:
			t.Fatalf("serve not ready after 60s:\n%s", log.String())
		}
	}
}

// TestServeShutdownTellsWhatHappened: SIGTERM with nothing in flight
// exits 0 and says it stopped cleanly; with a request still in flight when
// --shutdown-timeout runs out, it exits 1 and says the request was cut
// off. Neither claims that training jobs did not stop when none ran.
func TestServeShutdownTellsWhatHappened(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		cmd, _, logs := startServe(t, "--shutdown-timeout", "2s")
		cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		out := logs()
		if err != nil || cmd.ProcessState.ExitCode() != 0 {
			t.Errorf("a clean shutdown exited %v:\n%s", err, out)
		}
		if !strings.Contains(out, "every in-flight request finished") || strings.Contains(out, "training jobs did not stop") {
			t.Errorf("the log of a clean shutdown:\n%s", out)
		}
	})
	t.Run("cut off", func(t *testing.T) {
		cmd, addr, logs := startServe(t, "--shutdown-timeout", "300ms")
		// A request in flight: its body arrives slowly (well within
		// --read-timeout), so it is still being served at the deadline.
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"inputs\"")
		time.Sleep(200 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
		err = cmd.Wait()
		io.Copy(io.Discard, conn)
		out := logs()
		if cmd.ProcessState.ExitCode() != 1 {
			t.Errorf("a shutdown that cut off a request exited %d (%v), want 1:\n%s", cmd.ProcessState.ExitCode(), err, out)
		}
		if !strings.Contains(out, "1 in-flight requests did not finish in time and were cut off") {
			t.Errorf("the log does not say a request was cut off:\n%s", out)
		}
		if strings.Contains(out, "training jobs did not stop") || strings.Contains(out, "every in-flight request finished") {
			t.Errorf("the log says what did not happen:\n%s", out)
		}
	})
}
