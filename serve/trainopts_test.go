package serve

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bertserve/bertserve/head"
)

// TestTrainingOptionsOneDecoder: the JSON body, the query string and the
// form fields go through one decoder onto the defaults: an unknown key is
// a 400 naming it everywhere, and an explicit 0 means 0 (patience 0 is
// "no early stopping", not "the default").
func TestTrainingOptionsOneDecoder(t *testing.T) {
	t.Parallel()
	examples := `[{"text": "a", "label": "p"}, {"text": "b", "label": "q"}, {"text": "c", "label": "p"}, {"text": "d", "label": "q"}]`
	zeros := map[string]string{"patience": "0", "weight_decay": "0", "dropout": "0", "seed": "0", "label_smoothing": "0", "head": "mlp"}
	var form bytes.Buffer
	w := multipart.NewWriter(&form)
	fw, _ := w.CreateFormFile("file", "d.csv")
	fw.Write([]byte("text,label\na,p\nb,q\nc,p\nd,q\n"))
	for k, v := range zeros {
		w.WriteField(k, v)
	}
	w.Close()
	var query []string
	for k, v := range zeros {
		query = append(query, k+"="+v)
	}
	json := `{"examples": ` + examples + `, "patience": 0, "weight_decay": 0, "dropout": 0, "seed": 0, "label_smoothing": 0, "head": "mlp"}`
	var got []head.TrainConfig
	for _, tc := range []struct{ name, path, ct, body string }{
		{"json", "/v1/heads/h/train", "application/json", json},
		{"query", "/v1/heads/h/train?" + strings.Join(query, "&"), "text/csv", "text,label\na,p\nb,q\nc,p\nd,q\n"},
		{"form", "/v1/heads/h/train", w.FormDataContentType(), form.String()},
	} {
		trainer := &fakeTrainer{epochs: 1}
		s := trainServer(t, trainer, newMemStore(), nil)
		rec := postTrain(t, s, tc.path, tc.ct, tc.body)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
		waitJob(t, s, decode[TrainAccepted](t, rec).ID, JobSucceeded, JobFailed)
		cfg := trainer.cfgs[0]
		if cfg.Patience != 0 || cfg.WeightDecay != 0 || cfg.Dropout != 0 || cfg.Seed != 0 || cfg.Head != "mlp" {
			t.Errorf("%s: explicit zeros became defaults: patience %d, weight_decay %v, dropout %v, seed %d",
				tc.name, cfg.Patience, cfg.WeightDecay, cfg.Dropout, cfg.Seed)
		}
		if cfg.Epochs != head.Default().Epochs {
			t.Errorf("%s: an absent option lost its default: epochs %d", tc.name, cfg.Epochs)
		}
		got = append(got, cfg)
	}
	for i := 1; i < len(got); i++ {
		if !reflect.DeepEqual(got[0], got[i]) {
			t.Errorf("the JSON body and way %d give different configs:\n%+v\n%+v", i, got[0], got[i])
		}
	}

	s := trainServer(t, &fakeTrainer{epochs: 1}, newMemStore(), nil)
	for _, tc := range []struct{ name, path, ct, body, want string }{
		{"json typo", "/v1/heads/h/train", "application/json", `{"examples": ` + examples + `, "epoch": 5}`, `unknown training option "epoch"; valid options: `},
		{"query typo", "/v1/heads/h/train?epoch=5", "text/csv", "text,label\na,p\n", `unknown training option "epoch"`},
		{"removed adapter", "/v1/heads/h/train", "application/json", `{"examples": ` + examples + `, "adapter": {"kind": "lora"}}`, `"adapter" was removed`},
		{"removed adapter, query", "/v1/heads/h/train?adapter=lora", "text/csv", "text,label\na,p\n", `"tune": "lora"`},
		{"json type", "/v1/heads/h/train", "application/json", `{"examples": ` + examples + `, "epochs": "5"}`, `"epochs" must be a whole number, got a string`},
		{"invalid value", "/v1/heads/h/train?epochs=0", "text/csv", "text,label\na,p\n", "epochs 0 must be in [1, 10000]"},
	} {
		rec := postTrain(t, s, tc.path, tc.ct, tc.body)
		if msg, _ := apiError(t, tc.path, rec); rec.Code != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %d %s, want 400 saying %q", tc.name, rec.Code, rec.Body, tc.want)
		}
		if strings.Contains(tc.want, "valid options") && !strings.Contains(rec.Body.String(), "epochs") {
			t.Errorf("%s: the error does not list the valid options: %s", tc.name, rec.Body)
		}
	}
}

// TestUploadReadsLikeTheCLI: a file uploaded to the training route is read
// exactly as `bertserve train --data FILE` reads it (one reader), whatever
// the way it is sent.
func TestUploadReadsLikeTheCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, data := range map[string]string{
		// The two readers used to disagree on these: the server took
		// text_a over review and knew no "sentiment" column.
		"reviews.csv":  "review,text_a,label\na long review one,t1,x\nanother review two,t2,y\nthird review,t3,x\nfourth one,t4,y\n",
		"tweets.tsv":   "tweet\tsentiment\ngood day\tpos\nbad day\tneg\nfine day\tpos\nawful day\tneg\n",
		"topics.jsonl": `{"title":"a","topic":1}` + "\n" + `{"title":"b","topic":2}` + "\n" + `{"title":"c","topic":1}` + "\n" + `{"title":"d","topic":2}` + "\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		want, err := head.ReadLabelledFile(path, head.ReadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var form bytes.Buffer
		w := multipart.NewWriter(&form)
		fw, _ := w.CreateFormFile("file", name)
		fw.Write([]byte(data))
		w.Close()
		ct := map[string]string{".csv": "text/csv", ".tsv": "text/tab-separated-values", ".jsonl": "application/x-ndjson"}[filepath.Ext(name)]
		for _, way := range []struct{ ct, body string }{{ct, data}, {"text/plain", data}, {w.FormDataContentType(), form.String()}} {
			trainer := &fakeTrainer{epochs: 1}
			s := trainServer(t, trainer, newMemStore(), nil)
			rec := postTrain(t, s, "/v1/heads/h/train", way.ct, way.body)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("%s as %s: %d %s", name, way.ct, rec.Code, rec.Body)
			}
			waitJob(t, s, decode[TrainAccepted](t, rec).ID, JobSucceeded, JobFailed)
			got := trainer.got[0]
			if !reflect.DeepEqual(got.Texts, want.Texts) || !reflect.DeepEqual(got.Labels, want.Labels) || got.Info.TextColumn != want.Info.TextColumn {
				t.Errorf("%s as %.30s: the server read %q %q (text column %q), the CLI %q %q (%q)", name, way.ct,
					got.Texts, got.Labels, got.Info.TextColumn, want.Texts, want.Labels, want.Info.TextColumn)
			}
		}
	}
}
