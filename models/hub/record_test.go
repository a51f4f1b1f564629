package hub

import (
	"net/http"
	"sync"
)

var recordMu sync.Mutex

// recordPaths wraps a handler to log request paths.
func recordPaths(next http.Handler, seen *[]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recordMu.Lock()
		*seen = append(*seen, r.URL.EscapedPath())
		recordMu.Unlock()
		next.ServeHTTP(w, r)
	})
}
