package awstest

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"annals/internal/kit/awsconfig"
	"annals/internal/localaws/provision"
)

// KMS returns a KMS client for the local server.
func KMS(t testing.TB) *kms.Client {
	t.Helper()
	return kms.NewFromConfig(Config(t, "KMS"))
}

// Key creates, for this test alone, the AWS::KMS::Key that template.yaml
// declares under logicalID, and schedules its deletion when the test ends.
// It returns the key's ARN.
func Key(t testing.TB, api *kms.Client, logicalID string) string {
	t.Helper()
	id, arn, err := provision.Key(t.Context(), api, Template(t), logicalID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		_, err := api.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
		if err != nil {
			t.Errorf("schedule deletion of key %s: %v", id, err)
		}
	})
	return arn
}

// KMSOver returns a KMS client whose requests go through w.
func KMSOver(t testing.TB, w *Wire, attempts int) *kms.Client {
	t.Helper()
	return kms.NewFromConfig(Config(t, "KMS"), func(o *kms.Options) {
		o.HTTPClient = awsconfig.SafeBodies(&http.Client{Transport: w})
		o.Retryer = retry.NewStandard(FastRetries(attempts))
	})
}

// PersonalData returns the environment of a function that seals or opens
// personal data: a subjects' keys table and a KMS key of this test's own.
func PersonalData(t testing.TB) map[string]string {
	t.Helper()
	db := DynamoDB(t)
	return map[string]string{
		"SUBJECT_KEYS_TABLE": Table(t, db, "SubjectKeysTable"),
		"PERSONAL_DATA_KEY":  Key(t, KMS(t), "PersonalDataKey"),
	}
}
