package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// TrainJSONRequest is the application/json body of POST
// /v1/heads/{name}/train: examples inline, options beside them.
type TrainJSONRequest struct {
	Examples []TrainExample `json:"examples"`
	TrainOptions
}

// TrainExample is one labelled text.
type TrainExample struct {
	Text  string          `json:"text"`
	Label json.RawMessage `json:"label"`
}

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
	set, opts, err := s.readTrainRequest(c)
	if err != nil {
		return err
	}
	if err := set.Check(minPerClass); err != nil {
		return unprocessable("%v", err)
	}
	j, err := s.jobs.submit(name, set, opts)
	if err != nil {
		if errors.Is(err, errJobsClosed) {
			return newError(http.StatusServiceUnavailable, ErrBackend, "the server is shutting down")
		}
		return err
	}
	url := "/v1/jobs/" + j.id
	c.Response().Header().Set(echo.HeaderLocation, url)
	s.log.Info("training job queued", "job", j.id, "head", name, "examples", len(set.Texts))
	return c.JSON(http.StatusAccepted, TrainAccepted{ID: j.id, Head: name, State: JobQueued, URL: url})
}

func (s *Server) readTrainRequest(c echo.Context) (*TrainSet, TrainOptions, error) {
	var none TrainOptions
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return nil, none, unsupportedMedia("missing or bad Content-Type %q: send text/csv, text/tab-separated-values, application/x-ndjson, application/json or multipart/form-data", ct)
	}
	if mt == echo.MIMEMultipartForm {
		return s.readMultipartTrain(c)
	}
	format := ""
	switch mt {
	case "text/csv":
		format = FormatCSV
	case "text/tab-separated-values":
		format = FormatTSV
	case "application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		format = FormatJSONL
	case "text/plain":
	case echo.MIMEApplicationJSON:
		return s.readJSONTrain(c)
	default:
		return nil, none, unsupportedMedia("unsupported Content-Type %q for training data: send text/csv, text/tab-separated-values, application/x-ndjson, application/json or multipart/form-data", ct)
	}
	values := map[string]string{}
	for k, v := range c.QueryParams() {
		values[k] = v[len(v)-1]
	}
	opts, err := parseTrainOptions(values)
	if err != nil {
		return nil, none, badRequest("%v", err)
	}
	data, err := s.readUpload(c)
	if err != nil {
		return nil, none, err
	}
	set, err := s.parseUpload(data, format, opts)
	return set, opts, err
}

func (s *Server) readUpload(c echo.Context) ([]byte, error) {
	data, err := readBody(c, s.cfg.UploadLimit)
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.Code == http.StatusRequestEntityTooLarge {
		return nil, tooLarge("the upload is over the %d-byte limit (--upload-limit)", s.cfg.UploadLimit)
	}
	return data, err
}

func (s *Server) parseUpload(data []byte, format string, opts TrainOptions) (*TrainSet, error) {
	set, err := ParseTrainSet(data, format, opts.TextCol, opts.LabelCol, s.cfg.MaxTrainExamples)
	switch {
	case errors.Is(err, ErrTooManyExamples):
		return nil, tooLarge("%v", err)
	case err != nil:
		return nil, badRequest("training data: %v", err)
	}
	return set, nil
}

func (s *Server) readMultipartTrain(c echo.Context) (*TrainSet, TrainOptions, error) {
	var none TrainOptions
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, s.cfg.UploadLimit)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, none, badRequest("reading the multipart upload: %v", err)
	}
	values := map[string]string{}
	var data []byte
	format := ""
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, none, multipartError(err, s.cfg.UploadLimit)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return nil, none, multipartError(err, s.cfg.UploadLimit)
		}
		if part.FormName() == "file" {
			data = b
			format = formatFromFile(part.FileName(), part.Header.Get(echo.HeaderContentType))
			continue
		}
		values[part.FormName()] = string(b)
	}
	if data == nil {
		return nil, none, badRequest("the multipart upload has no \"file\" field; attach the CSV as file=@train.csv")
	}
	opts, err := parseTrainOptions(values)
	if err != nil {
		return nil, none, badRequest("%v", err)
	}
	set, err := s.parseUpload(data, format, opts)
	return set, opts, err
}

func multipartError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge("the upload is over the %d-byte limit (--upload-limit)", limit)
	}
	return badRequest("reading the multipart upload: %v", err)
}

func formatFromFile(name, contentType string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return FormatCSV
	case ".tsv", ".tab":
		return FormatTSV
	case ".jsonl", ".ndjson":
		return FormatJSONL
	}
	switch mt, _, _ := mime.ParseMediaType(contentType); mt {
	case "text/csv":
		return FormatCSV
	case "text/tab-separated-values":
		return FormatTSV
	case "application/x-ndjson", "application/jsonl":
		return FormatJSONL
	}
	return "" // sniff
}

func (s *Server) readJSONTrain(c echo.Context) (*TrainSet, TrainOptions, error) {
	var none TrainOptions
	data, err := s.readUpload(c)
	if err != nil {
		return nil, none, err
	}
	var req TrainJSONRequest
	if err := unmarshalBody(data, &req); err != nil {
		return nil, none, err
	}
	if err := req.TrainOptions.validate(); err != nil {
		return nil, none, badRequest("%v", err)
	}
	if len(req.Examples) > s.cfg.MaxTrainExamples {
		return nil, none, tooLarge("%d examples is more than the %d allowed", len(req.Examples), s.cfg.MaxTrainExamples)
	}
	if len(req.Examples) == 0 {
		return nil, none, badRequest("\"examples\" is empty; send [{\"text\": ..., \"label\": ...}, ...]")
	}
	set := &TrainSet{}
	for i, ex := range req.Examples {
		if len(bytes.TrimSpace(ex.Label)) == 0 {
			return nil, none, badRequest("examples[%d] has no label", i)
		}
		label, err := jsonLabel(ex.Label)
		if err != nil {
			return nil, none, badRequest("examples[%d].label: %v", i, err)
		}
		if err := set.add(ex.Text, label, i+1, 0); err != nil {
			return nil, none, badRequest("examples[%d]: %v", i, err)
		}
	}
	return set, req.TrainOptions, nil
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
