package functions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/global"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"

	"annals/internal/kit/awsconfig"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/env"
	"annals/internal/ledger/functions"
	"annals/internal/ledger/views"
	"annals/internal/localaws/awstest"
	"annals/internal/localaws/samtemplate"
)

// The template is read with every intrinsic function turned into a plain
// string that says what it refers to, so that a policy or a variable
// compares with the manifest as text:
//
//	Ref to a resource        ref:EventsTable
//	Ref to a parameter       its value in the scenario, else param:Name
//	Ref to a pseudo param    <AWS::Region>
//	Fn::GetAtt               getatt:EventsTable.Arn
//	Fn::Sub                  the string, each ${...} replaced as above
//	Fn::If                   the branch the scenario's parameters select
//
// A scenario sets parameters: the view switch is checked both ways.
type scenario struct {
	name   string
	params map[string]string
}

var scenarios = func() []scenario {
	own := scenario{"stack's own view tables", map[string]string{}}
	switched := scenario{"switched view tables", map[string]string{}}
	for _, v := range views.All {
		own.params[v.Parameter] = ""
		switched.params[v.Parameter] = v.Name + "-rebuilt"
	}
	return []scenario{own, switched}
}()

func templatePath(t *testing.T) string {
	t.Helper()
	root := awstest.ProjectRoot(t)
	return filepath.Join(root, "template.yaml")
}

func section(template any, name string) map[string]any {
	m, _ := template.(map[string]any)
	s, _ := m[name].(map[string]any)
	return s
}

func (s scenario) ref(name string, template any) string {
	if strings.HasPrefix(name, "AWS::") {
		return "<" + name + ">"
	}
	if _, ok := section(template, "Parameters")[name]; ok {
		if v, ok := s.params[name]; ok {
			return v
		}
		return "param:" + name
	}
	return "ref:" + name
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// condition evaluates a condition of the template under the scenario.
func (s scenario) condition(expr, template any) (bool, error) {
	m, ok := expr.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("condition %v: want one function", expr)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not %v", arg)
			}
			v, err := s.condition(args[0], template)
			return !v, err
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals %v", arg)
			}
			var vals [2]string
			for i, a := range args {
				switch a := a.(type) {
				case string:
					vals[i] = a
				case map[string]any:
					name, ok := a["Ref"].(string)
					if !ok {
						return false, fmt.Errorf("Fn::Equals operand %v", a)
					}
					vals[i] = s.ref(name, template)
				}
			}
			return vals[0] == vals[1], nil
		case "Condition":
			name, _ := arg.(string)
			return s.condition(section(template, "Conditions")[name], template)
		}
		return false, fmt.Errorf("condition function %s is not handled", fn)
	}
	return false, nil
}

// open reads a template through goformation under the scenario, and
// returns its resources as well, resolved the same way, for what
// goformation's model of a function does not hold (its role).
func (s scenario) open(path string) (*cloudformation.Template, map[string]any, error) {
	var problems []string
	opts := &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
		"Ref": func(_ string, in, template any) any {
			name, _ := in.(string)
			return s.ref(name, template)
		},
		"Fn::GetAtt": func(_ string, in, _ any) any {
			switch in := in.(type) {
			case string:
				return "getatt:" + in
			case []any:
				if len(in) == 2 {
					return fmt.Sprintf("getatt:%v.%v", in[0], in[1])
				}
			}
			problems = append(problems, fmt.Sprintf("Fn::GetAtt %v", in))
			return nil
		},
		"Fn::Sub": func(_ string, in, template any) any {
			str, ok := in.(string)
			if !ok {
				problems = append(problems, fmt.Sprintf("Fn::Sub %v: only the string form is handled", in))
				return nil
			}
			return subVar.ReplaceAllStringFunc(str, func(v string) string {
				name := v[2 : len(v)-1]
				if strings.Contains(name, ".") && !strings.HasPrefix(name, "AWS::") {
					return "getatt:" + name
				}
				return s.ref(name, template)
			})
		},
		"Fn::If": func(_ string, in, template any) any {
			args, _ := in.([]any)
			if len(args) != 3 {
				problems = append(problems, fmt.Sprintf("Fn::If %v", in))
				return nil
			}
			name, _ := args[0].(string)
			v, err := s.condition(section(template, "Conditions")[name], template)
			if err != nil {
				problems = append(problems, fmt.Sprintf("condition %s: %v", name, err))
			}
			if v {
				return args[1]
			}
			return args[2]
		},
	}}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	resolved, err := intrinsics.ProcessYAML(data, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("goformation: %w", err)
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("%s: %s", path, strings.Join(problems, "; "))
	}
	var doc struct{ Resources map[string]any }
	if err := json.Unmarshal(resolved, &doc); err != nil {
		return nil, nil, err
	}
	functionsOnly, err := functionsOnly(resolved)
	if err != nil {
		return nil, nil, err
	}
	tpl, err := goformation.ParseJSONWithOptions(functionsOnly, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, nil, fmt.Errorf("goformation: %w", err)
	}
	return tpl, doc.Resources, nil
}

// functionsOnly keeps the template's functions, with the properties
// goformation's typed model knows: its schema (v7.14.9) predates some that
// SAM accepts (LoggingConfig, an HttpApi's AccessLogSettings), and the
// check needs only each function's policies and environment.
func functionsOnly(resolved []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(resolved, &doc); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for f := range reflect.TypeFor[serverless.Function]().Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			known[name] = true
		}
	}
	resources, _ := doc["Resources"].(map[string]any)
	for id, r := range resources {
		r, _ := r.(map[string]any)
		if r["Type"] != "AWS::Serverless::Function" {
			delete(resources, id)
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		for k := range props {
			if !known[k] {
				delete(props, k)
			}
		}
	}
	return json.Marshal(doc)
}

// arn is what the template must grant on g's resource under s.
func (s scenario) arn(g wiring.Grant) string {
	if p, ok := viewParameters[g.Resource]; ok && s.params[p] != "" {
		return "arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:table/" + s.params[p] + g.Suffix
	}
	return "getatt:" + g.Resource + ".Arn" + g.Suffix
}

// value is what the template must set v to under s.
func (s scenario) value(v wiring.Var, tpl *cloudformation.Template) string {
	if p, ok := viewParameters[v.Ref]; ok && s.params[p] != "" {
		return s.params[p]
	}
	params := map[string]any{}
	for name := range tpl.Parameters {
		params[name] = true
	}
	return s.ref(v.Ref, map[string]any{"Parameters": params})
}

func strs(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		var out []string
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// statementLines lists policy statements as "resource action" lines. Only
// Allow statements of Effect, Action and Resource are allowed: a condition
// or a NotAction would make the lines say less than the policy does.
func statementLines(id string, statements []any, errorf func(string, ...any)) []string {
	var out []string
	for _, st := range statements {
		st, _ := st.(map[string]any)
		for k := range st {
			if k != "Effect" && k != "Action" && k != "Resource" {
				errorf("%s: statement key %s is not allowed (only Effect, Action, Resource)", id, k)
			}
		}
		if st["Effect"] != "Allow" {
			errorf("%s: statement %v is not an Allow", id, st)
		}
		actions, ok1 := strs(st["Action"])
		resources, ok2 := strs(st["Resource"])
		if !ok1 || !ok2 {
			errorf("%s: statement %v: Action and Resource must be strings or lists of strings", id, st)
		}
		for _, r := range resources {
			for _, a := range actions {
				out = append(out, r+" "+a)
			}
		}
	}
	return out
}

// logsActions are what a function needs to write its log group.
var logsActions = []string{"logs:CreateLogStream", "logs:PutLogEvents"}

// managedPolicies are the AWS managed policies SAM attaches to the role it
// makes for a function (samtranslator's pull event sources), with what
// they allow, all on every resource ("*"): AWSLambdaBasicExecutionRole
// always, and one per stream or queue event source.
var managedPolicies = map[string][]string{
	"AWSLambdaBasicExecutionRole": {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
	"AWSLambdaDynamoDBExecutionRole": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
		"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
	"AWSLambdaKinesisExecutionRole": {"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator",
		"kinesis:ListShards", "kinesis:ListStreams", "kinesis:SubscribeToShard", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
	"AWSLambdaSQSQueueExecutionRole": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
		"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
	// With Tracing: Active (in the partition aws; others get
	// AWSXRayDaemonWriteAccess, which allows the same).
	"AWSXrayWriteOnlyAccess": {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
		"xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"},
}

// tracingActions are what active tracing needs of a role of the template's
// own: Lambda sends the function's segments with it.
var tracingActions = []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}

// traced reports whether the function runs with active tracing, set on it
// or in the template's Globals.
func traced(fn *serverless.Function, g *global.Function) bool {
	mode := fn.Tracing
	if mode == nil && g != nil {
		mode = g.Tracing
	}
	return mode != nil && *mode == "Active"
}

// eventPolicies names the managed policy SAM attaches for each type of
// pull event source; push sources (HttpApi, ...) add none.
var eventPolicies = map[string]string{
	"DynamoDB": "AWSLambdaDynamoDBExecutionRole",
	"Kinesis":  "AWSLambdaKinesisExecutionRole",
	"SQS":      "AWSLambdaSQSQueueExecutionRole",
}

// streamReads are what an event source mapping needs on the one stream it
// reads (Lambda's shared-throughput polling: no enhanced fan-out, so no
// SubscribeToShard).
var streamReads = map[samtemplate.SourceKind][]string{
	samtemplate.KindDynamoDB: {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"},
	samtemplate.KindKinesis:  {"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"},
}

// sourceGrants are what the function's event source mappings need, run
// with the function's role: reading the one stream each reads, and
// sending to its on-failure queue.
func sourceGrants(function string, sources []samtemplate.EventSource) []string {
	var out []string
	for _, src := range sources {
		if src.Function != function {
			continue
		}
		arn := "getatt:" + src.Source + ".Arn"
		if src.Kind == samtemplate.KindDynamoDB {
			arn = "getatt:" + src.Source + ".StreamArn"
		}
		for _, a := range streamReads[src.Kind] {
			out = append(out, arn+" "+a)
		}
		if src.OnFailure != "" {
			out = append(out, "getatt:"+src.OnFailure+".Arn sqs:SendMessage")
		}
	}
	return out
}

// effectivePolicy lists what the function's execution role allows, as
// "resource action" lines, each with where it comes from, and whether the
// role is the template's own. A function with a Role of the template's
// gets that role's inline statements and nothing else. A function without
// one runs under the role SAM makes for it: its Policies, and what SAM
// attaches, AWS's managed policies (managedPolicies) and SendMessage on an
// SQS on-failure destination.
func effectivePolicy(id string, fn *serverless.Function, tracing bool, resources map[string]any, sources []samtemplate.EventSource,
	errorf func(string, ...any)) (lines map[string]string, ownRole bool) {
	lines = map[string]string{}
	add := func(from string, ls ...string) {
		for _, l := range ls {
			if _, ok := lines[l]; !ok {
				lines[l] = from
			}
		}
	}
	if fn.Role != nil {
		if fn.Policies != nil {
			errorf("%s: Policies is set with a Role, and SAM ignores it: write the statements in the role", id)
		}
		role, ok := strings.CutPrefix(*fn.Role, "getatt:")
		role, ok2 := strings.CutSuffix(role, ".Arn")
		r, _ := resources[role].(map[string]any)
		if !ok || !ok2 || r["Type"] != "AWS::IAM::Role" {
			errorf("%s: Role is %s, want !GetAtt <an AWS::IAM::Role of the template>.Arn", id, *fn.Role)
			return lines, true
		}
		var p struct {
			AssumeRolePolicyDocument struct{ Statement []map[string]any }
			Policies                 []struct {
				PolicyName     string
				PolicyDocument struct{ Statement []any }
			}
		}
		props, _ := r["Properties"].(map[string]any)
		for k := range props {
			if k != "AssumeRolePolicyDocument" && k != "Policies" {
				errorf("%s: %s property %s is not allowed (only AssumeRolePolicyDocument and inline Policies): "+
					"a managed policy or a boundary grants what the template does not show", id, role, k)
			}
		}
		b, _ := json.Marshal(props)
		if err := json.Unmarshal(b, &p); err != nil {
			errorf("%s: %s: %v", id, role, err)
		}
		trust := []map[string]any{{"Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}}
		if !reflect.DeepEqual(p.AssumeRolePolicyDocument.Statement, trust) {
			errorf("%s: %s trusts %v, want Lambda alone", id, role, p.AssumeRolePolicyDocument.Statement)
		}
		for _, doc := range p.Policies {
			add(role+" "+doc.PolicyName, statementLines(id, doc.PolicyDocument.Statement, errorf)...)
		}
		return lines, true
	}
	if p := fn.Policies; p != nil {
		if p.String != nil || p.IAMPolicyDocumentArray == nil {
			errorf("%s: Policies must be a list of inline policy documents", id)
		} else {
			for _, doc := range *p.IAMPolicyDocumentArray {
				if len(doc.Statement) == 0 {
					errorf("%s: a policy without statements: managed policies and SAM policy templates are not allowed, they grant more than the code uses", id)
				}
				add("its Policies", statementLines(id, doc.Statement, errorf)...)
			}
		}
	}
	attached := []string{"AWSLambdaBasicExecutionRole"}
	if tracing {
		attached = append(attached, "AWSXrayWriteOnlyAccess")
	}
	for _, name := range slices.Sorted(maps.Keys(fn.Events)) {
		if policy, ok := eventPolicies[fn.Events[name].Type]; ok {
			attached = append(attached, policy)
		}
	}
	for _, policy := range attached {
		for _, a := range managedPolicies[policy] {
			add(policy+", which SAM attaches to the role it makes", "* "+a)
		}
	}
	for _, src := range sources {
		if src.Function == id && src.OnFailure != "" {
			add("SAM, for the on-failure destination", "getatt:"+src.OnFailure+".Arn sqs:SendMessage")
		}
	}
	return lines, false
}

func diff(got, want []string) (extra, missing []string) {
	sort.Strings(got)
	sort.Strings(want)
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	return extra, missing
}

// check lists every way the template at path differs from the manifests
// under s.
func (s scenario) check(path string) []string {
	var problems []string
	errorf := func(f string, args ...any) { problems = append(problems, fmt.Sprintf(f, args...)) }
	tpl, resources, err := s.open(path)
	if err != nil {
		return []string{err.Error()}
	}
	raw, err := samtemplate.Load(path)
	if err != nil {
		return []string{err.Error()}
	}
	sources, err := raw.EventSources()
	if err != nil {
		return []string{err.Error()}
	}
	roles := map[string]string{}
	fns := tpl.GetAllServerlessFunctionResources()
	if got, want := slices.Sorted(maps.Keys(fns)), slices.Sorted(maps.Keys(functions.Manifests())); !slices.Equal(got, want) {
		errorf("template functions %v, manifests %v: every function needs a manifest, every manifest a function", got, want)
	}
	g, _ := tpl.Globals["Function"].(*global.Function)
	if g == nil || g.Environment == nil || !slices.Equal(slices.Sorted(maps.Keys(g.Environment.Variables)), env.Global) {
		errorf("Globals.Function.Environment must set exactly %v, what awsconfig reads for every function", env.Global)
	}
	for _, id := range slices.Sorted(maps.Keys(fns)) {
		fn := fns[id]
		m, ok := functions.Manifests()[id]
		if !ok {
			continue
		}
		var want []string
		for _, g := range m.Grants {
			for _, a := range g.Actions {
				want = append(want, s.arn(g)+" "+a)
			}
		}
		want = append(want, sourceGrants(id, sources)...)
		tracing := traced(fn, g)
		lines, own := effectivePolicy(id, fn, tracing, resources, sources, errorf)
		if own {
			if other, ok := roles[*fn.Role]; ok {
				errorf("%s and %s share the role %s: each function's role grants what that function uses", other, id, *fn.Role)
			}
			roles[*fn.Role] = id
			group, err := logGroup(raw, id)
			if err != nil {
				errorf("%v", err)
			}
			for _, a := range logsActions {
				want = append(want, "getatt:"+group+".Arn "+a)
			}
			if tracing {
				for _, a := range tracingActions {
					want = append(want, "* "+a)
				}
			}
		} else {
			for _, a := range managedPolicies["AWSLambdaBasicExecutionRole"] {
				want = append(want, "* "+a)
			}
			if tracing {
				for _, a := range managedPolicies["AWSXrayWriteOnlyAccess"] {
					want = append(want, "* "+a)
				}
			}
		}
		extra, missing := diff(slices.Collect(maps.Keys(lines)), want)
		for _, e := range extra {
			errorf("%s: the template grants %q (%s), which neither its manifest nor its event sources need: "+
				"narrow the policy, or add the grant to the function's manifest if the code needs it", id, e, lines[e])
		}
		for _, m := range missing {
			errorf("%s: %q is needed (by its manifest, its event sources or its logs), and the template does not grant it", id, m)
		}

		env := map[string]string{}
		if fn.Environment != nil {
			env = fn.Environment.Variables
		}
		wantEnv := map[string]string{}
		for _, v := range m.Env {
			if v.Ref != "" {
				wantEnv[v.Name] = s.value(v, tpl)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(wantEnv)) {
			if got, ok := env[name]; !ok {
				errorf("%s: the template does not set %s, which the code reads (want %s)", id, name, wantEnv[name])
			} else if got != wantEnv[name] {
				errorf("%s: the template sets %s to %s, want %s", id, name, got, wantEnv[name])
			}
		}
		for _, name := range slices.Sorted(maps.Keys(env)) {
			if _, ok := wantEnv[name]; !ok {
				errorf("%s: the template sets %s=%s, which its manifest does not list as set by the template", id, name, env[name])
			}
		}
	}
	return problems
}

// Every function of template.yaml is granted exactly what its manifest
// lists, what its event source mappings need and its logs, counting what
// SAM attaches to the roles it makes, and given exactly the variables its
// manifest says the template sets, whichever tables serve the views.
func TestTemplateMatchesManifests(t *testing.T) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			for _, p := range s.check(templatePath(t)) {
				t.Error(p)
			}
		})
	}
}

// The check above fails on a template that grants one action too many or
// one too few, grants on the wrong view table or on every stream, misses
// what an event source mapping needs, leaves a stream consumer to the
// role SAM makes, puts a managed policy on a role or shares one, sets a
// variable no code reads, or leaves one unset.
func TestTemplateCheckCatchesDrift(t *testing.T) {
	orig, err := os.ReadFile(templatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"an action too many", "                  - kinesis:PutRecords\n", "                  - kinesis:PutRecords\n                  - kinesis:PutRecord\n",
			`FanoutFunction: the template grants "getatt:EventsStream.Arn kinesis:PutRecord" (FanoutRole fanout), which neither its manifest nor its event sources need`},
		{"an action too few", "                  - kinesis:PutRecords\n", "                  - kinesis:ListShards\n",
			`FanoutFunction: "getatt:EventsStream.Arn kinesis:PutRecords" is needed`},
		{"a stream read on every stream", "                  - kinesis:ListShards\n                Resource: !GetAtt EventsStream.Arn\n",
			"                  - kinesis:ListShards\n                Resource: \"*\"\n", `ProjectorFunction: the template grants "* kinesis:GetRecords" (ProjectorRole projector)`},
		{"an event source's read missing", "                  - dynamodb:GetShardIterator\n", "",
			`FanoutFunction: "getatt:EventsTable.StreamArn dynamodb:GetShardIterator" is needed`},
		{"no send to the on-failure queue", "                Resource: !GetAtt TransfersDeadLetterQueue.Arn\n", "                Resource: !GetAtt ProjectorDeadLetterQueue.Arn\n",
			`TransfersFunction: "getatt:TransfersDeadLetterQueue.Arn sqs:SendMessage" is needed`},
		{"a stream consumer under the role SAM makes", "      Role: !GetAtt FanoutRole.Arn\n", "",
			`FanoutFunction: the template grants "* dynamodb:GetRecords" (AWSLambdaDynamoDBExecutionRole, which SAM attaches to the role it makes)`},
		{"a managed policy on a role", "      Policies:\n        - PolicyName: transfers\n",
			"      ManagedPolicyArns: [arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole]\n      Policies:\n        - PolicyName: transfers\n",
			"TransfersFunction: TransfersRole property ManagedPolicyArns is not allowed"},
		{"a role another service may take", "              Service: lambda.amazonaws.com\n", "              Service: [lambda.amazonaws.com, ec2.amazonaws.com]\n",
			"FanoutFunction: FanoutRole trusts"},
		{"logs written elsewhere", "                Resource: !GetAtt TransfersLogs.Arn\n", "                Resource: \"*\"\n",
			`TransfersFunction: the template grants "* logs:PutLogEvents"`},
		{"a role that cannot send the function's traces", "                  - xray:PutTelemetryRecords\n", "",
			`FanoutFunction: "* xray:PutTelemetryRecords" is needed`},
		{"a function without tracing", "    Tracing: Active\n", "",
			`FanoutFunction: the template grants "* xray:PutTraceSegments" (FanoutRole tracing)`},
		{"a role shared", "      Role: !GetAtt TransfersRole.Arn\n", "      Role: !GetAtt ProjectorRole.Arn\n",
			"ProjectorFunction and TransfersFunction share the role getatt:ProjectorRole.Arn"},
		{"a variable unset", "          STREAM_NAME: !Ref EventsStream\n", "          STREAM: !Ref EventsStream\n",
			"FanoutFunction: the template does not set STREAM_NAME, which the code reads"},
		{"a variable too many", "          STREAM_NAME: !Ref EventsStream\n", "          STREAM_NAME: !Ref EventsStream\n          LOCAL_TENANT: x\n",
			"FanoutFunction: the template sets LOCAL_TENANT=x, which its manifest does not list"},
		{"an archive read without its grant", "            - Effect: Allow\n              Action:\n                - s3:GetObject\n              Resource: !Sub \"${ArchiveBucket.Arn}/*\"\n", "",
			`QueryFunction: "getatt:ArchiveBucket.Arn/* s3:GetObject" is needed`},
		{"archives written anywhere", "                - s3:PutObject\n              Resource: !Sub \"${ArchiveBucket.Arn}/*\"\n", "                - s3:PutObject\n              Resource: \"*\"\n",
			`ArchiverFunction: the template grants "* s3:PutObject"`},
		{"a switched view granted on the stack's table", "Resource: !If [HistoryViewSwitched, !Sub \"arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${HistoryViewTable}\", !GetAtt HistoryTable.Arn]",
			"Resource: !GetAtt HistoryTable.Arn", `QueryFunction: the template grants "getatt:HistoryTable.Arn dynamodb:Query"`},
		{"a switched transfer view granted on the stack's table", "                  - !If [TransfersViewSwitched, !Sub \"arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TransfersViewTable}\", !GetAtt TransfersTable.Arn]\n",
			"                  - !GetAtt TransfersTable.Arn\n", `ProjectorFunction: the template grants "getatt:TransfersTable.Arn dynamodb:PutItem"`},
		{"a switched transfer view read from the stack's table", "          TRANSFERS_TABLE: !If [TransfersViewSwitched, !Ref TransfersViewTable, !Ref TransfersTable]\n",
			"          TRANSFERS_TABLE: !Ref TransfersTable\n", "the template sets TRANSFERS_TABLE to ref:TransfersTable, want transfers-rebuilt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(string(orig), c.old) {
				t.Fatalf("template.yaml no longer contains %q: update this test", c.old)
			}
			path := filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(path, []byte(strings.Replace(string(orig), c.old, c.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, s := range scenarios {
				all = append(all, s.check(path)...)
			}
			if !slices.ContainsFunc(all, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("check found %q, want a problem containing %q", all, c.want)
			}
		})
	}
}

// A wiring that reads a variable its manifest does not list, requires one
// the template leaves unset, or never reads one its manifest lists, fails
// before it serves.
func TestWiringRefusesDrift(t *testing.T) {
	newEnv := func() *awsconfig.Env {
		return awsconfig.NewEnv(map[string]string{"EVENTS_TABLE": "t", "STREAM_NAME": "s", "SKIPPED_QUEUE_URL": "q", "SNAPSHOT_EVERY": "5"}, nil)
	}
	cases := []struct {
		name, function string
		read           func(v *wiring.Vars)
		want           string
	}{
		{"unlisted", "FanoutFunction", func(v *wiring.Vars) {
			v.Required(env.StreamName)
			v.Required(env.SkippedQueue)
			v.Required(env.EventsTable)
		},
			"FanoutFunction: reads EVENTS_TABLE, which its manifest does not list"},
		{"required but unset", "TransfersFunction", func(v *wiring.Vars) { v.Required(env.EventsTable); v.Required(env.SnapshotEvery) },
			"TransfersFunction: requires SNAPSHOT_EVERY, which its manifest says the template leaves unset"},
		{"listed but unread", "TransfersFunction", func(v *wiring.Vars) { v.Required(env.EventsTable) },
			"TransfersFunction: lists SNAPSHOT_EVERY, which its wiring never reads"},
		{"no manifest", "NoSuchFunction", func(v *wiring.Vars) {}, "NoSuchFunction: no manifest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wire := wiring.Function(c.function, functions.Manifests()[c.function], func(_ context.Context, v *wiring.Vars, _ aws.Config) (any, error) {
				c.read(v)
				return func() {}, nil
			})
			h, err := wire(context.Background(), newEnv(), aws.Config{})
			if err == nil || !strings.Contains(err.Error(), c.want) || h != nil {
				t.Errorf("wire = %v, %v; want no handler and an error saying %q", h, err, c.want)
			}
		})
	}
	ok := wiring.Function("FanoutFunction", functions.Manifests()["FanoutFunction"], func(_ context.Context, v *wiring.Vars, _ aws.Config) (any, error) {
		return v.Required(env.StreamName) + v.Required(env.SkippedQueue), nil
	})
	if h, err := ok(context.Background(), newEnv(), aws.Config{}); err != nil || h != "sq" {
		t.Errorf("a wiring that reads its manifest: %v, %v", h, err)
	}
}

// viewParameters maps each view table that a rebuild can replace to the
// template parameter that names its replacement.
var viewParameters = func() map[string]string {
	out := map[string]string{}
	for _, v := range views.All {
		out[v.Table] = v.Parameter
	}
	return out
}()
