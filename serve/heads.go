package serve

import (
	"errors"
	"io/fs"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// HeadView is a head as GET /v1/heads shows it.
type HeadView struct {
	Name     string    `json:"name"`
	Labels   []string  `json:"labels"`
	Dim      int       `json:"dim"`
	LoadedAt time.Time `json:"loaded_at"`
	HeadInfo
}

func viewHead(lh *LoadedHead) HeadView {
	return HeadView{Name: lh.Name, Labels: lh.Labels, Dim: lh.Head.Dim(), LoadedAt: lh.LoadedAt, HeadInfo: lh.Info}
}

// HeadList is the answer of GET /v1/heads.
type HeadList struct {
	Heads []HeadView `json:"heads"`
}

func (s *Server) handleListHeads(c echo.Context) error {
	snap := s.heads.Snapshot()
	out := HeadList{Heads: make([]HeadView, 0, len(snap))}
	for _, name := range sortedKeys(snap) {
		out.Heads = append(out.Heads, viewHead(snap[name]))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) headParam(c echo.Context) (string, error) {
	name := c.Param("name")
	if err := ValidateHeadName(name); err != nil {
		return "", badRequest("%v", err)
	}
	return name, nil
}

func (s *Server) handleGetHead(c echo.Context) error {
	name, err := s.headParam(c)
	if err != nil {
		return err
	}
	lh, ok := s.heads.Get(name)
	if !ok {
		return notFound("unknown head %q; loaded heads: %s", name, quoteList(s.heads.Names()))
	}
	return c.JSON(http.StatusOK, viewHead(lh))
}

// handleDeleteHead removes a head from the registry and from disk.
// Requests already holding it finish with it.
func (s *Server) handleDeleteHead(c echo.Context) error {
	name, err := s.headParam(c)
	if err != nil {
		return err
	}
	if j := s.jobs.activeFor(name); j != nil {
		return conflict("training job %s is writing head %q; cancel it first with DELETE /v1/jobs/%s", j.id, name, j.id)
	}
	_, loaded := s.heads.Get(name)
	stored := false
	if s.cfg.Store != nil {
		switch err := s.cfg.Store.Delete(name); {
		case err == nil:
			stored = true
		case errors.Is(err, fs.ErrNotExist):
		default:
			return backendError(err, "deleting head %q: %v", name, err)
		}
	}
	if !loaded && !stored {
		return notFound("unknown head %q; loaded heads: %s", name, quoteList(s.heads.Names()))
	}
	s.heads.Remove(name)
	s.stamps.drop(name)
	s.log.Info("head deleted", "head", name)
	return c.JSON(http.StatusOK, map[string]string{"deleted": name})
}
