// Package defaultchain loads the SDK configuration of the programs a person
// runs (the CLI, the local stack, tests) through the SDK's default chain:
// profiles, SSO, web identity and the rest. Lambda functions load theirs
// with awsconfig.LoadLambda and never import this package, whose chain
// links the SSO, SSO-OIDC, STS and sign-in clients.
package defaultchain

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"annals/internal/kit/awsconfig"
)

// Load returns the SDK configuration. Endpoints and region come from the
// standard AWS variables (AWS_ENDPOINT_URL, AWS_REGION, ...), as for any SDK
// program: there is no setting of our own for local runs. Retries and the
// HTTP client are the functions' (awsconfig.NewRetryer,
// awsconfig.SafeBodies).
func Load(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryer(awsconfig.NewRetryer))
	cfg.HTTPClient = awsconfig.SafeBodies(cfg.HTTPClient)
	return cfg, err
}
