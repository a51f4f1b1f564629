package serve

import (
	"context"
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

// Middleware is the echo middleware.
func (l *ConcurrencyLimiter) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		select {
		case l.sem <- struct{}{}:
		default:
			return overloaded(l.cfg.RetryAfter,
				"the server is at its limit of %d concurrent requests (--max-concurrent-requests); retry after a second", l.cfg.Max)
		}
		defer func() { <-l.sem }()
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
