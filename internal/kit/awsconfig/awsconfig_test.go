package awsconfig_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"annals/internal/kit/awsconfig"
)

// A function's own variables are read instead of the process's, and every
// problem is reported at once.
func TestBuildReportsEveryProblem(t *testing.T) {
	t.Setenv("TABLE", "from-the-process")
	env := awsconfig.NewEnv(map[string]string{"QUEUE": " q1 ", "BATCH": "-3"}, nil)
	var got struct{ table, queue, opt string }
	_, err := awsconfig.Build(context.Background(), func(_ context.Context, env *awsconfig.Env, _ aws.Config) (any, error) {
		got.table, got.queue = env.Required("TABLE"), env.Required("QUEUE")
		got.opt = env.Optional("MISSING", "default")
		env.Int("BATCH", 10)
		return "handler", nil
	}, env, aws.Config{})
	if got.table != "" || got.queue != "q1" || got.opt != "default" {
		t.Errorf("read %+v, want no TABLE (the process's is not the function's), q1 trimmed, the default", got)
	}
	if err == nil || !strings.Contains(err.Error(), "missing environment variables: TABLE") || !strings.Contains(err.Error(), `BATCH="-3" is not a positive integer`) {
		t.Errorf("err = %v, want TABLE missing and BATCH malformed", err)
	}

	// Without problems the wiring's own error comes through.
	boom := errors.New("boom")
	_, err = awsconfig.Build(context.Background(), func(context.Context, *awsconfig.Env, aws.Config) (any, error) {
		return nil, boom
	}, awsconfig.NewEnv(map[string]string{}, nil), aws.Config{})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the wiring's", err)
	}
}

// The zero Env reads the process environment, as a deployed function does.
func TestZeroEnvReadsTheProcess(t *testing.T) {
	t.Setenv("TABLE", "t1")
	var env awsconfig.Env
	if v := env.Required("TABLE"); v != "t1" || env.Err() != nil {
		t.Errorf("TABLE = %q (%v), want t1", v, env.Err())
	}
	if l := env.Logger(); l == nil || env.Logger() != l {
		t.Error("the logger is not built once")
	}
}
