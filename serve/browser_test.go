package serve

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// TestPageInChromium drives the embedded page in headless Chromium over
// the DevTools protocol: it types a text, clicks Classify with the mouse
// and checks the rendered score bars, checks the heads table and its loss
// curve, then uploads a CSV with the admin token and watches the job
// succeed. It runs only with BERTSERVE_BROWSER_TEST=1 (CI installs
// Debian's chromium in a separate step); BERTSERVE_CHROMIUM overrides the
// binary.
func TestPageInChromium(t *testing.T) {
	if os.Getenv("BERTSERVE_BROWSER_TEST") != "1" {
		t.Skip("set BERTSERVE_BROWSER_TEST=1 to drive the page in headless Chromium")
	}
	bin := os.Getenv("BERTSERVE_CHROMIUM")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("chromium not found at %s (apt-get install -y chromium, or set BERTSERVE_CHROMIUM): %v", bin, err)
	}

	trainer := &fakeTrainer{epochs: 3}
	s, _ := testServer(t, func(c *Config) {
		c.AdminToken = "browser-admin-token"
		c.Store = newMemStore()
		c.Train = trainer.train
	})
	labels := []string{"business", "science", "sports", "world"}
	s.Heads().Put("topic", newFakeHead(labels...))
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()

	page := launchChromium(t, bin)
	var exceptions []string
	page.onEvent = func(method string, params json.RawMessage) {
		if method == "Runtime.exceptionThrown" {
			exceptions = append(exceptions, string(params))
		}
	}
	page.must("Runtime.enable", nil)
	page.must("Page.enable", nil)
	page.must("Page.navigate", map[string]any{"url": ts.URL + "/"})
	page.waitTrue(`document.querySelectorAll('#head option').length === 1 && document.querySelector('#heads tbody tr') !== null`)

	// Type into the text box and click the button, as a user would.
	text := "stocks rallied after the earnings call"
	page.clickOn("#text")
	page.must("Input.insertText", map[string]any{"text": text})
	page.clickOn("#classify")
	page.waitTrue(`document.querySelector('#results').dataset.done === '1'`)

	var rows [][]string
	page.evalInto(`Array.from(document.querySelectorAll('#results .score-row')).map(r =>
		[r.dataset.label, r.querySelector('.value').textContent, String(parseFloat(r.querySelector('.bar span').style.width))])`, &rows)
	want := labels[labelIndex(text, len(labels))]
	if len(rows) != len(labels) {
		t.Fatalf("rendered %d score rows, want %d: %v", len(rows), len(labels), rows)
	}
	if rows[0][0] != want || rows[0][1] != "70.0%" || rows[0][2] != "70" {
		t.Errorf("top row %v, want [%s 70.0%% 70]", rows[0], want)
	}
	for _, r := range rows[1:] {
		if r[1] != "10.0%" || r[2] != "10" {
			t.Errorf("row %v, want 10.0%% and a 10%% bar", r)
		}
	}

	// The heads table shows metrics and a loss-curve picture.
	var head struct {
		Name, Labels, Metrics string
		Lines                 int
	}
	page.evalInto(`(() => { const tr = document.querySelector('#heads tbody tr'); const td = tr.querySelectorAll('td');
		return {Name: tr.dataset.head, Labels: td[1].textContent, Metrics: td[2].textContent, Lines: tr.querySelectorAll('svg polyline').length}; })()`, &head)
	if head.Name != "topic" || head.Labels != strings.Join(labels, ", ") || !strings.Contains(head.Metrics, "accuracy 0.9000") || head.Lines != 2 {
		t.Errorf("heads table row %+v", head)
	}

	// Train a head from a CSV upload with the admin token, and watch it.
	csv := filepath.Join(t.TempDir(), "reviews.csv")
	os.WriteFile(csv, []byte("text,label\ngreat,pos\nawful,neg\nlovely,pos\nbad,neg\n"), 0o644)
	doc := page.must("DOM.getDocument", nil)
	var root struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	json.Unmarshal(doc, &root)
	var node struct {
		NodeID int `json:"nodeId"`
	}
	json.Unmarshal(page.must("DOM.querySelector", map[string]any{"nodeId": root.Root.NodeID, "selector": "#train-file"}), &node)
	page.must("DOM.setFileInputFiles", map[string]any{"nodeId": node.NodeID, "files": []string{csv}})
	page.clickOn("#train-name")
	page.must("Input.insertText", map[string]any{"text": "sentiment"})
	page.clickOn("#admin-token")
	page.must("Input.insertText", map[string]any{"text": "browser-admin-token"})
	page.clickOn("#train-start")
	page.waitTrue(`['succeeded', 'failed', 'canceled'].includes(document.querySelector('#job').dataset.state) || document.querySelector('#train-error').textContent !== ''`)
	var job struct {
		State, Err, Detail string
		Lines              int
		Options            []string
	}
	page.waitTrue(`Array.from(document.querySelectorAll('#head option')).some(o => o.value === 'sentiment') || document.querySelector('#job').dataset.state !== 'succeeded'`)
	page.evalInto(`({State: document.querySelector('#job').dataset.state || '', Err: document.querySelector('#train-error').textContent,
		Detail: document.querySelector('#job-detail').textContent, Lines: document.querySelectorAll('#job-curve polyline').length,
		Options: Array.from(document.querySelectorAll('#head option')).map(o => o.value)})`, &job)
	if job.State != "succeeded" || job.Err != "" || job.Lines != 2 || strings.Join(job.Options, ",") != "sentiment,topic" {
		t.Errorf("training from the page: %+v", job)
	}
	if !strings.Contains(job.Detail, "4 examples") {
		t.Errorf("job detail %q", job.Detail)
	}
	if len(exceptions) > 0 {
		t.Errorf("JavaScript exceptions: %v", exceptions)
	}
	if out := os.Getenv("BERTSERVE_BROWSER_SCREENSHOT"); out != "" {
		var shot struct {
			Data []byte `json:"data"`
		}
		json.Unmarshal(page.must("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}), &shot)
		if err := os.WriteFile(out, shot.Data, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// cdpPage is a minimal Chrome DevTools Protocol client for one page.
type cdpPage struct {
	t       *testing.T
	ws      *websocket.Conn
	nextID  int
	onEvent func(method string, params json.RawMessage)
}

func launchChromium(t *testing.T, bin string) *cdpPage {
	t.Helper()
	// Not t.TempDir: Chromium's helper processes may still be writing the
	// profile when the browser is gone, which would fail its cleanup.
	profile, err := os.MkdirTemp("", "bertserve-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--user-data-dir="+profile, "--remote-debugging-port=0", "--remote-allow-origins=*", "--window-size=1200,1600", "about:blank")
	// Its own process group, so the renderer and other helpers die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the Chromium profile %s", profile)
	})
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`DevTools listening on (ws://\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var browserURL string
	select {
	case browserURL = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not print its DevTools address within 30s")
	}
	host := strings.SplitN(strings.TrimPrefix(browserURL, "ws://"), "/", 2)[0]
	var targets []struct {
		Type, WebSocketDebuggerURL string
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/json/list")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
		}
		if len(targets) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tg := range targets {
		if tg.Type == "page" {
			ws, err := websocket.Dial(tg.WebSocketDebuggerURL, "", "http://127.0.0.1/")
			if err != nil {
				t.Fatalf("connecting to the page: %v", err)
			}
			ws.MaxPayloadBytes = 64 << 20
			t.Cleanup(func() { ws.Close() })
			return &cdpPage{t: t, ws: ws}
		}
	}
	t.Fatalf("chromium has no page target: %+v", targets)
	return nil
}

// call sends one command and waits for its answer, passing events on.
func (p *cdpPage) call(method string, params any) (json.RawMessage, error) {
	p.nextID++
	id := p.nextID
	if params == nil {
		params = map[string]any{}
	}
	if err := websocket.JSON.Send(p.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return nil, err
	}
	p.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var msg struct {
			ID     int             `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := websocket.JSON.Receive(p.ws, &msg); err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		if msg.ID == 0 {
			if p.onEvent != nil {
				p.onEvent(msg.Method, msg.Params)
			}
			continue
		}
		if msg.ID != id {
			continue
		}
		if msg.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, msg.Error.Message)
		}
		return msg.Result, nil
	}
}

func (p *cdpPage) must(method string, params any) json.RawMessage {
	p.t.Helper()
	res, err := p.call(method, params)
	if err != nil {
		p.t.Fatal(err)
	}
	return res
}

// evalInto evaluates a JavaScript expression and decodes its value.
func (p *cdpPage) evalInto(expr string, v any) {
	p.t.Helper()
	res := p.must("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	var out struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &out); err != nil {
		p.t.Fatal(err)
	}
	if out.ExceptionDetails != nil {
		p.t.Fatalf("evaluating %s: %s", expr, out.ExceptionDetails.Text)
	}
	if err := json.Unmarshal(out.Result.Value, v); err != nil {
		p.t.Fatalf("decoding %s: %v", out.Result.Value, err)
	}
}

// waitTrue polls a boolean expression for up to 20 seconds.
func (p *cdpPage) waitTrue(expr string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		p.evalInto("!!("+expr+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var html string
			p.evalInto(`document.body.innerText`, &html)
			p.t.Fatalf("timed out waiting for %s; the page shows:\n%s", expr, html)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clickOn moves the mouse to the centre of the element and clicks.
func (p *cdpPage) clickOn(selector string) {
	p.t.Helper()
	var box struct{ X, Y float64 }
	p.evalInto(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.scrollIntoView({block: 'center'});
		const r = e.getBoundingClientRect(); return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`, selector), &box)
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		p.must("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": box.X, "y": box.Y, "button": "left", "clickCount": 1})
	}
}
