// Package explorer is the event explorer: a page, served by the local
// stack at /explorer/, that shows the ledger's accounts, their events and
// balances at any version, transfers step by step, and the pipeline's
// consumers. It is plain HTML, CSS and JavaScript embedded in the binary,
// with nothing to build and nothing fetched from elsewhere; the page reads
// only the public HTTP API and the local stack's status and journey routes
// (localstack.StatusPath, journey.Pattern).
package explorer

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"sync"

	"annals/internal/ledger/account"
)

// Path is where the page is served; its files are below it.
const Path = "/explorer/"

//go:embed web
var web embed.FS

// Handler serves the page and its files under Path (a GET or HEAD), and
// currencies.json, the minor units of every currency an account may hold.
func Handler() http.Handler {
	files, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the embedded tree always has web/
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, http.StripPrefix(Path, http.FileServerFS(files)))
	mux.HandleFunc("GET "+Path+"currencies.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(currencies())
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The page may load only its own files and talk only to this
		// origin: a sure way to know nothing comes from a CDN.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		mux.ServeHTTP(w, r)
	})
}

// currencies is {"EUR": 2, "JPY": 0, ...}: the page formats amounts with
// the domain's own table rather than the browser's, which differs for a
// few currencies.
var currencies = sync.OnceValue(func() []byte {
	digits := map[string]int{}
	code := []byte("AAA")
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			for c := 'A'; c <= 'Z'; c++ {
				code[0], code[1], code[2] = byte(a), byte(b), byte(c)
				if n, ok := account.MinorUnits(account.Currency(code)); ok {
					digits[string(code)] = n
				}
			}
		}
	}
	out, err := json.Marshal(digits)
	if err != nil {
		panic(err) // a map of strings to ints always encodes
	}
	return out
})
