package explorer_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"annals/internal/ledger/account"
	"annals/internal/ledger/explorer"
)

func serve(t *testing.T, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(explorer.Path, explorer.Handler())
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

// The page and every file it names are served, with their types, under a
// policy that lets the page load nothing from elsewhere.
func TestThePageAndItsFiles(t *testing.T) {
	page := serve(t, "GET", explorer.Path)
	if page.Code != 200 || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %v", explorer.Path, page.Code, page.Header())
	}
	csp := page.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page.Body.String(), -1)
	types := map[string]string{".js": "text/javascript", ".css": "text/css"}
	if len(refs) < 2 {
		t.Fatalf("the page names %d files, want its script and style sheet", len(refs))
	}
	for _, ref := range refs {
		rec := serve(t, "GET", explorer.Path+ref[1])
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), types[filepath.Ext(ref[1])]) || rec.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", ref[1], rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
		}
	}
	if rec := serve(t, "POST", explorer.Path); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %d, want 405", explorer.Path, rec.Code)
	}
	if rec := serve(t, "GET", explorer.Path+"missing.js"); rec.Code != http.StatusNotFound {
		t.Errorf("a missing file: %d, want 404", rec.Code)
	}
}

// Nothing the page ships points outside its own origin: no CDN, no font
// service (the SVG namespace is a name, not a fetch).
func TestThePageFetchesNothingFromElsewhere(t *testing.T) {
	url := regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(os.DirFS("web"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join("web", path))
		if err != nil {
			return err
		}
		for _, u := range url.FindAllString(string(b), -1) {
			if u != "http://www.w3.org" {
				t.Errorf("%s names %s", path, u)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// currencies.json is the domain's table of minor units.
func TestCurrencies(t *testing.T) {
	rec := serve(t, "GET", explorer.Path+"currencies.json")
	var got map[string]int
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
		t.Fatalf("currencies.json: %d %s", rec.Code, rec.Body.String())
	}
	for code, want := range map[string]int{"EUR": 2, "JPY": 0, "BHD": 3, "USD": 2} {
		if got[code] != want {
			t.Errorf("%s has %d decimals, want %d", code, got[code], want)
		}
	}
	for code, n := range got {
		if m, ok := account.MinorUnits(account.Currency(code)); !ok || m != n {
			t.Errorf("%s: %d, the domain says %d (%v)", code, n, m, ok)
		}
	}
	if len(got) < 150 {
		t.Errorf("only %d currencies", len(got))
	}
}
