package samtemplate

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// bucketProperties is the subset of AWS::S3::Bucket the converter
// understands. Ownership controls and lifecycle rules are read and left
// to AWS: the local S3 keeps no storage classes and no ACLs to enforce.
type bucketProperties struct {
	BucketName                     any
	VersioningConfiguration        *struct{ Status string }
	PublicAccessBlockConfiguration *struct {
		BlockPublicAcls, BlockPublicPolicy, IgnorePublicAcls, RestrictPublicBuckets bool
	}
	BucketEncryption *struct {
		ServerSideEncryptionConfiguration []struct {
			ServerSideEncryptionByDefault struct {
				SSEAlgorithm   string
				KMSMasterKeyID string
			}
			BucketKeyEnabled bool
		}
	}
	OwnershipControls      any
	LifecycleConfiguration any
	Tags                   any
}

// Bucket is what creating a bucket of the template takes: the bucket, then
// its settings.
type Bucket struct {
	Create            *s3.CreateBucketInput
	Versioning        *s3.PutBucketVersioningInput
	PublicAccessBlock *s3.PutPublicAccessBlockInput
	Encryption        *s3.PutBucketEncryptionInput
}

// Bucket returns the requests that create the AWS::S3::Bucket with the
// given logical id under name, with the versioning, public access block
// and default encryption the template gives it (nil for what it does not
// set).
func (t *Template) Bucket(logicalID, name string) (Bucket, error) {
	p, err := resourceProperties[bucketProperties](t, logicalID, "AWS::S3::Bucket")
	if err != nil {
		return Bucket{}, err
	}
	b := Bucket{Create: &s3.CreateBucketInput{Bucket: aws.String(name)}}
	if v := p.VersioningConfiguration; v != nil {
		b.Versioning = &s3.PutBucketVersioningInput{Bucket: aws.String(name),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatus(v.Status)}}
	}
	if a := p.PublicAccessBlockConfiguration; a != nil {
		b.PublicAccessBlock = &s3.PutPublicAccessBlockInput{Bucket: aws.String(name), PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
			BlockPublicAcls: aws.Bool(a.BlockPublicAcls), BlockPublicPolicy: aws.Bool(a.BlockPublicPolicy),
			IgnorePublicAcls: aws.Bool(a.IgnorePublicAcls), RestrictPublicBuckets: aws.Bool(a.RestrictPublicBuckets),
		}}
	}
	if e := p.BucketEncryption; e != nil {
		var rules []types.ServerSideEncryptionRule
		for _, r := range e.ServerSideEncryptionConfiguration {
			d := r.ServerSideEncryptionByDefault
			rule := types.ServerSideEncryptionRule{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryption(d.SSEAlgorithm)},
				BucketKeyEnabled:                   aws.Bool(r.BucketKeyEnabled),
			}
			if d.KMSMasterKeyID != "" {
				rule.ApplyServerSideEncryptionByDefault.KMSMasterKeyID = aws.String(d.KMSMasterKeyID)
			}
			rules = append(rules, rule)
		}
		b.Encryption = &s3.PutBucketEncryptionInput{Bucket: aws.String(name),
			ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: rules}}
	}
	return b, nil
}
