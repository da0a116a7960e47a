package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// contentSecurityPolicy allows the page's own script, style and images and
// nothing else: no inline script, handler or style attribute, no other
// origin to talk to, no framing (clickjacking), no form posts elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders go on every page and static file.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// choice is one option of a select.
type choice struct {
	Value, Label string
	// Formats the choice applies to (compressions), space-separated.
	Formats string
}

// pageData is what the template renders: the choices the dialog offers,
// never data about an organization (the script fetches that with the
// caller's credentials).
type pageData struct {
	View         string // "exports" or "operations"
	Resources    []choice
	Formats      []choice
	Compressions []choice
	States       []choice
	Static       func(string) string
}

var (
	resources = []choice{
		{Value: "developers", Label: "Developers"},
		{Value: "apps", Label: "Apps"},
		{Value: "apiproducts", Label: "API products"},
	}
	formatChoices = []choice{
		{Value: "json", Label: "JSON"},
		{Value: "ndjson", Label: "NDJSON (one record a line)"},
		{Value: "csv", Label: "CSV (spreadsheets)"},
		{Value: "parquet", Label: "Parquet (analytics)"},
	}
	compressionChoices = []choice{
		{Value: "", Label: "Default (none; zstd for Parquet)", Formats: "json ndjson csv parquet"},
		{Value: "none", Label: "None", Formats: "json ndjson csv parquet"},
		{Value: "gzip", Label: "gzip", Formats: "json ndjson csv parquet"},
		{Value: "zstd", Label: "zstd", Formats: "parquet"},
		{Value: "snappy", Label: "Snappy", Formats: "parquet"},
	}
	// stateChoices are the operations page's state filter: values are
	// List filters (see operations.FilterHelp).
	stateChoices = []choice{
		{Value: "", Label: "Any state"},
		{Value: "done=false", Label: "Running or waiting"},
		{Value: "metadata.state=IN_PROGRESS", Label: "Running"},
		{Value: "done=true AND error.code=0", Label: "Succeeded"},
		{Value: "error.code=1", Label: "Cancelled"},
		{Value: "done=true", Label: "Finished (any outcome)"},
	}
)

func parsePages() (*template.Template, error) {
	t, err := template.New("").Funcs(template.FuncMap{"static": staticURL}).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: parsing the page templates: %w", err)
	}
	return t, nil
}

// page renders the console with view shown first.
func (c *Console) page(view string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		data := pageData{View: view, Resources: resources, Formats: formatChoices, Compressions: compressionChoices, States: stateChoices}
		if err := c.pages.ExecuteTemplate(&buf, "console.html", data); err != nil {
			c.log.ErrorContext(r.Context(), "console: rendering the page", "error", err)
			http.Error(w, "the console page could not be rendered", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		securityHeaders(h)
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.Write(buf.Bytes())
	}
}

// staticURL names a static file with its content hash, so that a new
// binary's page never runs an old cached script.
func staticURL(name string) string {
	b, err := fs.ReadFile(assets, "assets/"+name)
	if err != nil {
		return "/console/static/" + name
	}
	sum := sha256.Sum256(b)
	return "/console/static/" + name + "?v=" + hex.EncodeToString(sum[:6])
}

var staticTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

// serveStatic serves the embedded script, style sheet and icon.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	ext := name[strings.LastIndexByte(name, '.')+1:]
	typ, ok := staticTypes["."+ext]
	if !ok || strings.HasSuffix(name, ".html") {
		notFoundPage(w, r)
		return
	}
	b, err := fs.ReadFile(assets, "assets/"+name)
	if err != nil {
		notFoundPage(w, r)
		return
	}
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Type", typ)
	h.Set("Cache-Control", "no-cache")
	sum := sha256.Sum256(b)
	h.Set("ETag", `"`+hex.EncodeToString(sum[:12])+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

func notFoundPage(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: the console's pages are read with GET; the API is under /v1/", http.StatusMethodNotAllowed)
		return
	}
	http.Error(w, "not found: the export console is at / and /operations; the API is under /v1/", http.StatusNotFound)
}
