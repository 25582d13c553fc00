// Package dynamokeys is the key store of personal data on DynamoDB and
// KMS: each subject's data key is made and wrapped by KMS and kept wrapped
// in one table, with the lookups that find a subject by a personal value
// and the record of each erasure. docs/operations.md ("Personal data and
// erasure") describes the items for an operator; they are this package's
// alone:
//
//	s#<tenant>#<subject id>   a subject. key (B): its data key wrapped by
//	                          KMS under the encryption context {tenant,
//	                          subject}, so that a wrapped key copied to
//	                          another subject does not unwrap. lookups (SS):
//	                          the lookup hashes it registered. v (N): counts
//	                          its registrations, so that an erasure sees
//	                          every one. Once erased, the item holds only
//	                          erasedAt (S, RFC 3339) and erasedBy (S).
//	l#<tenant>#<lookup hash>  a lookup. ids (SS): the subjects registered
//	                          with the value.
//	i#<tenant>                the tenant's index key. key (B): wrapped under
//	                          the context {tenant}.
//
// A lookup hash is HMAC-SHA256, under the tenant's index key, of the
// field's length, the field, a zero byte and the value, in unpadded
// base64url: the table holds no personal value in the clear, and no data
// key unwrapped.
//
// A key is made once: KMS generates it and a conditional write stores it
// unless another writer stored one first, whose key the loser then reads.
// A registration adds the hash to the subject and the subject to the
// lookup in one transaction that fails once the subject is erased. An
// erasure replaces the subject's item by its record and takes the subject
// out of every lookup it registered, in one transaction conditioned on the
// registrations it read, so that no erased subject stays findable.
// Throttled requests are retried by the SDK's retryer.
package dynamokeys

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"annals/internal/kit/awserr"
	"annals/internal/kit/personal"
)

// DynamoDBAPI is the part of the DynamoDB client the store uses.
type DynamoDBAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// KMSAPI is the part of the KMS client the store uses.
type KMSAPI interface {
	GenerateDataKey(context.Context, *kms.GenerateDataKeyInput, ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(context.Context, *kms.DecryptInput, ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// The item attributes (see the package comment).
const (
	attrPK       = "pk"
	attrKey      = "key"
	attrLookups  = "lookups"
	attrVersion  = "v"
	attrErasedAt = "erasedAt"
	attrErasedBy = "erasedBy"
	attrIDs      = "ids"
)

// maxTransact is how many items one TransactWriteItems may write.
const maxTransact = 100

// maxAttempts bounds the retries of a registration or an erasure that
// lost a race: each loss means another writer got through.
const maxAttempts = 32

// Keys is the key store on one table and one KMS key.
type Keys struct {
	*reads
	db  DynamoDBAPI
	kms KMSAPI
}

// reads are the store's reads, through clients that can only read, so
// that a binary that reads alone (Reader) links no write.
type reads struct {
	db       getItemAPI
	kms      decryptAPI
	table    string
	kmsKeyID string

	mu    sync.Mutex
	index map[string][]byte // tenant -> index key; one is never changed
}

type getItemAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

type decryptAPI interface {
	Decrypt(context.Context, *kms.DecryptInput, ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

var _ personal.Keys = (*Keys)(nil)

// New returns the key store over table, wrapping keys with the KMS key
// kmsKeyID (an id, ARN or alias).
func New(db DynamoDBAPI, kms KMSAPI, table, kmsKeyID string) *Keys {
	return &Keys{reads: newReads(db, kms, table, kmsKeyID), db: db, kms: kms}
}

func newReads(db getItemAPI, kms decryptAPI, table, kmsKeyID string) *reads {
	return &reads{db: db, kms: kms, table: table, kmsKeyID: kmsKeyID, index: map[string][]byte{}}
}

// Reader is the key store for a function that only opens personal data
// and finds subjects: it makes no key, registers and erases nothing
// (ErrReadOnly), and its code calls only GetItem and Decrypt.
type Reader struct{ *reads }

var _ personal.Keys = (*Reader)(nil)

// ErrReadOnly: a Reader asked to write.
var ErrReadOnly = errors.New("this key store only reads")

// NewReader returns the reading key store over table and the KMS key.
func NewReader(db getItemAPI, kms decryptAPI, table, kmsKeyID string) *Reader {
	return &Reader{newReads(db, kms, table, kmsKeyID)}
}

// Key implements personal.Keys: a key that exists, ErrReadOnly for one
// that would have to be made.
func (r *Reader) Key(ctx context.Context, s personal.Subject, create bool) ([]byte, error) {
	key, err := r.key(ctx, s)
	if errors.Is(err, personal.ErrNoKey) && create {
		return nil, fmt.Errorf("key of %s: %w", s, ErrReadOnly)
	}
	return key, err
}

// Erase implements personal.Keys: ErrReadOnly.
func (r *Reader) Erase(context.Context, personal.Subject, string, time.Time) (personal.Erasure, error) {
	return personal.Erasure{}, ErrReadOnly
}

// Register implements personal.Keys: ErrReadOnly.
func (r *Reader) Register(context.Context, personal.Subject, string, string) error {
	return ErrReadOnly
}

// key is Key without making one.
func (k *reads) key(ctx context.Context, s personal.Subject) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	item, err := k.get(ctx, subjectPK(s))
	if err != nil {
		return nil, fmt.Errorf("key of %s: %w", s, err)
	}
	if key, err, found := k.subjectKey(ctx, s, item); found {
		return key, err
	}
	return nil, personal.ErrNoKey
}

func subjectPK(s personal.Subject) string { return "s#" + s.Tenant + "#" + s.ID }
func lookupPK(tenant, hash string) string { return "l#" + tenant + "#" + hash }
func indexPK(tenant string) string        { return "i#" + tenant }

func subjectContext(s personal.Subject) map[string]string {
	return map[string]string{"tenant": s.Tenant, "subject": s.ID}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func keyOf(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk)}
}

// names are the attribute names of every expression: key is a reserved word.
func names(attrs ...string) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m["#"+a] = a
	}
	return m
}

// Key implements personal.Keys.
func (k *Keys) Key(ctx context.Context, s personal.Subject, create bool) ([]byte, error) {
	key, err := k.key(ctx, s)
	if !errors.Is(err, personal.ErrNoKey) || !create {
		return key, err
	}
	made, err := k.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             &k.kmsKeyID,
		KeySpec:           kmstypes.DataKeySpecAes256,
		EncryptionContext: subjectContext(s),
	})
	if err != nil {
		return nil, awserr.Read(fmt.Sprintf("make a key for %s", s), err)
	}
	// An update, not a put: the item may exist without a key, holding the
	// subject's registrations.
	_, err = k.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &k.table,
		Key:                       keyOf(subjectPK(s)),
		UpdateExpression:          aws.String("SET #key = :key"),
		ConditionExpression:       aws.String("attribute_not_exists(#key) AND attribute_not_exists(#erasedAt)"),
		ExpressionAttributeNames:  names(attrKey, attrErasedAt),
		ExpressionAttributeValues: map[string]types.AttributeValue{":key": &types.AttributeValueMemberB{Value: made.CiphertextBlob}},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return checkSize(made.Plaintext)
	case !errors.As(err, &ccf):
		return nil, awserr.Write(fmt.Sprintf("store the key of %s", s), err)
	}
	// Another writer stored a key first, or erased the subject: theirs holds.
	item, err := k.get(ctx, subjectPK(s))
	if err != nil {
		return nil, fmt.Errorf("key of %s: %w", s, err)
	}
	if key, err, found := k.subjectKey(ctx, s, item); found {
		return key, err
	}
	return nil, fmt.Errorf("key of %s: refused as existing, then not found", s)
}

// subjectKey reads a subject's item: ErrErased once erased, the key
// unwrapped when it has one; found is false when it has neither.
func (k *reads) subjectKey(ctx context.Context, s personal.Subject, item map[string]types.AttributeValue) (key []byte, err error, found bool) {
	if _, erased := item[attrErasedAt]; erased {
		return nil, personal.ErrErased, true
	}
	wrapped, ok := item[attrKey].(*types.AttributeValueMemberB)
	if !ok {
		return nil, nil, false
	}
	key, err = k.unwrap(ctx, wrapped.Value, subjectContext(s))
	if err != nil {
		return nil, fmt.Errorf("key of %s: %w", s, err), true
	}
	return key, nil, true
}

// unwrap has KMS decrypt a wrapped key under its encryption context ec.
func (k *reads) unwrap(ctx context.Context, wrapped []byte, ec map[string]string) ([]byte, error) {
	out, err := k.kms.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    wrapped,
		KeyId:             &k.kmsKeyID,
		EncryptionContext: ec,
	})
	if err != nil {
		return nil, awserr.Read("unwrap", err)
	}
	return checkSize(out.Plaintext)
}

func checkSize(key []byte) ([]byte, error) {
	if len(key) != personal.KeySize {
		return nil, fmt.Errorf("a data key of %d bytes, want %d", len(key), personal.KeySize)
	}
	return key, nil
}

func (k *reads) get(ctx context.Context, pk string) (map[string]types.AttributeValue, error) {
	out, err := k.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &k.table, Key: keyOf(pk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, awserr.Read("get", err)
	}
	return out.Item, nil
}

// Erasure implements personal.Keys.
func (k *reads) Erasure(ctx context.Context, s personal.Subject) (personal.Erasure, bool, error) {
	if err := s.Validate(); err != nil {
		return personal.Erasure{}, false, err
	}
	item, err := k.get(ctx, subjectPK(s))
	if err != nil {
		return personal.Erasure{}, false, fmt.Errorf("erasure of %s: %w", s, err)
	}
	return erasure(s, item)
}

func erasure(s personal.Subject, item map[string]types.AttributeValue) (personal.Erasure, bool, error) {
	at, ok := item[attrErasedAt].(*types.AttributeValueMemberS)
	if !ok {
		return personal.Erasure{}, false, nil
	}
	t, err := time.Parse(time.RFC3339Nano, at.Value)
	if err != nil {
		return personal.Erasure{}, false, fmt.Errorf("erasure of %s: %w", s, err)
	}
	by, _ := item[attrErasedBy].(*types.AttributeValueMemberS)
	e := personal.Erasure{Subject: s, At: t}
	if by != nil {
		e.By = by.Value
	}
	return e, true, nil
}

// Erase implements personal.Keys.
func (k *Keys) Erase(ctx context.Context, s personal.Subject, by string, at time.Time) (personal.Erasure, error) {
	if err := s.Validate(); err != nil {
		return personal.Erasure{}, err
	}
	for range maxAttempts {
		item, err := k.get(ctx, subjectPK(s))
		if err != nil {
			return personal.Erasure{}, fmt.Errorf("erase %s: %w", s, err)
		}
		if e, erased, err := erasure(s, item); erased || err != nil {
			return e, err
		}
		e := personal.Erasure{Subject: s, At: at.UTC(), By: by}
		done, err := k.erase(ctx, e, item)
		if err != nil {
			return personal.Erasure{}, fmt.Errorf("erase %s: %w", s, err)
		}
		if done {
			return e, nil
		}
	}
	return personal.Erasure{}, fmt.Errorf("erase %s: still racing other writers after %d attempts", s, maxAttempts)
}

// erase replaces the subject's item, as read, by the erasure record and
// takes the subject out of its lookups. done is false when the item
// changed since it was read.
func (k *Keys) erase(ctx context.Context, e personal.Erasure, item map[string]types.AttributeValue) (done bool, err error) {
	s := e.Subject
	record := &types.Put{
		TableName: &k.table,
		Item: map[string]types.AttributeValue{
			attrPK:       str(subjectPK(s)),
			attrErasedAt: str(e.At.Format(time.RFC3339Nano)),
			attrErasedBy: str(e.By),
		},
		ConditionExpression:      aws.String("attribute_not_exists(#erasedAt) AND attribute_not_exists(#v)"),
		ExpressionAttributeNames: names(attrErasedAt, attrVersion),
	}
	if v, ok := item[attrVersion]; ok {
		record.ConditionExpression = aws.String("attribute_not_exists(#erasedAt) AND #v = :v")
		record.ExpressionAttributeValues = map[string]types.AttributeValue{":v": v}
	}
	var hashes []string
	if l, ok := item[attrLookups].(*types.AttributeValueMemberSS); ok {
		hashes = l.Value
	}
	if len(hashes) == 0 {
		_, err := k.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: record.TableName, Item: record.Item, ConditionExpression: record.ConditionExpression,
			ExpressionAttributeNames: record.ExpressionAttributeNames, ExpressionAttributeValues: record.ExpressionAttributeValues,
		})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return false, nil
		}
		return err == nil, awserr.Write("put the erasure record", err)
	}
	// More lookups than one transaction holds: the surplus goes first.
	// Should the record then not be written, the subject is unfindable by
	// those values until the erasure is retried, which takes out the rest.
	for len(hashes) > maxTransact-1 {
		n := min(len(hashes)-(maxTransact-1), maxTransact)
		if retry, err := k.transact(ctx, k.removals(s, hashes[:n])); err != nil || retry {
			return false, err
		}
		hashes = hashes[n:]
	}
	tx := append([]types.TransactWriteItem{{Put: record}}, k.removals(s, hashes)...)
	retry, err := k.transact(ctx, tx)
	return err == nil && !retry, err
}

// removals take the subject out of the lookups of hashes.
func (k *Keys) removals(s personal.Subject, hashes []string) []types.TransactWriteItem {
	tx := make([]types.TransactWriteItem, len(hashes))
	for i, h := range hashes {
		tx[i] = types.TransactWriteItem{Update: &types.Update{
			TableName:                 &k.table,
			Key:                       keyOf(lookupPK(s.Tenant, h)),
			UpdateExpression:          aws.String("DELETE #ids :id"),
			ExpressionAttributeNames:  names(attrIDs),
			ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberSS{Value: []string{s.ID}}},
		}}
	}
	return tx
}

// transact writes tx. retry is true when a condition failed or another
// transaction held an item: what was read is stale, read again.
func (k *Keys) transact(ctx context.Context, tx []types.TransactWriteItem) (retry bool, err error) {
	_, err = k.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
	if err == nil {
		return false, nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed", "TransactionConflict":
				return true, nil
			}
		}
	}
	return false, awserr.Write("transact write", err)
}

// Register implements personal.Keys.
func (k *Keys) Register(ctx context.Context, s personal.Subject, field, value string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	index, err := k.indexKey(ctx, s.Tenant, true)
	if err != nil {
		return fmt.Errorf("register %s: %w", s, err)
	}
	h := lookupHash(index, field, value)
	tx := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                &k.table,
			Key:                      keyOf(subjectPK(s)),
			UpdateExpression:         aws.String("ADD #lookups :h, #v :one"),
			ConditionExpression:      aws.String("attribute_not_exists(#erasedAt)"),
			ExpressionAttributeNames: names(attrLookups, attrVersion, attrErasedAt),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":h":   &types.AttributeValueMemberSS{Value: []string{h}},
				":one": &types.AttributeValueMemberN{Value: "1"},
			},
		}},
		{Update: &types.Update{
			TableName:                 &k.table,
			Key:                       keyOf(lookupPK(s.Tenant, h)),
			UpdateExpression:          aws.String("ADD #ids :id"),
			ExpressionAttributeNames:  names(attrIDs),
			ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberSS{Value: []string{s.ID}}},
		}},
	}
	for range maxAttempts {
		_, err := k.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: tx})
		var tce *types.TransactionCanceledException
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &tce) || len(tce.CancellationReasons) == 0:
			return fmt.Errorf("register %s: %w", s, awserr.Write("transact write", err))
		}
		switch code := aws.ToString(tce.CancellationReasons[0].Code); {
		case code == "ConditionalCheckFailed":
			return fmt.Errorf("register %s: %w", s, personal.ErrErased)
		case !slices.ContainsFunc(tce.CancellationReasons, func(r types.CancellationReason) bool {
			return aws.ToString(r.Code) == "TransactionConflict"
		}):
			return fmt.Errorf("register %s: %w", s, awserr.Write("transact write", err))
		}
	}
	return fmt.Errorf("register %s: still racing other writers after %d attempts", s, maxAttempts)
}

// Subjects implements personal.Keys.
func (k *reads) Subjects(ctx context.Context, tenant, field, value string) ([]string, error) {
	index, err := k.indexKey(ctx, tenant)
	if err != nil || index == nil {
		// No index key: nothing was ever registered in the tenant.
		return nil, err
	}
	item, err := k.get(ctx, lookupPK(tenant, lookupHash(index, field, value)))
	if err != nil {
		return nil, fmt.Errorf("subjects by %s in %s: %w", field, tenant, err)
	}
	ids, _ := item[attrIDs].(*types.AttributeValueMemberSS)
	if ids == nil {
		return nil, nil
	}
	out := slices.Clone(ids.Value)
	slices.Sort(out)
	return out, nil
}

// indexKey returns the tenant's index key, making it when create is true
// and there is none (nil, without an error, when there is none and create
// is false). A key read is kept: none is ever changed or erased.
func (k *Keys) indexKey(ctx context.Context, tenant string, create bool) ([]byte, error) {
	key, err := k.reads.indexKey(ctx, tenant)
	if key == nil && err == nil && create {
		if key, err = k.makeIndexKey(ctx, tenant, map[string]string{"tenant": tenant}, func() ([]byte, error) { return k.readIndexKey(ctx, tenant) }); key != nil {
			k.mu.Lock()
			k.index[tenant] = key
			k.mu.Unlock()
		}
	}
	return key, err
}

// indexKey returns the tenant's index key, nil (without an error) when it
// has none. A key read is kept: none is ever changed or erased.
func (k *reads) indexKey(ctx context.Context, tenant string) ([]byte, error) {
	k.mu.Lock()
	key, ok := k.index[tenant]
	k.mu.Unlock()
	if ok {
		return key, nil
	}
	key, err := k.readIndexKey(ctx, tenant)
	if key != nil {
		k.mu.Lock()
		k.index[tenant] = key
		k.mu.Unlock()
	}
	return key, err
}

func (k *reads) readIndexKey(ctx context.Context, tenant string) ([]byte, error) {
	item, err := k.get(ctx, indexPK(tenant))
	if err != nil {
		return nil, fmt.Errorf("index key of %s: %w", tenant, err)
	}
	wrapped, ok := item[attrKey].(*types.AttributeValueMemberB)
	if !ok {
		return nil, nil
	}
	key, err := k.unwrap(ctx, wrapped.Value, map[string]string{"tenant": tenant})
	if err != nil {
		return nil, fmt.Errorf("index key of %s: %w", tenant, err)
	}
	return key, nil
}

func (k *Keys) makeIndexKey(ctx context.Context, tenant string, ec map[string]string, read func() ([]byte, error)) ([]byte, error) {
	made, err := k.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             &k.kmsKeyID,
		KeySpec:           kmstypes.DataKeySpecAes256,
		EncryptionContext: ec,
	})
	if err != nil {
		return nil, awserr.Read("make the index key of "+tenant, err)
	}
	_, err = k.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &k.table,
		Item: map[string]types.AttributeValue{
			attrPK:  str(indexPK(tenant)),
			attrKey: &types.AttributeValueMemberB{Value: made.CiphertextBlob},
		},
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: names(attrPK),
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return checkSize(made.Plaintext)
	case errors.As(err, &ccf):
		// Another writer made it first: theirs holds.
		return read()
	}
	return nil, awserr.Write("store the index key of "+tenant, err)
}

var b64 = base64.RawURLEncoding

// lookupHash is the lookup's part of its key: the field's length comes
// first, so that no field and value run into another pair.
func lookupHash(index []byte, field, value string) string {
	m := hmac.New(sha256.New, index)
	m.Write(binary.AppendUvarint(nil, uint64(len(field))))
	m.Write([]byte(field))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return b64.EncodeToString(m.Sum(nil))
}
