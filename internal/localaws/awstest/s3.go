package awstest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"annals/internal/kit/eventstore/s3archive"
	"annals/internal/localaws/provision"
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

// ArchiveBucket creates the template's ArchiveBucket for this test alone
// (deleted, with its objects, when the test ends), and returns it as the
// event store's archive objects, reached the way the functions and the
// CLI reach theirs.
func ArchiveBucket(t testing.TB, prefix string) *s3archive.Bucket {
	t.Helper()
	api := S3(t)
	name := provision.BucketName(Name(t, prefix))
	if err := provision.Bucket(t.Context(), api, Template(t), "ArchiveBucket", name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteBucket(t, api, name) })
	b, err := s3archive.New(Config(t, "S3"), name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deleteBucket deletes a bucket and every version of every object in it.
func deleteBucket(t testing.TB, api *s3.Client, name string) {
	ctx, cancel := cleanupContext()
	defer cancel()
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(name)}
	for {
		out, err := api.ListObjectVersions(ctx, in)
		if err != nil {
			t.Errorf("list bucket %s: %v", name, err)
			return
		}
		var ids []types.ObjectIdentifier
		for _, v := range out.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range out.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		for _, id := range ids {
			if _, err := api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: id.Key, VersionId: id.VersionId}); err != nil {
				t.Errorf("delete %s/%s: %v", name, aws.ToString(id.Key), err)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	if _, err := api.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Errorf("delete bucket %s: %v", name, err)
	}
}
