package serve

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// The Open Inference Protocol (KServe v2) over REST, every head a model:
//
//	GET  /v2                                server metadata
//	GET  /v2/health/live, /v2/health/ready
//	GET  /v2/models/{head}[/versions/1]       model metadata
//	GET  /v2/models/{head}[/versions/1]/ready
//	POST /v2/models/{head}[/versions/1]/infer one BYTES input of texts →
//	     "label" (BYTES [N]), "score" (FP32 [N]) and "probabilities"
//	     (FP32 [N, labels], columns in the metadata's label order)
//
// Tensors travel as JSON, or in the binary tensor data extension that
// Triton's clients use by default (Inference-Header-Content-Length: the
// JSON header, then each binary tensor; BYTES elements as a 4-byte
// little-endian length and the bytes). Errors are {"error": "..."}.

// oipVersion is the one version every head has.
const oipVersion = "1"

// OIPTensor is a tensor of an inference request or response.
type OIPTensor struct {
	Name       string         `json:"name"`
	Shape      []int64        `json:"shape"`
	Datatype   string         `json:"datatype"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       any            `json:"data,omitempty"`
}

// OIPInferRequest is the body (or JSON header) of POST .../infer.
type OIPInferRequest struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []struct {
		Name       string          `json:"name"`
		Shape      []int64         `json:"shape"`
		Datatype   string          `json:"datatype"`
		Parameters map[string]any  `json:"parameters,omitempty"`
		Data       json.RawMessage `json:"data,omitempty"`
	} `json:"inputs"`
	Outputs []struct {
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters,omitempty"`
	} `json:"outputs,omitempty"`
}

// OIPInferResponse is the answer of POST .../infer.
type OIPInferResponse struct {
	ModelName    string      `json:"model_name"`
	ModelVersion string      `json:"model_version,omitempty"`
	ID           string      `json:"id,omitempty"`
	Outputs      []OIPTensor `json:"outputs"`
}

// OIPTensorMetadata describes one input or output of a model.
type OIPTensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// OIPModelMetadata is the answer of GET /v2/models/{head}; Labels (an
// extension) names the columns of "probabilities".
type OIPModelMetadata struct {
	Name     string              `json:"name"`
	Versions []string            `json:"versions"`
	Platform string              `json:"platform"`
	Inputs   []OIPTensorMetadata `json:"inputs"`
	Outputs  []OIPTensorMetadata `json:"outputs"`
	Labels   []string            `json:"labels"`
}

func (s *Server) handleOIPServer(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"name": "bertserve", "version": s.cfg.Version, "extensions": []string{"binary_tensor_data"}})
}

func (s *Server) handleOIPLive(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]bool{"live": true})
}

func (s *Server) handleOIPReady(c echo.Context) error {
	if !s.Ready() {
		return c.JSON(http.StatusServiceUnavailable, map[string]bool{"ready": false})
	}
	return c.JSON(http.StatusOK, map[string]bool{"ready": true})
}

// oipHead resolves the model (and version) of an OIP path.
func (s *Server) oipHead(c echo.Context) (*LoadedHead, error) {
	name, err := s.headParam(c)
	if err != nil {
		return nil, err
	}
	if v := c.Param("version"); v != "" && v != oipVersion {
		return nil, notFound("model %q has no version %q; its only version is %q", name, v, oipVersion)
	}
	lh, ok := s.heads.Get(name)
	if !ok {
		return nil, notFound("unknown model %q: the models are the heads, %s", name, quoteList(s.heads.Names()))
	}
	return lh, nil
}

func (s *Server) handleOIPModelReady(c echo.Context) error {
	lh, err := s.oipHead(c)
	if err != nil {
		return err
	}
	if s.embedder.Load() == nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"name": lh.Name, "ready": false})
	}
	return c.JSON(http.StatusOK, map[string]any{"name": lh.Name, "ready": true})
}

func (s *Server) handleOIPModelMetadata(c echo.Context) error {
	lh, err := s.oipHead(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, OIPModelMetadata{
		Name: lh.Name, Versions: []string{oipVersion}, Platform: "bertserve",
		Inputs: []OIPTensorMetadata{{Name: "text", Datatype: "BYTES", Shape: []int64{-1}}},
		Outputs: []OIPTensorMetadata{
			{Name: "label", Datatype: "BYTES", Shape: []int64{-1}},
			{Name: "score", Datatype: "FP32", Shape: []int64{-1}},
			{Name: "probabilities", Datatype: "FP32", Shape: []int64{-1, int64(len(lh.Labels))}},
		},
		Labels: lh.Labels,
	})
}

// handleOIPInfer classifies the texts of the request's BYTES input.
func (s *Server) handleOIPInfer(c echo.Context) error {
	lh, err := s.oipHead(c)
	if err != nil {
		return err
	}
	body, err := readBody(c, s.cfg.PayloadLimit, 0) // in memory already (readFirst)
	if err != nil {
		return err
	}
	header, blob := body, []byte(nil)
	if h := c.Request().Header.Get("Inference-Header-Content-Length"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 || n > len(body) {
			return badRequest("Inference-Header-Content-Length %q is not a length within the %d-byte body", h, len(body))
		}
		header, blob = body[:n], body[n:]
	}
	var req OIPInferRequest
	if err := unmarshalBody(header, &req); err != nil {
		return err
	}
	if len(req.Inputs) != 1 {
		return badRequest("model %q takes one input (a BYTES tensor of texts, e.g. \"text\"), got %d", lh.Name, len(req.Inputs))
	}
	in := req.Inputs[0]
	if in.Datatype != "BYTES" {
		return badRequest("input %q must be BYTES (the texts), got %s", in.Name, in.Datatype)
	}
	n := int64(1)
	for _, d := range in.Shape {
		if d < 0 {
			return badRequest("input %q has shape %v; every dimension must be known", in.Name, in.Shape)
		}
		n *= d
	}
	if len(in.Shape) == 0 || len(in.Shape) > 2 || (len(in.Shape) == 2 && in.Shape[1] != 1) {
		return badRequest("input %q has shape %v; send [N] or [N, 1] texts", in.Name, in.Shape)
	}
	var texts []string
	if size, ok := in.Parameters["binary_data_size"]; ok {
		k, ok := size.(float64)
		if !ok || k < 0 || int(k) > len(blob) {
			return badRequest("input %q: binary_data_size %v is not within the %d bytes after the JSON header", in.Name, size, len(blob))
		}
		if texts, err = decodeBytesTensor(blob[:int(k)]); err != nil {
			return badRequest("input %q: %v", in.Name, err)
		}
	} else if err := json.Unmarshal(flattenJSON(in.Data), &texts); err != nil {
		return badRequest("input %q: data must be a list of strings: %v", in.Name, err)
	}
	if int64(len(texts)) != n {
		return badRequest("input %q has shape %v (%d elements) but %d texts", in.Name, in.Shape, n, len(texts))
	}
	inputs := Inputs{Texts: texts, Set: true}
	if err := s.checkInputs(inputs, "inputs"); err != nil {
		return err
	}
	o := classifyOpts{fn: fnSoftmax, embd: embedOptions{truncate: s.truncateOption(nil)}}
	// All labels in label order, for the probabilities.
	o.embd.need = needOf([]*LoadedHead{lh})
	em, err := s.embedInputs(c, inputs, o.embd)
	if err != nil {
		return err
	}
	x := em.vectors
	if key := tailOf(lh.Head); key != "" {
		if x, err = tailVectors(em, key, lh.Name); err != nil {
			return err
		}
	} else if lh.Info.Normalize && !em.model.info.Normalized {
		x = l2normalized(x)
	}
	probs, err := headScores(lh, x, fnSoftmax)
	if err != nil {
		return err
	}
	labels := make([]string, len(probs))
	scores := make([]float32, len(probs))
	flat := make([]float32, 0, len(probs)*len(lh.Labels))
	for i, p := range probs {
		best := 0
		for j := range p {
			if p[j] > p[best] {
				best = j
			}
			flat = append(flat, float32(p[j]))
		}
		labels[i], scores[i] = lh.Labels[best], float32(p[best])
	}
	N := int64(len(probs))
	all := []OIPTensor{
		{Name: "label", Datatype: "BYTES", Shape: []int64{N}, Data: labels},
		{Name: "score", Datatype: "FP32", Shape: []int64{N}, Data: scores},
		{Name: "probabilities", Datatype: "FP32", Shape: []int64{N, int64(len(lh.Labels))}, Data: flat},
	}
	binaryAll, _ := req.Parameters["binary_data_output"].(bool)
	var outs []OIPTensor
	var binaryOut []bool
	if len(req.Outputs) == 0 {
		outs = all
		for range all {
			binaryOut = append(binaryOut, binaryAll)
		}
	}
	for _, want := range req.Outputs {
		found := false
		for _, t := range all {
			if t.Name == want.Name {
				outs, found = append(outs, t), true
				b, ok := want.Parameters["binary_data"].(bool)
				binaryOut = append(binaryOut, (ok && b) || (!ok && binaryAll))
			}
		}
		if !found {
			return badRequest("model %q has no output %q; its outputs are \"label\", \"score\" and \"probabilities\"", lh.Name, want.Name)
		}
	}
	setTimingHeaders(c, em)
	return writeOIPResponse(c, OIPInferResponse{ModelName: lh.Name, ModelVersion: oipVersion, ID: req.ID}, outs, binaryOut)
}

// writeOIPResponse sends the outputs as JSON, or with the binary ones after
// the JSON header.
func writeOIPResponse(c echo.Context, resp OIPInferResponse, outs []OIPTensor, binaryOut []bool) error {
	var blob bytes.Buffer
	for i, t := range outs {
		if !binaryOut[i] {
			resp.Outputs = append(resp.Outputs, t)
			continue
		}
		start := blob.Len()
		switch data := t.Data.(type) {
		case []string:
			for _, s := range data {
				binary.Write(&blob, binary.LittleEndian, uint32(len(s)))
				blob.WriteString(s)
			}
		case []float32:
			for _, v := range data {
				binary.Write(&blob, binary.LittleEndian, math.Float32bits(v))
			}
		}
		t.Parameters = map[string]any{"binary_data_size": blob.Len() - start}
		t.Data = nil
		resp.Outputs = append(resp.Outputs, t)
	}
	if blob.Len() == 0 {
		return c.JSON(http.StatusOK, resp)
	}
	header, err := json.Marshal(resp)
	if err != nil {
		return internalError(err, "encoding the response: %v", err)
	}
	c.Response().Header().Set("Inference-Header-Content-Length", strconv.Itoa(len(header)))
	return c.Blob(http.StatusOK, echo.MIMEOctetStream, append(header, blob.Bytes()...))
}

// decodeBytesTensor reads BYTES elements: a 4-byte little-endian length,
// then that many bytes, each.
func decodeBytesTensor(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("the binary data ends inside an element's length")
		}
		n := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, fmt.Errorf("an element of %d bytes runs past the binary data", n)
		}
		out = append(out, string(b[:n]))
		b = b[n:]
	}
	return out, nil
}

// flattenJSON turns nested lists ([[a], [b]]) into one flat list, row
// major, as the protocol allows tensor data either way.
func flattenJSON(raw json.RawMessage) []byte {
	var nested []json.RawMessage
	if err := json.Unmarshal(raw, &nested); err != nil {
		return raw
	}
	var flat []json.RawMessage
	var walk func([]json.RawMessage)
	walk = func(list []json.RawMessage) {
		for _, e := range list {
			var inner []json.RawMessage
			if len(bytes.TrimSpace(e)) > 0 && bytes.TrimSpace(e)[0] == '[' && json.Unmarshal(e, &inner) == nil {
				walk(inner)
			} else {
				flat = append(flat, e)
			}
		}
	}
	walk(nested)
	out, err := json.Marshal(flat)
	if err != nil {
		return raw
	}
	return out
}
