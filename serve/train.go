package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/bertserve/bertserve/encoder/corpus"
	"github.com/bertserve/bertserve/head"
	"github.com/labstack/echo/v4"
)

// The application/json body of POST /v1/heads/{name}/train holds the
// examples inline beside the training options (the keys of
// head.TrainConfig, decoded strictly by head.DecodeConfig):
//
//	{"examples": [{"text": "...", "label": "..."}, ...], "epochs": 30, "patience": 0}
const examplesKey = "examples"

// TrainAccepted is the 202 answer of a training request.
type TrainAccepted struct {
	ID    string   `json:"id"`
	Head  string   `json:"head"`
	State JobState `json:"state"`
	URL   string   `json:"url"`
}

// minPerClass is the fewest examples of a class a job accepts: one for
// training, one for the stratified validation split.
const minPerClass = 2

// handleTrain accepts a training set as CSV, TSV, JSON Lines, a multipart
// upload (field "file", options as fields) or JSON, and starts a job.
func (s *Server) handleTrain(c echo.Context) error {
	name, err := s.headParam(c)
	if err != nil {
		return err
	}
	if s.cfg.Train == nil || s.cfg.Store == nil {
		return newError(http.StatusNotImplemented, ErrBackend, "training is not available in this server: it was started without a trainer or a heads directory (--heads)")
	}
	if _, err := s.model(); err != nil {
		return err
	}
	set, cfg, err := s.readTrainRequest(c)
	if err != nil {
		return err
	}
	if err := set.Check(minPerClass); err != nil {
		return unprocessable("%v", err)
	}
	j, err := s.jobs.submit(name, set, cfg)
	if err != nil {
		if errors.Is(err, errJobsClosed) {
			return newError(http.StatusServiceUnavailable, ErrBackend, "the server is shutting down")
		}
		return err
	}
	url := "/v1/jobs/" + j.id
	c.Response().Header().Set(echo.HeaderLocation, url)
	s.log.Info("training job queued", "job", j.id, "head", name, "examples", set.Len())
	return c.JSON(http.StatusAccepted, TrainAccepted{ID: j.id, Head: name, State: JobQueued, URL: url})
}

// readTrainRequest reads the labelled data and the training options of
// a request: options from the query string (and the fields of a
// multipart form, or the keys of a JSON body beside "examples") through
// head's one decoder onto the defaults; data through head's one reader.
func (s *Server) readTrainRequest(c echo.Context) (*head.Labelled, head.TrainConfig, error) {
	none := head.TrainConfig{}
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, none, unsupportedMedia("missing or bad Content-Type %q: send text/csv, text/tab-separated-values, application/x-ndjson, application/json or multipart/form-data", ct)
	}
	values := map[string]string{}
	for k, v := range c.QueryParams() {
		values[k] = v[len(v)-1]
	}
	format := corpus.FormatAuto
	switch mt {
	case echo.MIMEMultipartForm:
		return s.readMultipartTrain(c, values)
	case echo.MIMEApplicationJSON:
		return s.readJSONTrain(c, values)
	case "text/csv":
		format = corpus.FormatCSV
	case "text/tab-separated-values":
		format = corpus.FormatTSV
	case "application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		format = corpus.FormatJSONL
	case "text/plain":
	default:
		return nil, none, unsupportedMedia("unsupported Content-Type %q for training data: send text/csv, text/tab-separated-values, application/x-ndjson, application/json or multipart/form-data", ct)
	}
	cfg, err := head.ConfigFromValues(values, head.Default())
	if err != nil {
		return nil, none, badRequest("%v", err)
	}
	data, err := s.readUpload(c)
	if err != nil {
		return nil, none, err
	}
	set, err := s.parseUpload(data, format, cfg, nil)
	return set, cfg, err
}

func (s *Server) readUpload(c echo.Context) ([]byte, error) {
	data, err := readBody(c, s.cfg.UploadLimit, s.cfg.UploadTimeout)
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.Code == http.StatusRequestEntityTooLarge {
		return nil, tooLarge("the upload is over the %d-byte limit (--upload-limit)", s.cfg.UploadLimit)
	}
	if errors.As(err, &apiErr) && apiErr.Code == http.StatusRequestTimeout {
		apiErr.Message = strings.Replace(apiErr.Message, "--read-timeout", "--upload-timeout", 1)
	}
	return data, err
}

// parseUpload reads labelled data with head.ReadLabelled, the reader the
// CLI uses for files.
func (s *Server) parseUpload(data []byte, format corpus.Format, cfg head.TrainConfig, rowName func(int) string) (*head.Labelled, error) {
	opts := cfg.ReadOptions()
	opts.MaxRows, opts.RowName = s.cfg.MaxTrainExamples, rowName
	set, err := head.ReadLabelled(bytes.NewReader(data), "the upload", format, opts)
	switch {
	case errors.Is(err, head.ErrTooManyRows):
		return nil, tooLarge("%v", err)
	case err != nil:
		return nil, badRequest("training data: %v", err)
	}
	return set, nil
}

func (s *Server) readMultipartTrain(c echo.Context, values map[string]string) (*head.Labelled, head.TrainConfig, error) {
	none := head.TrainConfig{}
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, s.cfg.UploadLimit)
	done := bodyDeadline(c, s.cfg.UploadTimeout)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, none, badRequest("reading the multipart upload: %v", err)
	}
	var data []byte
	format := corpus.FormatAuto
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, none, multipartError(err, s.cfg.UploadLimit, s.cfg.UploadTimeout)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return nil, none, multipartError(err, s.cfg.UploadLimit, s.cfg.UploadTimeout)
		}
		if part.FormName() == "file" {
			data = b
			format = formatFromFile(part.FileName(), part.Header.Get(echo.HeaderContentType))
			continue
		}
		values[part.FormName()] = string(b)
	}
	done() // read whole: lift the deadline (it stays after a failed read)
	if data == nil {
		return nil, none, badRequest("the multipart upload has no \"file\" field; attach the CSV as file=@train.csv")
	}
	cfg, err := head.ConfigFromValues(values, head.Default())
	if err != nil {
		return nil, none, badRequest("%v", err)
	}
	set, err := s.parseUpload(data, format, cfg, nil)
	return set, cfg, err
}

func multipartError(err error, limit int64, timeout time.Duration) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge("the upload is over the %d-byte limit (--upload-limit)", limit)
	}
	if e := bodyError(err, timeout); e.Code == http.StatusRequestTimeout {
		e.Message = strings.Replace(e.Message, "--read-timeout", "--upload-timeout", 1)
		return e
	}
	return badRequest("reading the multipart upload: %v", err)
}

func formatFromFile(name, contentType string) corpus.Format {
	if f, err := corpus.FormatOf(name); err == nil && f != corpus.FormatText {
		return f
	}
	switch mt, _, _ := mime.ParseMediaType(contentType); mt {
	case "text/csv":
		return corpus.FormatCSV
	case "text/tab-separated-values":
		return corpus.FormatTSV
	case "application/x-ndjson", "application/jsonl":
		return corpus.FormatJSONL
	}
	return corpus.FormatAuto // sniff
}

// readJSONTrain reads {"examples": [...], option: value, ...}. The
// examples go through the one reader as JSON Lines, one object per line,
// so their labels follow the same rules as an uploaded .jsonl file.
func (s *Server) readJSONTrain(c echo.Context, values map[string]string) (*head.Labelled, head.TrainConfig, error) {
	none := head.TrainConfig{}
	data, err := s.readUpload(c)
	if err != nil {
		return nil, none, err
	}
	var body map[string]json.RawMessage
	if err := unmarshalBody(data, &body); err != nil {
		return nil, none, err
	}
	raw, ok := body[examplesKey]
	delete(body, examplesKey)
	base, err := head.ConfigFromValues(values, head.Default())
	if err != nil {
		return nil, none, badRequest("%v", err)
	}
	cfg, err := head.DecodeConfigFields(body, base)
	if err != nil {
		return nil, none, badRequest("%v", err)
	}
	var examples []json.RawMessage
	if err := json.Unmarshal(raw, &examples); ok && err != nil {
		return nil, none, badRequest("field %q must be a list of {\"text\": ..., \"label\": ...} objects, got %s", examplesKey, kindOf(raw))
	}
	if len(examples) > s.cfg.MaxTrainExamples {
		return nil, none, tooLarge("%d examples is more than the %d allowed", len(examples), s.cfg.MaxTrainExamples)
	}
	if len(examples) == 0 {
		return nil, none, badRequest("\"examples\" is missing or empty; send [{\"text\": ..., \"label\": ...}, ...]")
	}
	var lines bytes.Buffer
	for i, ex := range examples {
		if kindOf(ex) != "an object" {
			return nil, none, badRequest("examples[%d] must be an object {\"text\": ..., \"label\": ...}, got %s", i, kindOf(ex))
		}
		lines.Write(bytes.TrimSpace(ex)) // compact already: a JSON object has no raw newline
		lines.WriteByte('\n')
	}
	set, err := s.parseUpload(lines.Bytes(), corpus.FormatJSONL, cfg, func(line int) string { return fmt.Sprintf("examples[%d]", line-1) })
	return set, cfg, err
}

// JobList is the answer of GET /v1/jobs, newest first.
type JobList struct {
	Jobs []JobView `json:"jobs"`
}

func (s *Server) handleListJobs(c echo.Context) error {
	return c.JSON(http.StatusOK, JobList{Jobs: s.jobs.list()})
}

func (s *Server) jobParam(c echo.Context) (*job, error) {
	id := c.Param("id")
	j, ok := s.jobs.get(id)
	if !ok {
		return nil, notFound("unknown job %q; GET /v1/jobs lists the recent ones", id)
	}
	return j, nil
}

func (s *Server) handleGetJob(c echo.Context) error {
	j, err := s.jobParam(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, j.snapshot())
}

// handleCancelJob cancels a queued or running job and waits briefly for it
// to stop, so the answer usually shows "canceled".
func (s *Server) handleCancelJob(c echo.Context) error {
	j, err := s.jobParam(c)
	if err != nil {
		return err
	}
	if j.state().final() {
		return conflict("job %s has already finished (%s)", j.id, j.state())
	}
	j.cancel()
	select {
	case <-j.done:
	case <-c.Request().Context().Done():
	case <-time.After(2 * time.Second):
	}
	return c.JSON(http.StatusAccepted, j.snapshot())
}
