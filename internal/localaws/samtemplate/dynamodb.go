package samtemplate

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// tableProperties is the subset of AWS::DynamoDB::Table that shapes a table's
// behaviour (keys, indexes, stream, billing); a property outside it makes
// TableInput fail rather than be silently dropped.
type tableProperties struct {
	TableName              any
	BillingMode            string
	AttributeDefinitions   []types.AttributeDefinition
	KeySchema              []types.KeySchemaElement
	GlobalSecondaryIndexes []struct {
		IndexName  string
		KeySchema  []types.KeySchemaElement
		Projection struct {
			ProjectionType   types.ProjectionType
			NonKeyAttributes []string
		}
	}
	StreamSpecification *struct {
		StreamViewType types.StreamViewType
	}
	SSESpecification *struct {
		SSEEnabled bool
	}
	TimeToLiveSpecification *struct {
		AttributeName string
		Enabled       bool
	}
	PointInTimeRecoverySpecification any
	DeletionProtectionEnabled        bool
	Tags                             any
}

// Table is a DynamoDB table as the template declares it, ready to create.
type Table struct {
	Create *dynamodb.CreateTableInput
	// TTLAttribute is the time-to-live attribute, or "" for none. It is set
	// with a separate UpdateTimeToLive call after the table exists.
	TTLAttribute string
}

// Table returns the definition of the AWS::DynamoDB::Table with the given
// logical id, to be created under name.
func (t *Template) Table(logicalID, name string) (Table, error) {
	p, err := resourceProperties[tableProperties](t, logicalID, "AWS::DynamoDB::Table")
	if err != nil {
		return Table{}, err
	}
	in := &dynamodb.CreateTableInput{
		TableName:                 aws.String(name),
		AttributeDefinitions:      p.AttributeDefinitions,
		KeySchema:                 p.KeySchema,
		BillingMode:               types.BillingMode(p.BillingMode),
		DeletionProtectionEnabled: aws.Bool(p.DeletionProtectionEnabled),
	}
	if in.BillingMode == "" {
		in.BillingMode = types.BillingModeProvisioned
	}
	for _, g := range p.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName),
			KeySchema: g.KeySchema,
			Projection: &types.Projection{
				ProjectionType:   g.Projection.ProjectionType,
				NonKeyAttributes: g.Projection.NonKeyAttributes,
			},
		})
	}
	if s := p.StreamSpecification; s != nil {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: s.StreamViewType}
	}
	if s := p.SSESpecification; s != nil {
		in.SSESpecification = &types.SSESpecification{Enabled: aws.Bool(s.SSEEnabled)}
	}
	tbl := Table{Create: in}
	if s := p.TimeToLiveSpecification; s != nil && s.Enabled {
		tbl.TTLAttribute = s.AttributeName
	}
	return tbl, nil
}
