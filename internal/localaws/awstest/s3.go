package awstest

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"annals/internal/kit/eventstore/s3archive"
)

// S3 returns a client for the local S3 (moto), addressing buckets by path
// as moto serves them.
func S3(t testing.TB) *s3.Client {
	t.Helper()
	return s3.NewFromConfig(Config(t, "S3"), func(o *s3.Options) {
		o.UsePathStyle = true
		// moto sends no checksums back, which the SDK would log on every read.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
}

// ArchiveBucket creates a bucket for this test alone, as Bucket does, and
// returns it as the event store's archive objects, reached the way the
// functions and the CLI reach theirs.
func ArchiveBucket(t testing.TB, prefix string) *s3archive.Bucket {
	t.Helper()
	b, err := s3archive.New(Config(t, "S3"), Bucket(t, S3(t), prefix))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Bucket creates a bucket for this test alone and deletes it, with its
// objects, when the test ends. It returns the bucket's name.
func Bucket(t testing.TB, api *s3.Client, prefix string) string {
	t.Helper()
	name := strings.ToLower(Name(t, prefix))
	if len(name) > 63 {
		name = strings.Trim(name[len(name)-63:], "-.")
	}
	if _, err := api.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		out, err := api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
		if err != nil {
			t.Errorf("list bucket %s: %v", name, err)
			return
		}
		for _, o := range out.Contents {
			if _, err := api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: o.Key}); err != nil {
				t.Errorf("delete %s/%s: %v", name, aws.ToString(o.Key), err)
			}
		}
		if _, err := api.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Errorf("delete bucket %s: %v", name, err)
		}
	})
	return name
}
