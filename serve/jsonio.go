package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"
)

// JSONFloat is a float64 that encodes NaN and ±Inf as null instead of
// failing the whole response.
type JSONFloat float64

// MarshalJSON implements json.Marshaler.
func (f JSONFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler; null reads as NaN.
func (f *JSONFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = JSONFloat(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = JSONFloat(v)
	return nil
}

// Inputs is the "inputs" field of TEI and pipeline requests (OpenAI's
// "input"): one string or a list of strings, and on the embedding routes
// token ids in the model's vocabulary as well, as TEI's InputType: [int]
// is one input, [[int], ...] a batch, and a batch may mix strings and id
// lists. Single remembers whether one input came without a list, because
// the response shape follows it.
type Inputs struct {
	Texts []string
	// IDs[i] holds input i's token ids when it was given as ids (Texts[i]
	// is then ""); IDs is nil when every input is text.
	IDs    [][]int64
	Single bool
	// Set is true when the field was present and not null.
	Set bool
}

// HasIDs reports whether any input was given as token ids.
func (in Inputs) HasIDs() bool { return in.IDs != nil }

// UnmarshalJSON implements json.Unmarshaler.
func (in *Inputs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*in = Inputs{}
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*in = Inputs{Texts: []string{s}, Single: true, Set: true}
		return nil
	case len(b) > 0 && b[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		if len(list) > 0 && kindOf(list[0]) == "a number" {
			// [101, 7592, 102]: one input of token ids.
			ids, err := parseIDs(b, "the input")
			if err != nil {
				return err
			}
			*in = Inputs{Texts: []string{""}, IDs: [][]int64{ids}, Single: true, Set: true}
			return nil
		}
		out := Inputs{Texts: make([]string, len(list)), Set: true}
		for i, raw := range list {
			switch kindOf(raw) {
			case "a string":
				if err := json.Unmarshal(raw, &out.Texts[i]); err != nil {
					return fmt.Errorf("input %d (counting from 0) must be a string: %v", i, err)
				}
			case "a list":
				ids, err := parseIDs(raw, fmt.Sprintf("input %d (counting from 0)", i))
				if err != nil {
					return err
				}
				if out.IDs == nil {
					out.IDs = make([][]int64, len(list))
				}
				out.IDs[i] = ids
			default:
				return fmt.Errorf("input %d (counting from 0) must be a string or a list of token ids, got %s", i, kindOf(raw))
			}
		}
		*in = out
		return nil
	default:
		return fmt.Errorf("the input must be a string, a list of strings or a list of token ids, got %s", kindOf(b))
	}
}

// parseIDs reads a JSON list of token ids: whole numbers from 0 up.
func parseIDs(b []byte, what string) ([]int64, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s must be a list of token ids: %v", what, err)
	}
	ids := make([]int64, len(list))
	for j, raw := range list {
		v, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%s: token id %d must be a whole number from 0 up, got %s", what, j, clip(string(raw)))
		}
		ids[j] = v
	}
	return ids, nil
}

func kindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '[':
		return "a list"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// jsonFieldPath is the JSON path of a decoding error's field, without the
// names of embedded Go structs ("TrainOptions.epochs" is "epochs").
func jsonFieldPath(field string) string {
	parts := strings.Split(field, ".")
	keep := parts[:0]
	for _, p := range parts {
		if p != "" && !unicode.IsUpper([]rune(p)[0]) {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ".")
}

// jsonKind names what a Go type accepts in the API's own words.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a JSON value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a JSON value"
}

// jsonValueKind names the JSON kind encoding/json reports ("string",
// "number 1.5", "array", "object", "bool").
func jsonValueKind(v string) string {
	word, _, _ := strings.Cut(v, " ")
	switch word {
	case "string":
		return "a string"
	case "number":
		if v != "number" {
			return clip(v)
		}
		return "a number"
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "bool":
		return "true or false"
	}
	return clip(v)
}

// requireJSON answers 415 unless the request says its body is JSON.
func requireJSON(c echo.Context) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != echo.MIMEApplicationJSON && !isJSONSuffix(mt)) {
		return unsupportedMedia("expected Content-Type: application/json, got %q; add -H 'Content-Type: application/json'", ct)
	}
	return nil
}

func isJSONSuffix(mt string) bool {
	return len(mt) > 5 && mt[len(mt)-5:] == "+json"
}

// readBody reads at most limit bytes of the request body within the read
// timeout; a longer body is a 413, a body that does not arrive in time a
// 408. Every route reads its body through it (or bodyDeadline, for
// multipart), so no client can hold the server by sending slowly.
func readBody(c echo.Context, limit int64, timeout time.Duration) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > limit {
		return nil, tooLarge("request body of %d bytes is over the %d-byte limit (--payload-limit)", r.ContentLength, limit)
	}
	done := bodyDeadline(c, timeout)
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		// The deadline stays: net/http would otherwise wait for the rest
		// of the body (to reuse the connection) before answering.
		return nil, bodyError(err, timeout)
	}
	done()
	if int64(len(data)) > limit {
		return nil, tooLarge("request body is over the %d-byte limit (--payload-limit)", limit)
	}
	return data, nil
}

// bodyDeadline gives reading the request body until now+timeout; the
// function it returns lifts the deadline once the body is read, so a long
// computation afterwards is bounded by the request timeout only (an
// expired read deadline would cancel the request). After a failed read
// the deadline must stay, so the answer is not held back.
func bodyDeadline(c echo.Context, timeout time.Duration) func() {
	if timeout <= 0 {
		return func() {}
	}
	rc := http.NewResponseController(c.Response())
	if rc.SetReadDeadline(time.Now().Add(timeout)) != nil {
		return func() {} // a test recorder: nothing to bound
	}
	return func() { _ = rc.SetReadDeadline(time.Time{}) }
}

// bodyError maps a failed body read: a timeout is a 408.
func bodyError(err error, timeout time.Duration) *Error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		e := newError(http.StatusRequestTimeout, ErrValidation,
			"the request body did not arrive within %s (--read-timeout); send it faster or raise the limit", timeout)
		e.Err = err
		return e
	}
	return badRequest("reading the request body: %v", err)
}

// decodeJSON checks the content type, reads the body within limit and
// decodes it into v, mapping every failure to a validation error. On the
// inference routes the body is in memory already (readFirst read it within
// --read-timeout before the route took a slot).
func decodeJSON(c echo.Context, limit int64, v any) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	data, err := readBody(c, limit, 0)
	if err != nil {
		return err
	}
	return unmarshalBody(data, v)
}

func unmarshalBody(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return badRequest("malformed JSON at byte %d: %v", syn.Offset, err)
		case errors.As(err, &typ):
			// Well-formed JSON of the wrong shape: 422, as TEI (axum) answers.
			if f := jsonFieldPath(typ.Field); f != "" {
				return unprocessable("field %q must be %s, got %s", f, jsonKind(typ.Type), jsonValueKind(typ.Value)).withParam(f)
			}
			return unprocessable("the body must be a JSON object, got %s", jsonValueKind(typ.Value))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badRequest("malformed JSON: the body ends in the middle of a value")
		default:
			return unprocessable("invalid request: %v", err)
		}
	}
	if dec.More() {
		return badRequest("malformed JSON: more than one value in the body")
	}
	return nil
}
