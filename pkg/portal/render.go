package portal

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// page is what every template gets.
type page struct {
	Title  string   // <title> and the heading
	CSRF   string   // the session's CSRF token; "" when signed out
	Crumbs []crumb  // breadcrumb above the heading
	Flash  string   // a confirmation after a change
	Error  string   // an error about the whole page
	Reg    *regView // set on a registry's blades: the left menu
	Blade  string   // the active blade: overview, keys, networking
	Body   any      // the page's own data
}

type crumb struct{ Label, URL string }

var pageNames = []string{"signin", "registries", "create", "confirm", "overview", "keys", "networking", "error"}

// parsePages builds one template set per page: the layout plus the page's
// own "content".
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(template.FuncMap{
		"registryURL": registryURL,
		"groupURL":    groupURL,
		"timeUTC":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		"plus1":       func(i int) int { return i + 1 },
	}).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err == nil {
			t, err = t.ParseFS(templateFS, "templates/"+name+".html")
		}
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// render executes a page into a buffer first, so a template error never
// leaves half a page on the wire.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, status int, name string, data page) {
	var buf bytes.Buffer
	if err := p.pages[name].ExecuteTemplate(&buf, "layout.html", data); err != nil {
		p.log.Error("portal template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// staticHandler serves the stylesheet and the script; they may be cached.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(Prefix+"/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
}
