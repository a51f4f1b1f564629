package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// BearerAuthConfig configures BearerAuth.
type BearerAuthConfig struct {
	// Tokens are the accepted bearer tokens; empty strings are ignored.
	Tokens []string
	// DisabledMessage decides what happens when no token is configured:
	// empty lets every request through (an open route); otherwise every
	// request is refused with 403 and this message (a disabled route).
	DisabledMessage string
	// What names the token in error messages ("admin token", "API key").
	What string
}

// BearerAuth checks "Authorization: Bearer <token>" against the configured
// tokens in constant time: every token is compared, through its SHA-256 so
// that neither length nor content leaks through timing.
func BearerAuth(cfg BearerAuthConfig) echo.MiddlewareFunc {
	var sums [][32]byte
	for _, t := range cfg.Tokens {
		if t != "" {
			sums = append(sums, sha256.Sum256([]byte(t)))
		}
	}
	what := cfg.What
	if what == "" {
		what = "token"
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if len(sums) == 0 {
				if cfg.DisabledMessage == "" {
					return next(c)
				}
				return newError(http.StatusForbidden, ErrValidation, "%s", cfg.DisabledMessage)
			}
			given, ok := bearerToken(c.Request())
			if !ok {
				return newError(http.StatusUnauthorized, ErrValidation,
					"missing %s: send the header 'Authorization: Bearer <%s>'", what, what)
			}
			sum := sha256.Sum256([]byte(given))
			match := 0
			for i := range sums {
				match |= subtle.ConstantTimeCompare(sum[:], sums[i][:])
			}
			if match != 1 {
				return newError(http.StatusUnauthorized, ErrValidation, "wrong %s", what)
			}
			return next(c)
		}
	}
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get(echo.HeaderAuthorization)
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
