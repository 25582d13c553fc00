package samtemplate

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The archive bucket is created versioned, closed to the public and
// encrypted, as the template declares it, and stays in the stack when it
// goes.
func TestProjectArchiveBucket(t *testing.T) {
	tpl := project(t)
	b, err := tpl.Bucket("ArchiveBucket", "b1")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(b.Create.Bucket) != "b1" {
		t.Errorf("name = %q, want b1", aws.ToString(b.Create.Bucket))
	}
	if b.Versioning == nil || b.Versioning.VersioningConfiguration.Status != "Enabled" {
		t.Errorf("versioning %+v, want Enabled", b.Versioning)
	}
	if a := b.PublicAccessBlock; a == nil || !aws.ToBool(a.PublicAccessBlockConfiguration.BlockPublicAcls) ||
		!aws.ToBool(a.PublicAccessBlockConfiguration.BlockPublicPolicy) || !aws.ToBool(a.PublicAccessBlockConfiguration.IgnorePublicAcls) ||
		!aws.ToBool(a.PublicAccessBlockConfiguration.RestrictPublicBuckets) {
		t.Errorf("public access block %+v, want every public access blocked", a)
	}
	if e := b.Encryption; e == nil || len(e.ServerSideEncryptionConfiguration.Rules) != 1 ||
		e.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != "AES256" {
		t.Errorf("encryption %+v, want AES256 by default", e)
	}
	if r := tpl.Resources["ArchiveBucket"]; r.DeletionPolicy != "Retain" {
		t.Errorf("DeletionPolicy = %q, want Retain: the archives are the only copy of the histories they hold", r.DeletionPolicy)
	}
	if _, err := tpl.Bucket("EventsTable", "x"); err == nil {
		t.Error("Bucket accepted a table")
	}
}

func TestBucketProperties(t *testing.T) {
	tpl := load(t, `
Resources:
  Plain:
    Type: AWS::S3::Bucket
  Odd:
    Type: AWS::S3::Bucket
    Properties:
      ObjectLockEnabled: true
`)
	b, err := tpl.Bucket("Plain", "p")
	if err != nil || b.Versioning != nil || b.PublicAccessBlock != nil || b.Encryption != nil {
		t.Errorf("a bucket without settings: %+v, %v", b, err)
	}
	if _, err := tpl.Bucket("Odd", "o"); err == nil || !strings.Contains(err.Error(), "ObjectLockEnabled") {
		t.Errorf("err = %v, want one naming the unknown property", err)
	}
}
