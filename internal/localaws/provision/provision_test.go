package provision_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"annals/internal/localaws/awstest"
	"annals/internal/localaws/provision"
	"annals/internal/localaws/samtemplate"
)

// The personal data's table, key and alias, as the local stack makes them
// from the template: named so that the functions' variables resolve, and
// the key usable through its alias.
func TestAllMakesThePersonalDataKey(t *testing.T) {
	full := awstest.Template(t)
	tpl := &samtemplate.Template{Path: full.Path, Parameters: full.Parameters, Resources: map[string]samtemplate.Resource{}}
	for _, id := range []string{"SubjectKeysTable", "PersonalDataKey", "PersonalDataKeyAlias"} {
		tpl.Resources[id] = full.Resources[id]
	}
	cfg := awstest.Config(t, "KMS")
	c := provision.Clients{DynamoDB: awstest.DynamoDB(t), KMS: awstest.KMS(t)}
	prefix := awstest.Name(t, "prov")
	n, err := provision.All(t.Context(), c, tpl, cfg.Region, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(n.Tables["SubjectKeysTable"])}); err != nil {
			t.Error(err)
		}
		if _, err := c.KMS.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(n.Aliases["PersonalDataKeyAlias"])}); err != nil {
			t.Error(err)
		}
		if _, err := c.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(n.Keys["PersonalDataKey"]), PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Error(err)
		}
	})

	if got, ok := n.Ref("SubjectKeysTable"); !ok || got != prefix+"-SubjectKeysTable" {
		t.Errorf("Ref SubjectKeysTable = %q, %v", got, ok)
	}
	keyID, ok := n.Ref("PersonalDataKey")
	if !ok || keyID == "" {
		t.Fatalf("Ref PersonalDataKey = %q, %v", keyID, ok)
	}
	arn, ok := n.GetAtt("PersonalDataKey", "Arn")
	if !ok || arn != n.KeyARNs["PersonalDataKey"] {
		t.Errorf("GetAtt PersonalDataKey.Arn = %q, %v", arn, ok)
	}
	alias, ok := n.Ref("PersonalDataKeyAlias")
	if want := "alias/" + prefix + "-personal-data"; !ok || alias != want {
		t.Errorf("Ref PersonalDataKeyAlias = %q, %v; want %q", alias, ok, want)
	}
	desc, err := c.KMS.DescribeKey(t.Context(), &kms.DescribeKeyInput{KeyId: aws.String(alias)})
	if err != nil {
		t.Fatal(err)
	}
	if m := desc.KeyMetadata; aws.ToString(m.KeyId) != keyID || aws.ToString(m.Arn) != arn || m.KeySpec != types.KeySpecSymmetricDefault {
		t.Errorf("the alias names key %s (%s, %s), want %s", aws.ToString(m.KeyId), aws.ToString(m.Arn), m.KeySpec, keyID)
	}
	rot, err := c.KMS.GetKeyRotationStatus(t.Context(), &kms.GetKeyRotationStatusInput{KeyId: aws.String(keyID)})
	if err != nil || !rot.KeyRotationEnabled {
		t.Errorf("key rotation: %+v, %v; want enabled", rot, err)
	}
	if _, err := c.KMS.GenerateDataKey(t.Context(), &kms.GenerateDataKeyInput{KeyId: aws.String(alias), KeySpec: types.DataKeySpecAes256}); err != nil {
		t.Errorf("a data key through the alias: %v", err)
	}
}
