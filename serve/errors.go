package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// ErrorType is the machine-readable kind of an API error, spelled as Text
// Embeddings Inference's server sends them (its OpenAPI document's
// ErrorType enum): capitalised, and no others.
type ErrorType string

// The error types a client can see in the "error_type" field.
const (
	// ErrValidation: the request was malformed, too large, named something
	// that does not exist, or lacked a valid token.
	ErrValidation ErrorType = "Validation"
	// ErrEmpty: the batch, or one of its inputs, was empty (400).
	ErrEmpty ErrorType = "Empty"
	// ErrTokenizer: the input could not be tokenized as given.
	ErrTokenizer ErrorType = "Tokenizer"
	// ErrOverloaded: the server is at capacity; retry after Retry-After.
	ErrOverloaded ErrorType = "Overloaded"
	// ErrBackend: the encoder or a head failed or timed out (424, as TEI;
	// 500 for a bug of ours).
	ErrBackend ErrorType = "Backend"
	// ErrUnhealthy: the model is not loaded (yet): 503.
	ErrUnhealthy ErrorType = "Unhealthy"
)

// Error is the one error type handlers return. The server's error handler
// writes it as {"error": Message, "error_type": Type} with status Code and,
// when RetryAfter is set, a Retry-After header.
type Error struct {
	Code    int
	Type    ErrorType
	Message string
	// Param names the request field at fault ("input", "dimensions"), for
	// OpenAI's error.param; empty when no one field is.
	Param      string
	RetryAfter time.Duration
	// Err is the underlying cause, kept for logs and errors.Is; it is not
	// sent to the client beyond what Message says.
	Err error
	// expected marks answers that are part of normal operation and not
	// worth a log line above debug: /ready while the model loads, 429 under
	// overload (counted by a rate-limited line instead).
	expected bool
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s (%d %s): %v", e.Message, e.Code, e.Type, e.Err)
	}
	return fmt.Sprintf("%s (%d %s)", e.Message, e.Code, e.Type)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorBody is the JSON shape of an error on the Text Embeddings Inference
// and Hugging Face routes (TEI's ErrorResponse). /v1 routes answer
// OpenAIErrorBody, /v2 routes OIPErrorBody.
type ErrorBody struct {
	Error     string    `json:"error"`
	ErrorType ErrorType `json:"error_type"`
}

// newError builds an API error. String arguments are clipped (clip), so a
// message never echoes more than a bounded part of what a client sent.
func newError(code int, typ ErrorType, format string, args ...any) *Error {
	return &Error{Code: code, Type: typ, Message: fmt.Sprintf(format, clipArgs(args)...)}
}

func badRequest(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, ErrValidation, format, args...)
}

func tooLarge(format string, args ...any) *Error {
	return newError(http.StatusRequestEntityTooLarge, ErrValidation, format, args...)
}

func notFound(format string, args ...any) *Error {
	return newError(http.StatusNotFound, ErrValidation, format, args...)
}

func unsupportedMedia(format string, args ...any) *Error {
	return newError(http.StatusUnsupportedMediaType, ErrValidation, format, args...)
}

func conflict(format string, args ...any) *Error {
	return newError(http.StatusConflict, ErrValidation, format, args...)
}

func unprocessable(format string, args ...any) *Error {
	return newError(http.StatusUnprocessableEntity, ErrValidation, format, args...)
}

func overloaded(retry time.Duration, format string, args ...any) *Error {
	e := newError(http.StatusTooManyRequests, ErrOverloaded, format, args...)
	e.RetryAfter = retry
	e.expected = true
	return e
}

// emptyInput is TEI's 400 for an empty batch or an empty input.
func emptyInput(format string, args ...any) *Error {
	return newError(http.StatusBadRequest, ErrEmpty, format, args...)
}

// backendError is a failure of the encoder or a head: 424 Failed
// Dependency, as TEI answers when its model backend fails.
func backendError(err error, format string, args ...any) *Error {
	e := newError(http.StatusFailedDependency, ErrBackend, format, args...)
	e.Err = err
	return e
}

// internalError is a bug of ours (a panic, an impossible state): 500.
func internalError(err error, format string, args ...any) *Error {
	e := newError(http.StatusInternalServerError, ErrBackend, format, args...)
	e.Err = err
	return e
}

// withParam records the request field an error is about.
func (e *Error) withParam(p string) *Error {
	e.Param = p
	return e
}

func notReady() *Error {
	e := newError(http.StatusServiceUnavailable, ErrUnhealthy, "the model is still loading; retry when GET /ready returns 200")
	e.RetryAfter = time.Second
	e.expected = true
	return e
}

// contextError turns a cancelled or timed-out request context into the
// matching API error: 503 when the request never left the queue, 504 when
// the encoder was already working on it.
func contextError(err error, timeout time.Duration, started bool) *Error {
	if errors.Is(err, context.DeadlineExceeded) {
		if !started {
			e := newError(http.StatusServiceUnavailable, ErrOverloaded,
				"request timed out after %s waiting for the encoder; retry later or raise --request-timeout", timeout)
			e.RetryAfter = time.Second
			e.Err = err
			return e
		}
		e := newError(http.StatusGatewayTimeout, ErrBackend,
			"request timed out after %s while the encoder was working on it; send fewer or shorter inputs or raise --request-timeout", timeout)
		e.Err = err
		return e
	}
	// The client went away. Nobody reads this response; 499 is what nginx
	// logs for it and keeps the metrics honest.
	e := newError(StatusClientClosedRequest, ErrValidation, "client closed the request")
	e.Err = err
	return e
}

// StatusClientClosedRequest is recorded for requests whose client
// disconnected before the answer was ready (nginx's convention).
const StatusClientClosedRequest = 499

// errorHandler is the echo.HTTPErrorHandler of the server: every error,
// ours or echo's (no route, wrong method, body limit), leaves as ErrorBody.
func errorHandler(log func(c echo.Context, err error)) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		apiErr := toAPIError(err)
		if (apiErr.Code == http.StatusInternalServerError || apiErr.Code == http.StatusFailedDependency) && log != nil {
			log(c, err) // a failure of ours; 503/504 are logged as requests
		}
		if apiErr.RetryAfter > 0 {
			secs := int((apiErr.RetryAfter + time.Second - 1) / time.Second)
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		}
		if apiErr.Code == http.StatusUnauthorized {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="bertserve"`)
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(apiErr.Code)
			return
		}
		code, body := errorResponse(c.Request().URL.Path, apiErr)
		_ = c.JSON(code, body)
	}
}

// toAPIError resolves any error into an *Error.
func toAPIError(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && s != "" {
			msg = s
		}
		typ := ErrValidation
		switch {
		case he.Code == http.StatusTooManyRequests:
			typ = ErrOverloaded
		case he.Code >= 500:
			typ = ErrBackend
		}
		return &Error{Code: he.Code, Type: typ, Message: msg, Err: err}
	}
	return internalError(err, "internal error: %v", err)
}
