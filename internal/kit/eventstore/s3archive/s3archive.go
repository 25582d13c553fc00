// Package s3archive keeps the event store's archives of streams in an S3
// bucket: one object per stream, written with its SHA-256 so that S3
// itself refuses a body damaged on the way.
package s3archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"annals/internal/kit/awserr"
	"annals/internal/kit/eventstore"
)

// API is the part of the S3 client the bucket uses.
type API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Bucket implements eventstore.ArchiveObjects.
type Bucket struct {
	s3   API
	name string
}

var _ eventstore.ArchiveObjects = (*Bucket)(nil)

// New returns the archive objects of a bucket.
func New(api API, bucket string) *Bucket { return &Bucket{s3: api, name: bucket} }

// Bucket names the bucket.
func (b *Bucket) Bucket() string { return b.name }

// Put writes an object whole; a resent Put writes the same bytes.
func (b *Bucket) Put(ctx context.Context, key string, body []byte) error {
	sum := sha256.Sum256(body)
	_, err := b.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:         &b.name,
		Key:            &key,
		Body:           bytes.NewReader(body),
		ContentLength:  aws.Int64(int64(len(body))),
		ContentType:    aws.String("application/x-ndjson"),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	if err != nil {
		return awserr.Write(fmt.Sprintf("put s3://%s/%s", b.name, key), err)
	}
	return nil
}

// Get reads an object whole; an absent one is eventstore.ErrNotFound.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := b.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		var missing *types.NoSuchKey
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("s3://%s/%s: %w", b.name, key, eventstore.ErrNotFound)
		}
		return nil, awserr.Read(fmt.Sprintf("get s3://%s/%s", b.name, key), err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", b.name, key, eventstore.ErrUnavailable)
	}
	return body, nil
}
