package serve

import (
	"net/http"
	"strings"
)

// Each family of routes fails in the shape its clients parse:
//
//   - Text Embeddings Inference and Hugging Face routes (/embed, /predict,
//     /tokenize, /, /heads/{name}, ...): TEI's ErrorResponse
//     {"error": "...", "error_type": "Validation"}, with TEI's codes
//     (400 malformed or empty, 413 too large, 422 unprocessable, 424 the
//     backend failed, 429 overloaded, 503 not loaded);
//   - /v1/... and /embeddings: OpenAI's {"error": {"message", "type",
//     "param", "code"}} that the OpenAI SDKs read, with OpenAI's 400 for
//     every invalid request (where TEI says 413 or 422), plus TEI's own
//     OpenAICompatErrorResponse fields "message", "code" and "error_type"
//     at the top level, so TEI clients of /v1/embeddings read it too;
//   - /v2/...: the Open Inference Protocol's {"error": "..."}.

// OpenAIErrorBody is the error answer of the /v1 routes.
type OpenAIErrorBody struct {
	Error OpenAIError `json:"error"`
	// Message, Code (the HTTP status) and ErrorType are TEI's
	// OpenAICompatErrorResponse.
	Message   string    `json:"message"`
	Code      int       `json:"code"`
	ErrorType ErrorType `json:"error_type"`
}

// OpenAIError is the "error" object of OpenAI's API.
type OpenAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// OIPErrorBody is the error answer of the Open Inference Protocol routes.
type OIPErrorBody struct {
	Error string `json:"error"`
}

// routeFamily names the error shape of a request path.
func routeFamily(path string) string {
	switch {
	case strings.HasPrefix(path, "/v1/") || path == "/v1" || path == "/embeddings":
		return "openai"
	case strings.HasPrefix(path, "/v2/") || path == "/v2":
		return "oip"
	}
	return "tei"
}

// errorResponse is the status and body an error leaves with on path.
func errorResponse(path string, e *Error) (int, any) {
	switch routeFamily(path) {
	case "openai":
		return openAIError(e)
	case "oip":
		return e.Code, OIPErrorBody{Error: e.Message}
	}
	return e.Code, ErrorBody{Error: e.Message, ErrorType: e.Type}
}

// openAIError maps an error to OpenAI's codes and types: every invalid
// request is a 400 invalid_request_error (OpenAI never answers 413 or
// 422), 401 carries code invalid_api_key, 429 is rate_limit_exceeded, and
// failures of the server are server_error.
func openAIError(e *Error) (int, OpenAIErrorBody) {
	code := e.Code
	if code == http.StatusRequestEntityTooLarge || code == http.StatusUnprocessableEntity {
		code = http.StatusBadRequest
	}
	typ, errCode := "invalid_request_error", ""
	switch {
	case code == http.StatusUnauthorized:
		errCode = "invalid_api_key"
	case code == http.StatusForbidden:
		errCode = "forbidden"
	case code == http.StatusNotFound:
		errCode = "not_found"
	case code == http.StatusTooManyRequests:
		typ, errCode = "requests", "rate_limit_exceeded"
	case code >= 500 || code == http.StatusFailedDependency:
		typ = "server_error"
	}
	body := OpenAIErrorBody{
		Error:   OpenAIError{Message: e.Message, Type: typ},
		Message: e.Message, Code: code, ErrorType: e.Type,
	}
	if e.Param != "" {
		p := e.Param
		body.Error.Param = &p
	}
	if errCode != "" {
		body.Error.Code = &errCode
	}
	return code, body
}
