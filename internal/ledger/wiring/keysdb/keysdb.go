// Package keysdb builds the vault of the data subjects' keys, one way for
// every function that seals or opens personal data: the key store on
// DynamoDB, wrapped by the KMS key, behind a cache per instance.
package keysdb

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"annals/internal/kit/personal"
	"annals/internal/kit/personal/dynamokeys"
	"annals/internal/kit/wiring"
	"annals/internal/ledger/env"
)

// Vars are the variables FromEnv reads.
var Vars = []wiring.Var{
	{Name: env.SubjectKeys, Ref: "SubjectKeysTable"},
	{Name: env.PersonalDataKey, Ref: "PersonalDataKey"},
}

// WriterGrants are the grants of a function that makes keys, registers owners
// and erases subjects: reads, the conditional update that makes a key,
// the put of a tenant's lookup key, the transactions of Register and
// Erase; KMS makes and unwraps the keys.
var WriterGrants = []wiring.Grant{
	{Resource: "SubjectKeysTable", Actions: []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}},
	{Resource: "PersonalDataKey", Actions: []string{"kms:Decrypt", "kms:GenerateDataKey"}},
}

// ReaderGrants are the grants of a function that only opens: it reads keys and
// lookups and unwraps them, and makes none.
var ReaderGrants = []wiring.Grant{
	{Resource: "SubjectKeysTable", Actions: []string{"dynamodb:GetItem"}},
	{Resource: "PersonalDataKey", Actions: []string{"kms:Decrypt"}},
}

// cacheSize bounds the keys an instance keeps: a few hundred kilobytes.
const cacheSize = 4096

// Writer returns the vault over the key store the environment names, for
// a function that makes keys and erases subjects (Writer's grants).
func Writer(v *wiring.Vars, cfg aws.Config) *personal.Vault {
	return vault(v, dynamodb.NewFromConfig(cfg), newKMS(cfg))
}

// Reader returns the vault for a function that only opens (ReaderGrants):
// its key store makes, registers and erases nothing, and its code calls
// nothing its grants would refuse.
func Reader(v *wiring.Vars, cfg aws.Config) *personal.Vault {
	table, key := v.Required(env.SubjectKeys), v.Required(env.PersonalDataKey)
	return cached(dynamokeys.NewReader(dynamodb.NewFromConfig(cfg), newKMS(cfg), table, key))
}

func vault(v *wiring.Vars, db dynamokeys.DynamoDBAPI, kms dynamokeys.KMSAPI) *personal.Vault {
	table, key := v.Required(env.SubjectKeys), v.Required(env.PersonalDataKey)
	return cached(dynamokeys.New(db, kms, table, key))
}

func cached(keys personal.Keys) *personal.Vault {
	return personal.NewVault(personal.NewCache(keys, personal.DefaultCacheTTL, cacheSize, time.Now))
}

func newKMS(cfg aws.Config) *kms.Client { return kms.NewFromConfig(cfg) }
