package journey

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Path is where the local stack answers a command's journey, its
// correlation id appended: a route of the local stack only, which a
// deployed stack does not have.
const Path = "/local/journey/"

// Pattern is Path's ServeMux pattern, for localstack.Config.Pages.
const Pattern = "GET " + Path + "{correlationId}"

// Answer is the body of GET Pattern: the journey, and what was read to
// find it.
type Answer struct {
	Journey
	Read string `json:"read"`
}

// Handler answers GET Pattern with the journey of the command whose
// correlation id the path ends with, read from the log file at logPath
// (the one the local stack writes) at each request: 400 for what is not
// a correlation id, 404 when no line names it. It only reads.
func Handler(logPath string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		corr := r.PathValue("correlationId")
		if !CorrelationIDs.MatchString(corr) {
			answer(w, http.StatusBadRequest, map[string]string{"message": fmt.Sprintf("%q is not a correlation id (1 to 128 letters, digits and ._:-)", corr)})
			return
		}
		lines, read, err := ReadFile(logPath, corr)
		if err != nil {
			answer(w, http.StatusInternalServerError, map[string]string{"message": "the functions' log: " + err.Error()})
			return
		}
		if len(lines) == 0 {
			answer(w, http.StatusNotFound, map[string]string{"message": fmt.Sprintf("no line of %s names correlation id %s", logPath, corr), "read": read})
			return
		}
		answer(w, http.StatusOK, Answer{Journey: Assemble(corr, lines), Read: read})
	})
}

func answer(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"message":"Internal Server Error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
