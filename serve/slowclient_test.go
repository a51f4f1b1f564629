package serve

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowClientsCannotStarveFastOnes: with as many slow senders as the
// server has inference slots (each sends headers and part of a body, then
// trickles or stalls), fast clients are still answered at once, and the
// slow ones are cut off with 408 once the read timeout passes. Before,
// each slow sender held a slot for as long as it stayed connected, and
// every other request was a 429.
func TestSlowClientsCannotStarveFastOnes(t *testing.T) {
	t.Parallel()
	const slots = 4
	readTimeout := 400 * time.Millisecond
	s, _ := testServer(t, func(c *Config) { c.MaxConcurrentRequests = slots; c.ReadTimeout = readTimeout })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Shutdown(context.Background())
	addr := ln.Addr().String()

	// Twice as many slow senders as slots: half stall, half trickle a byte
	// every 50 ms (which no per-read idle timeout would stop).
	type slow struct {
		conn   net.Conn
		status chan string
	}
	var slows []slow
	stopTrickle := make(chan struct{})
	var trickles sync.WaitGroup
	for i := 0; i < 2*slots; i++ {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /embed HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"inputs\": \"")
		sl := slow{conn: conn, status: make(chan string, 1)}
		go func() {
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				line = "closed: " + err.Error()
			}
			sl.status <- strings.TrimSpace(line)
		}()
		if i%2 == 1 {
			trickles.Add(1)
			go func() {
				defer trickles.Done()
				for {
					select {
					case <-stopTrickle:
						return
					case <-time.After(50 * time.Millisecond):
						conn.Write([]byte("a"))
					}
				}
			}()
		}
		slows = append(slows, sl)
	}
	defer func() { close(stopTrickle); trickles.Wait() }()
	time.Sleep(100 * time.Millisecond) // the slow requests are in

	client := &http.Client{Timeout: 5 * time.Second}
	t0 := time.Now()
	var wg sync.WaitGroup
	codes := make(chan int, 3*slots)
	// As many fast clients as slots (so they never exceed the limit
	// themselves), three requests each.
	for i := 0; i < slots; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for k := 0; k < 3; k++ {
				resp, err := client.Post("http://"+addr+"/embed", "application/json", strings.NewReader(fmt.Sprintf(`{"inputs": "fast %d %d"}`, i, k)))
				if err != nil {
					codes <- -1
					return
				}
				resp.Body.Close()
				codes <- resp.StatusCode
			}
		}(i)
	}
	wg.Wait()
	close(codes)
	fast := time.Since(t0)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("a fast request got %d while slow clients were connected", c)
		}
	}
	if fast > readTimeout {
		t.Errorf("fast requests took %v, longer than the slow clients' read timeout", fast)
	}
	for i, sl := range slows {
		select {
		case st := <-sl.status:
			if !strings.Contains(st, "408") {
				t.Errorf("slow client %d: %q, want a 408", i, st)
			}
		case <-time.After(readTimeout + 2*time.Second):
			t.Errorf("slow client %d is still connected %v after the read timeout", i, 2*time.Second)
		}
	}
	t.Logf("%d fast requests answered in %v beside %d slow senders on %d slots", 3*slots, fast.Round(time.Millisecond), 2*slots, slots)
}
