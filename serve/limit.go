package serve

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// ConcurrencyLimitConfig configures ConcurrencyLimit.
type ConcurrencyLimitConfig struct {
	// Max is the number of requests served at once.
	Max int
	// RetryAfter is sent with the 429 (default 1s).
	RetryAfter time.Duration
}

// ConcurrencyLimiter bounds the requests in flight. A request beyond the
// bound is refused at once with 429 and Retry-After: there is no unbounded
// queue in front of the batcher, so memory stays flat under overload.
type ConcurrencyLimiter struct {
	cfg ConcurrencyLimitConfig
	sem chan struct{}
}

// ConcurrencyLimit returns the limiter; Middleware applies it to routes.
func ConcurrencyLimit(cfg ConcurrencyLimitConfig) *ConcurrencyLimiter {
	if cfg.Max <= 0 {
		cfg.Max = 512
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	return &ConcurrencyLimiter{cfg: cfg, sem: make(chan struct{}, cfg.Max)}
}

// InFlight is the number of requests holding a slot.
func (l *ConcurrencyLimiter) InFlight() int { return len(l.sem) }

// Acquire takes a slot, or answers 429 at once; call release when done.
func (l *ConcurrencyLimiter) Acquire() (release func(), err error) {
	select {
	case l.sem <- struct{}{}:
		return func() { <-l.sem }, nil
	default:
		return nil, overloaded(l.cfg.RetryAfter,
			"the server is at its limit of %d concurrent requests (--max-concurrent-requests); retry after a second", l.cfg.Max)
	}
}

// Middleware is the echo middleware: a slot for the rest of the request.
// The server's inference routes put readFirst before it, so a slow sender
// holds none.
func (l *ConcurrencyLimiter) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		release, err := l.Acquire()
		if err != nil {
			return err
		}
		defer release()
		return next(c)
	}
}

// readFirst is the first step of every inference route: it reads the
// whole body (within --payload-limit and --read-timeout; 413 and 408
// beyond) before the route takes an inference slot, so a client that
// sends slowly holds a connection, never a slot. The handler then parses
// the body from memory.
func (s *Server) readFirst(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body == nil || r.Body == http.NoBody {
			return next(c)
		}
		data, err := readBody(c, s.cfg.PayloadLimit, s.cfg.ReadTimeout)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		r.ContentLength = int64(len(data))
		return next(c)
	}
}

// TimeoutConfig configures Timeout.
type TimeoutConfig struct {
	Timeout time.Duration
}

// Timeout gives the request's context a deadline. Handlers turn the
// deadline into 503 (still queued) or 504 (being computed); it does not
// write a response by itself, so nothing races with the handler.
func Timeout(cfg TimeoutConfig) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if cfg.Timeout <= 0 {
				return next(c)
			}
			ctx, cancel := context.WithTimeout(c.Request().Context(), cfg.Timeout)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}
