package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// labelsDirStore is a DirStore whose heads are labels.json files, saved
// as head.Save does: the whole directory written aside, then swapped in.
func labelsDirStore(t *testing.T, dir string) *DirStore {
	t.Helper()
	st, err := NewDirStore(DirStoreConfig{
		Dir: dir,
		Load: func(d string) (Head, error) {
			data, err := os.ReadFile(filepath.Join(d, "labels.json"))
			if err != nil {
				return nil, err
			}
			var labels []string
			if err := json.Unmarshal(data, &labels); err != nil {
				return nil, fmt.Errorf("labels.json: %w", err)
			}
			return newFakeHead(labels...), nil
		},
		Save: func(d string, h Head) error {
			tmp, err := os.MkdirTemp(filepath.Dir(d), "."+filepath.Base(d)+".tmp-")
			if err != nil {
				return err
			}
			data, _ := json.Marshal(h.Labels())
			if err := os.WriteFile(filepath.Join(tmp, "labels.json"), data, 0o644); err != nil {
				return err
			}
			old := filepath.Join(filepath.Dir(d), "."+filepath.Base(d)+".old-"+randomHex(4))
			if err := os.Rename(d, old); err != nil && !os.IsNotExist(err) {
				return err
			}
			if err := os.Rename(tmp, d); err != nil {
				return err
			}
			return os.RemoveAll(old)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestReplicasShareHeads: two servers on loopback over one heads
// directory. A head trained, replaced and deleted through one appears,
// changes and disappears on the other within the refresh interval; a
// half-written head is never served, and the previous version of a head
// stays while a broken replacement sits on disk.
func TestReplicasShareHeads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	replica := func(trainer *fakeTrainer) (*Server, string) {
		s, _ := testServer(t, func(c *Config) {
			c.Store = labelsDirStore(t, dir)
			c.Train = trainer.train
			c.AdminToken = adminTok
			c.HeadsRefresh = 20 * time.Millisecond
		})
		if _, err := s.LoadHeads(); err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s.Handler())
		t.Cleanup(ts.Close)
		return s, ts.URL
	}
	a, aURL := replica(&fakeTrainer{epochs: 1})
	_, bURL := replica(&fakeTrainer{epochs: 1})

	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// labelsOn polls a replica until the head has those labels ("" for
	// absent), within 2 s: 100 refresh intervals.
	labelsOn := func(url, name string, want []string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			code, body := get(url + "/v1/heads/" + name)
			var v HeadView
			json.Unmarshal([]byte(body), &v)
			if (want == nil && code == 404) || (code == 200 && slices.Equal(v.Labels, want)) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: head %q is %d %s, want labels %v", url, name, code, body, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	train := func(csv string) {
		t.Helper()
		req, _ := http.NewRequest("POST", aURL+"/v1/heads/shared/train", strings.NewReader(csv))
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", "Bearer "+adminTok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var j JobView
		json.NewDecoder(resp.Body).Decode(&j)
		resp.Body.Close()
		waitJob(t, a, j.ID, JobSucceeded)
	}

	train(trainCSV) // labels neg, pos
	labelsOn(bURL, "shared", []string{"neg", "pos"})
	// Replaced (three labels now), through replica a.
	train(trainCSV + "meh,mid\nso-so,mid\nok I guess,mid\n")
	labelsOn(bURL, "shared", []string{"mid", "neg", "pos"})
	code, body := get(bURL + "/v2/models/shared")
	if code != 200 || !strings.Contains(body, `"mid"`) {
		t.Errorf("replica b's model metadata after the replacement: %d %s", code, body)
	}

	// A half-written head (no labels.json yet) is not served; once
	// complete, it is.
	half := filepath.Join(dir, "half")
	os.Mkdir(half, 0o755)
	time.Sleep(100 * time.Millisecond)
	if code, _ := get(bURL + "/v1/heads/half"); code != 404 {
		t.Errorf("a half-written head is served: %d", code)
	}
	os.WriteFile(filepath.Join(half, "labels.json"), []byte(`["x", "y"]`), 0o644)
	labelsOn(bURL, "half", []string{"x", "y"})
	// Broken in place: the version served stays.
	os.WriteFile(filepath.Join(half, "labels.json"), []byte(`["x", `), 0o644)
	time.Sleep(100 * time.Millisecond)
	labelsOn(bURL, "half", []string{"x", "y"})

	// Deleted through replica a: gone from b.
	req, _ := http.NewRequest("DELETE", aURL+"/v1/heads/shared", nil)
	req.Header.Set("Authorization", "Bearer "+adminTok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("delete: %v %v", err, resp)
	}
	labelsOn(bURL, "shared", nil)
	code, _ = get(bURL + "/v2/models/shared/ready")
	if code != 404 {
		t.Errorf("a deleted head is still a model on replica b: %d", code)
	}
}
