package localstack_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"annals/internal/kit/awsconfig"
	"annals/internal/kit/projection"
	"annals/internal/kit/projection/viewtable"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/localstack"
)

// GET /local/status reports every consumer of the template, its dead
// letters and the views' quarantines; the stack's own routes and pages
// answer before the template's, and anything else reaches the template's
// routes untouched. A deployed stack has none of them: the template
// declares no such route.
func TestStatusRouteAndPages(t *testing.T) {
	t.Parallel()
	tpl := awstest.Template(t)
	// Every function answers an HTTP event with its own name.
	wires := map[string]awsconfig.Wire{}
	for _, fn := range tpl.Functions() {
		wires[fn] = func(context.Context, *awsconfig.Env, aws.Config) (any, error) {
			return func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: fn + " " + ev.RawPath}, nil
			}, nil
		}
	}
	s, err := localstack.Start(t.Context(), localstack.Config{
		Template:  tpl,
		AWS:       awstest.Config(t, "DYNAMODB"),
		Prefix:    awstest.Name(t, "status"),
		Addr:      "127.0.0.1:0",
		Tenant:    "local",
		Actor:     "local-user",
		Log:       slog.New(slog.DiscardHandler),
		Functions: wires,
		Views:     map[string]string{"history": "HistoryTable", "ghost": "NoSuchTable"},
		Pages: map[string]http.Handler{"GET /page/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "page "+r.URL.Path)
		}), "GET /item/{id}": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "item "+r.PathValue("id"))
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	report := func() localstack.StatusReport {
		t.Helper()
		status, header, body := send(t, "GET", s.URL+localstack.StatusPath)
		var r localstack.StatusReport
		if status != 200 || !strings.HasPrefix(header.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(body), &r) != nil {
			t.Fatalf("GET %s: %d %v %s", localstack.StatusPath, status, header, body)
		}
		return r
	}
	r := report()
	sources, err := tpl.EventSources()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Consumers) != len(sources) || len(sources) == 0 {
		t.Fatalf("consumers %+v, want the template's %d sources", r.Consumers, len(sources))
	}
	for i, c := range r.Consumers {
		if c.Function != sources[i].Function || c.Event != sources[i].Event || c.Kind != string(sources[i].Kind) || c.Source == "" {
			t.Errorf("consumer %d is %+v, want %s/%s", i, c, sources[i].Function, sources[i].Event)
		}
		if c.DeadLetters == nil || *c.DeadLetters != 0 {
			t.Errorf("%s: dead letters %v, want its OnFailure queue's 0", c.Function, c.DeadLetters)
		}
	}
	if len(r.Quarantined) != 0 || len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "view ghost") {
		t.Errorf("quarantined %+v, errors %q; want none, and one error naming the view without a table", r.Quarantined, r.Errors)
	}

	item := map[string]types.AttributeValue{"pk": viewtable.S("local#acc-1"), "sk": viewtable.N(0)}
	viewtable.SetPosition(item, projection.Position{Version: 3, Quarantine: &projection.Quarantine{Reason: "poison", At: 4}})
	awstest.PutItems(t, awstest.DynamoDB(t), s.Names.Tables["HistoryTable"], []map[string]types.AttributeValue{item})
	want := localstack.Quarantined{View: "history", Stream: "local#acc-1", Version: 3, At: 4, Reason: "poison"}
	if r := report(); len(r.Quarantined) != 1 || r.Quarantined[0] != want {
		t.Errorf("quarantined %+v, want %+v", r.Quarantined, want)
	}

	for _, c := range []struct{ method, path, want string }{
		{"GET", "/page/a", "page /page/a"},
		{"GET", "/item/i-1", "item i-1"},
		// Not a local route: the template's, as API Gateway would route it.
		{"POST", localstack.StatusPath, "CommandFunction " + localstack.StatusPath},
		{"GET", localstack.StatusPath + "/more", "CommandFunction " + localstack.StatusPath + "/more"},
		{"GET", "/page/../accounts/a", "CommandFunction /page/../accounts/a"},
		{"GET", "/accounts/a", "QueryFunction /accounts/a"},
	} {
		req, err := http.NewRequestWithContext(t.Context(), c.method, s.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = c.path // sent as written, dot segments and all
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != c.want {
			t.Errorf("%s %s = %d %q, want %q", c.method, c.path, resp.StatusCode, body, c.want)
		}
	}

	routes, err := tpl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if strings.HasPrefix(r.Path, "/local") || strings.HasPrefix(r.Path, "/explorer") {
			t.Errorf("template.yaml routes %s: the local stack's own routes must not reach AWS", r.Key())
		}
	}
}

func send(t *testing.T, method, url string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}
