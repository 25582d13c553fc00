package samtemplate

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func TestProjectPersonalDataKey(t *testing.T) {
	tpl := project(t)
	k, err := tpl.Key("PersonalDataKey")
	if err != nil {
		t.Fatal(err)
	}
	if k.Create.KeySpec != types.KeySpecSymmetricDefault || k.Create.KeyUsage != types.KeyUsageTypeEncryptDecrypt || !k.Rotation {
		t.Errorf("PersonalDataKey = %+v, rotation %v; want a rotating symmetric key", k.Create, k.Rotation)
	}
	if aws.ToString(k.Create.Description) == "" {
		t.Error("PersonalDataKey has no description")
	}
	if r := tpl.Resources["PersonalDataKey"]; r.DeletionPolicy != "Retain" {
		t.Errorf("PersonalDataKey DeletionPolicy %q: deleting it erases every subject", r.DeletionPolicy)
	}
	a, err := tpl.Alias("PersonalDataKeyAlias", "annals.local-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Alias{Name: "alias/annals-local-1-personal-data", Target: "PersonalDataKey"}); a != want {
		t.Errorf("alias = %+v, want %+v", a, want)
	}
}

func TestAliasErrors(t *testing.T) {
	tpl := load(t, `
Resources:
  K:
    Type: AWS::KMS::Key
    Properties: {KeySpec: SYMMETRIC_DEFAULT}
  Other:
    Type: AWS::SQS::Queue
  Region:
    Type: AWS::KMS::Alias
    Properties: {AliasName: !Sub "alias/${AWS::Region}-x", TargetKeyId: !Ref K}
  NotAKey:
    Type: AWS::KMS::Alias
    Properties: {AliasName: alias/x, TargetKeyId: !Ref Other}
  Arn:
    Type: AWS::KMS::Alias
    Properties: {AliasName: alias/x, TargetKeyId: !GetAtt K.Arn}
  Literal:
    Type: AWS::KMS::Alias
    Properties: {AliasName: alias/x, TargetKeyId: !Ref K}
  Unknown:
    Type: AWS::KMS::Key
    Properties: {MultiRegion: true}
`)
	for id, want := range map[string]string{
		"Region":  "only ${AWS::StackName}",
		"NotAKey": "AWS::KMS::Key",
		"Arn":     "not a Ref to a key",
		"Literal": "",
	} {
		_, err := tpl.Alias(id, "s")
		failedAsWanted(t, err, want)
	}
	_, err := tpl.Key("Unknown")
	failedAsWanted(t, err, "MultiRegion")
}
