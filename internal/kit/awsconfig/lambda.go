package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"
)

// LoadLambda returns the SDK configuration of a Lambda function, read from
// the environment Lambda gives a function instead of through the SDK's
// default chain (docs/adr/0007). Retries are NewRetryer's; the HTTP client
// is the SDK's, with request bodies kept from racing their own response
// (SafeBodies).
//
//   - Region: AWS_REGION, else AWS_DEFAULT_REGION.
//   - Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//     AWS_SESSION_TOKEN, the execution role's, which Lambda sets before the
//     process starts and does not change during its life. The default chain
//     takes the same variables first and never refreshes them either; it
//     differs only in the sources a function never has (profiles, SSO, web
//     identity, containers, EC2), whose clients are about 2 MB of a
//     function's binary. Container credentials
//     (AWS_CONTAINER_CREDENTIALS_FULL_URI), which Lambda gives instead
//     under SnapStart, are not read: SnapStart does not run provided.al2023
//     zip functions.
//   - Endpoints: AWS_ENDPOINT_URL for every service, and per service
//     AWS_ENDPOINT_URL_<SERVICE ID> (DYNAMODB, DYNAMODB_STREAMS, KINESIS,
//     SQS, ...) over it; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true ignores
//     them all. Each service client resolves its own, through
//     aws.Config.ConfigSources as it does under the default configuration.
//
// A missing region or credentials, or a malformed flag, is reported here,
// at start, rather than by the first call to AWS.
func LoadLambda() (aws.Config, error) {
	var problems []string
	region := firstEnv("AWS_REGION", "AWS_DEFAULT_REGION")
	if region == "" {
		problems = append(problems, "no region: set AWS_REGION (Lambda does)")
	}
	creds := aws.Credentials{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		Source:          "EnvConfigCredentials",
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		msg := "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them from the execution role)"
		if os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "" {
			msg += "; container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI, as under SnapStart) are not read"
		}
		problems = append(problems, msg)
	}
	endpoints, err := readEndpoints()
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return aws.Config{}, errors.New(strings.Join(problems, "; "))
	}

	cfg := aws.Config{
		Region: region,
		Credentials: aws.NewCredentialsCache(credentials.StaticCredentialsProvider{
			Value:  creds,
			Source: []aws.CredentialSource{aws.CredentialSourceEnvVars},
		}),
		Retryer:       NewRetryer,
		HTTPClient:    SafeBodies(nil),
		Logger:        logging.NewStandardLogger(os.Stderr),
		ConfigSources: []any{endpoints},
	}
	if !endpoints.ignore && endpoints.all != "" {
		cfg.BaseEndpoint = aws.String(endpoints.all)
	}
	return cfg, nil
}

// envEndpoints answers the questions a service client asks of
// aws.Config.ConfigSources when it resolves its endpoint: is an endpoint
// configured for this service, and are configured endpoints ignored. The
// client looks for the methods, not for a type (the interfaces are in the
// SDK's internal/configsources), and asks only when AWS_ENDPOINT_URL is
// unset or its own variable is set: AWS_ENDPOINT_URL itself reaches it as
// aws.Config.BaseEndpoint.
type envEndpoints struct {
	all    string
	ignore bool
}

func readEndpoints() (envEndpoints, error) {
	e := envEndpoints{all: os.Getenv("AWS_ENDPOINT_URL")}
	switch v := os.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"); {
	case v == "" || strings.EqualFold(v, "false"):
	case strings.EqualFold(v, "true"):
		e.ignore = true
	default:
		return e, fmt.Errorf("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=%q is neither true nor false", v)
	}
	return e, nil
}

// GetServiceBaseEndpoint returns AWS_ENDPOINT_URL_<service id>, the id
// upper-cased with its spaces as underscores ("DynamoDB Streams":
// AWS_ENDPOINT_URL_DYNAMODB_STREAMS), as the SDK names it.
func (e envEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v := os.Getenv(serviceEndpointVar(sdkID))
	return v, v != "", nil
}

// GetIgnoreConfiguredEndpoints reports AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (e envEndpoints) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return e.ignore, e.ignore, nil
}

func serviceEndpointVar(sdkID string) string {
	return "AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
