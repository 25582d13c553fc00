package functions_test

import (
	"debug/elf"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/ledger/functions"
	"annals/internal/localaws/awstest"
)

// clients are the SDK clients the functions may link, by the service name
// their package and IAM share.
var clients = map[string]reflect.Type{
	"dynamodb": reflect.TypeFor[*dynamodb.Client](),
	"kinesis":  reflect.TypeFor[*kinesis.Client](),
	"kms":      reflect.TypeFor[*kms.Client](),
	"sqs":      reflect.TypeFor[*sqs.Client](),
}

// operations lists the API operations of a client: its methods that take
// the operation's input.
func operations(client reflect.Type) []string {
	var out []string
	for m := range client.Methods() {
		if m.Type.NumIn() == 4 && m.Type.In(2).Kind() == reflect.Pointer && m.Type.In(2).Elem().Name() == m.Name+"Input" {
			out = append(out, m.Name)
		}
	}
	return out
}

var clientMethod = regexp.MustCompile(`^github\.com/aws/aws-sdk-go-v2/service/([a-z0-9]+)\.\(\*Client\)\.([A-Z][A-Za-z0-9]*)$`)

// ownRequests are the methods of the project's own clients of an AWS API,
// which send one request each without an SDK client (docs/adr/0010), by
// the IAM action of the request: the linker keeps them on the same terms
// as an SDK client's operations.
var ownRequests = map[string]string{
	"annals/internal/kit/eventstore/s3archive.(*Bucket).Get": "s3:GetObject",
	"annals/internal/kit/eventstore/s3archive.(*Bucket).Put": "s3:PutObject",
}

// transactionItems maps the members of a types.TransactWriteItem to the
// IAM action each needs: IAM has no action for the transaction itself.
var transactionItems = map[string]string{
	"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem",
	"Delete": "dynamodb:DeleteItem", "ConditionCheck": "dynamodb:ConditionCheckItem",
}

// internalOperations are operations the SDK's own middleware may call and
// no code here does: DescribeEndpoints serves endpoint discovery, which
// the DynamoDB client leaves off unless it is configured.
var internalOperations = []string{"dynamodb:DescribeEndpoints"}

// calledActions returns the IAM actions the function's code can call on
// the SDK clients. It builds the function's Lambda main (its symbols
// kept) and reads which client operations the linker kept: the linker
// keeps a method only when a call to it is reachable from main, directly
// or through an interface whose method of that name a reachable call
// uses, so an operation named in an interface but never called on any
// path is not there. A transaction needs the actions of the items it
// writes, read from the literals that build them in the packages the
// function links.
func calledActions(t *testing.T, f functions.Function) []string {
	t.Helper()
	root := awstest.ProjectRoot(t)
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bin, "./functions/"+f.Dir)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: go build: %v\n%s", f.ID, err, out)
	}
	file, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	syms, err := file.Symbols()
	if err != nil {
		t.Fatalf("%s: %v", f.ID, err)
	}
	linked := map[string]map[string]bool{}
	var out []string
	for _, s := range syms {
		if action, ok := ownRequests[s.Name]; ok {
			out = append(out, action)
			continue
		}
		m := clientMethod.FindStringSubmatch(s.Name)
		if m == nil {
			continue
		}
		client, ok := clients[m[1]]
		if !ok {
			t.Errorf("%s links the %s client, which this test does not know: add it to clients", f.ID, m[1])
			continue
		}
		if !slices.Contains(operations(client), m[2]) {
			continue // not an operation (Options, ...)
		}
		if linked[m[1]] == nil {
			linked[m[1]] = map[string]bool{}
		}
		linked[m[1]][m[2]] = true
	}
	for service, ops := range linked {
		if len(ops) == len(operations(clients[service])) {
			t.Fatalf("%s links every operation of the %s client: something reaches the client's methods by reflection, and the linker no longer tells what the code calls", f.ID, service)
		}
		for op := range ops {
			action := service + ":" + op
			switch {
			case slices.Contains(internalOperations, action):
			case action == "dynamodb:TransactWriteItems":
				out = append(out, transactionActions(t, f)...)
			case action == "dynamodb:TransactGetItems":
				out = append(out, "dynamodb:GetItem")
			default:
				out = append(out, action)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// transactionActions returns the actions of the items the function's
// packages put in a types.TransactWriteItem literal.
func transactionActions(t *testing.T, f functions.Function) []string {
	t.Helper()
	const typesPath = "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "-f", `{{if .Module}}{{if eq .Module.Path "annals"}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{"\n"}}{{end}}{{end}}`, "./functions/"+f.Dir)
	cmd.Dir = awstest.ProjectRoot(t)
	cmd.Env = append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: go list: %v", f.ID, err)
	}
	var actions []string
	fset := token.NewFileSet()
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, name := range fields[1:] {
			file, err := parser.ParseFile(fset, filepath.Join(fields[0], name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			local := ""
			for _, imp := range file.Imports {
				if path, _ := strconv.Unquote(imp.Path.Value); path == typesPath {
					local = "types"
					if imp.Name != nil {
						local = imp.Name.Name
					}
				}
			}
			if local == "" {
				continue
			}
			ast.Inspect(file, func(n ast.Node) bool {
				lit, ok := n.(*ast.CompositeLit)
				if !ok {
					return true
				}
				sel, ok := lit.Type.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "TransactWriteItem" {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); !ok || x.Name != local {
					return true
				}
				for _, e := range lit.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						t.Errorf("%s: a positional types.TransactWriteItem literal", fset.Position(lit.Pos()))
						continue
					}
					if k, ok := kv.Key.(*ast.Ident); ok {
						actions = append(actions, transactionItems[k.Name])
					}
				}
				return true
			})
		}
	}
	if len(actions) == 0 {
		t.Errorf("%s calls TransactWriteItems, but none of its packages builds a types.TransactWriteItem literal: the test cannot tell what the transactions write", f.ID)
	}
	return actions
}

// Each function's manifest grants exactly the DynamoDB, Kinesis and SQS
// actions its code can call: a grant no code path uses fails, and so
// does a call the manifest does not grant. (What the event source
// mappings need is the template's, see TestTemplateMatchesManifests.)
func TestManifestsGrantWhatTheCodeCalls(t *testing.T) {
	for _, f := range functions.All {
		t.Run(f.ID, func(t *testing.T) {
			granted := map[string]bool{}
			for _, g := range f.Manifest.Grants {
				for _, a := range g.Actions {
					granted[a] = true
				}
			}
			called := calledActions(t, f)
			if len(called) == 0 {
				t.Fatal("its code calls no operation: the binary's symbols were not read right")
			}
			for _, a := range called {
				if !granted[a] {
					t.Errorf("its code can call %s, which its manifest does not grant", a)
				}
			}
			for _, a := range slices.Sorted(maps.Keys(granted)) {
				if !slices.Contains(called, a) {
					t.Errorf("its manifest grants %s, which no code path of the function calls: remove it", a)
				}
			}
		})
	}
}
