// Package provision creates the tables, streams, queues, buckets and keys
// template.yaml declares, under names of the caller's choosing, on whatever endpoint the
// SDK is configured for: tests create theirs per test, the local stack
// creates the whole set once.
package provision

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"annals/internal/localaws/samtemplate"
)

// waitFor bounds how long a created table or stream may take to be active.
const waitFor = time.Minute

// Table creates the table declared under logicalID, named name, waits until
// it is active and turns its time to live on. Deletion protection is off:
// a table made here is for a test or a local run, and must be deletable.
func Table(ctx context.Context, db *dynamodb.Client, tpl *samtemplate.Template, logicalID, name string) error {
	def, err := tpl.Table(logicalID, name)
	if err != nil {
		return err
	}
	def.Create.DeletionProtectionEnabled = aws.Bool(false)
	if _, err := db.CreateTable(ctx, def.Create); err != nil {
		return fmt.Errorf("create table %s (%s): %w", name, logicalID, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 500 * time.Millisecond
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, waitFor); err != nil {
		return fmt.Errorf("table %s did not become active: %w", name, err)
	}
	if def.TTLAttribute != "" {
		_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(name),
			TimeToLiveSpecification: &dtypes.TimeToLiveSpecification{
				AttributeName: aws.String(def.TTLAttribute),
				Enabled:       aws.Bool(true),
			},
		})
		if err != nil {
			return fmt.Errorf("enable TTL on %s: %w", name, err)
		}
	}
	return nil
}

// Stream creates the Kinesis stream declared under logicalID, named name,
// and waits until it is active.
func Stream(ctx context.Context, k *kinesis.Client, tpl *samtemplate.Template, logicalID, name string) error {
	in, err := tpl.Stream(logicalID, name)
	if err != nil {
		return err
	}
	if _, err := k.CreateStream(ctx, in); err != nil {
		return fmt.Errorf("create stream %s (%s): %w", name, logicalID, err)
	}
	waiter := kinesis.NewStreamExistsWaiter(k, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 20 * time.Millisecond
		o.MaxDelay = 500 * time.Millisecond
	})
	if err := waiter.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, waitFor); err != nil {
		return fmt.Errorf("stream %s did not become active: %w", name, err)
	}
	return nil
}

// Queue creates the SQS queue declared under logicalID, named name, and
// returns its URL.
func Queue(ctx context.Context, c *sqs.Client, tpl *samtemplate.Template, logicalID, name string) (string, error) {
	in, err := tpl.Queue(logicalID, name)
	if err != nil {
		return "", err
	}
	out, err := c.CreateQueue(ctx, in)
	if err != nil {
		return "", fmt.Errorf("create queue %s (%s): %w", name, logicalID, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// Key creates the KMS key declared under logicalID and turns its rotation
// on. It returns the key's id and ARN.
func Key(ctx context.Context, c *kms.Client, tpl *samtemplate.Template, logicalID string) (id, arn string, err error) {
	def, err := tpl.Key(logicalID)
	if err != nil {
		return "", "", err
	}
	out, err := c.CreateKey(ctx, def.Create)
	if err != nil {
		return "", "", fmt.Errorf("create key %s: %w", logicalID, err)
	}
	id, arn = aws.ToString(out.KeyMetadata.KeyId), aws.ToString(out.KeyMetadata.Arn)
	if def.Rotation {
		if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &id}); err != nil {
			return "", "", fmt.Errorf("enable rotation of key %s: %w", logicalID, err)
		}
	}
	return id, arn, nil
}

// Bucket creates the S3 bucket declared under logicalID, named name
// (BucketName, which S3 requires be lowercase), with the versioning,
// public access block and default encryption the template gives it. The
// bucket's policy is not applied: the template's only allows TLS, which
// the local servers do not speak.
func Bucket(ctx context.Context, c *s3.Client, tpl *samtemplate.Template, logicalID, name string) error {
	b, err := tpl.Bucket(logicalID, name)
	if err != nil {
		return err
	}
	if _, err := c.CreateBucket(ctx, b.Create); err != nil {
		return fmt.Errorf("create bucket %s (%s): %w", name, logicalID, err)
	}
	if b.Versioning != nil {
		if _, err := c.PutBucketVersioning(ctx, b.Versioning); err != nil {
			return fmt.Errorf("versioning of bucket %s: %w", name, err)
		}
	}
	if b.PublicAccessBlock != nil {
		if _, err := c.PutPublicAccessBlock(ctx, b.PublicAccessBlock); err != nil {
			return fmt.Errorf("public access block of bucket %s: %w", name, err)
		}
	}
	if b.Encryption != nil {
		if _, err := c.PutBucketEncryption(ctx, b.Encryption); err != nil {
			return fmt.Errorf("encryption of bucket %s: %w", name, err)
		}
	}
	return nil
}

// BucketName makes a bucket name S3 takes of a name: lowercase letters,
// digits and hyphens, at most 63 of them.
func BucketName(name string) string {
	name = strings.Trim(unsafeBucket.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(name) > 63 {
		name = strings.Trim(name[len(name)-63:], "-")
	}
	return name
}

var unsafeBucket = regexp.MustCompile(`[^a-z0-9-]+`)

// Clients are the SDK clients All creates resources with.
type Clients struct {
	DynamoDB *dynamodb.Client
	Kinesis  *kinesis.Client
	SQS      *sqs.Client
	KMS      *kms.Client
	S3       *s3.Client
}

// Names are where All created a template's resources. It resolves the
// template's Ref and Fn::GetAtt as CloudFormation would.
type Names struct {
	Region    string
	Account   string
	Tables    map[string]string // logical id -> table name
	Streams   map[string]string // logical id -> stream name
	Queues    map[string]string // logical id -> queue name
	QueueURLs map[string]string // logical id -> queue URL
	Buckets   map[string]string // logical id -> bucket name
	// TableStreams maps the logical id of a table with a stream to the
	// stream's ARN.
	TableStreams map[string]string
	Keys         map[string]string // logical id -> KMS key id
	KeyARNs      map[string]string // logical id -> KMS key ARN
	Aliases      map[string]string // logical id -> alias name ("alias/...")
}

// Physical returns every logical id with its physical name, for the local
// event sources.
func (n *Names) Physical() map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]string{n.Tables, n.Streams, n.Queues, n.Buckets} {
		for id, name := range m {
			out[id] = name
		}
	}
	return out
}

// Ref is a table's, stream's or bucket's name, a queue's URL, a key's id
// or an alias's name.
func (n *Names) Ref(id string) (string, bool) {
	for _, m := range []map[string]string{n.Tables, n.Streams, n.QueueURLs, n.Buckets, n.Keys, n.Aliases} {
		if s, ok := m[id]; ok {
			return s, true
		}
	}
	return "", false
}

// GetAtt answers Arn (tables, streams, queues, buckets, keys), StreamArn
// (tables with a stream) and QueueName.
func (n *Names) GetAtt(id, att string) (string, bool) {
	switch att {
	case "Arn":
		if s, ok := n.Tables[id]; ok {
			return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", n.Region, n.Account, s), true
		}
		if s, ok := n.Streams[id]; ok {
			return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", n.Region, n.Account, s), true
		}
		if s, ok := n.Queues[id]; ok {
			return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", n.Region, n.Account, s), true
		}
		if s, ok := n.KeyARNs[id]; ok {
			return s, true
		}
		if s, ok := n.Buckets[id]; ok {
			return "arn:aws:s3:::" + s, true
		}
	case "StreamArn":
		s, ok := n.TableStreams[id]
		return s, ok
	case "QueueName":
		s, ok := n.Queues[id]
		return s, ok
	}
	return "", false
}

// localAccount is the account id local servers answer with.
const localAccount = "123456789012"

// All creates every table, Kinesis stream, queue, bucket and KMS key of
// the template, each named prefix-LogicalId (a bucket's lowercase, keys
// have no names), and the keys' aliases, for a stack called prefix; it
// returns their names.
func All(ctx context.Context, c Clients, tpl *samtemplate.Template, region, prefix string) (*Names, error) {
	n := &Names{Region: region, Account: localAccount, Tables: map[string]string{}, Streams: map[string]string{},
		Queues: map[string]string{}, QueueURLs: map[string]string{}, Buckets: map[string]string{}, TableStreams: map[string]string{},
		Keys: map[string]string{}, KeyARNs: map[string]string{}, Aliases: map[string]string{}}
	var aliases []string
	ids := make([]string, 0, len(tpl.Resources))
	for id := range tpl.Resources {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		name := prefix + "-" + id
		switch tpl.Resources[id].Type {
		case "AWS::DynamoDB::Table":
			if err := Table(ctx, c.DynamoDB, tpl, id, name); err != nil {
				return nil, err
			}
			n.Tables[id] = name
			out, err := c.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
			if err != nil {
				return nil, fmt.Errorf("describe table %s: %w", name, err)
			}
			if arn := aws.ToString(out.Table.LatestStreamArn); arn != "" {
				n.TableStreams[id] = arn
			}
		case "AWS::Kinesis::Stream":
			if err := Stream(ctx, c.Kinesis, tpl, id, name); err != nil {
				return nil, err
			}
			n.Streams[id] = name
		case "AWS::SQS::Queue":
			url, err := Queue(ctx, c.SQS, tpl, id, name)
			if err != nil {
				return nil, err
			}
			n.Queues[id], n.QueueURLs[id] = name, url
		case "AWS::KMS::Key":
			keyID, arn, err := Key(ctx, c.KMS, tpl, id)
			if err != nil {
				return nil, err
			}
			n.Keys[id], n.KeyARNs[id] = keyID, arn
		case "AWS::KMS::Alias":
			aliases = append(aliases, id) // once their keys exist
		case "AWS::S3::Bucket":
			name := BucketName(name)
			if err := Bucket(ctx, c.S3, tpl, id, name); err != nil {
				return nil, err
			}
			n.Buckets[id] = name
		}
	}
	for _, id := range aliases {
		a, err := tpl.Alias(id, prefix)
		if err != nil {
			return nil, err
		}
		if _, err := c.KMS.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &a.Name, TargetKeyId: aws.String(n.Keys[a.Target])}); err != nil {
			return nil, fmt.Errorf("create alias %s (%s): %w", a.Name, id, err)
		}
		n.Aliases[id] = a.Name
	}
	return n, nil
}
