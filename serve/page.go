package serve

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// pageHTML is the whole web page: HTML, CSS and JavaScript in one file,
// no external assets, so it works offline and behind any proxy.
//
//go:embed web/index.html
var pageHTML []byte

func (s *Server) handlePage(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, echo.MIMETextHTMLCharsetUTF8, pageHTML)
}
