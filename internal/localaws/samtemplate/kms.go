package samtemplate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// keyProperties is the subset of AWS::KMS::Key the converter understands.
// The key policy is read but not applied: a local server grants its one
// account everything, which is what the template's policy says too.
type keyProperties struct {
	Description       string
	KeySpec           types.KeySpec
	KeyUsage          types.KeyUsageType
	EnableKeyRotation bool
	KeyPolicy         any
	Tags              any
}

// Key is a KMS key as the template declares it, ready to create.
type Key struct {
	Create *kms.CreateKeyInput
	// Rotation is whether the key rotates: set with a separate
	// EnableKeyRotation call after the key exists.
	Rotation bool
}

// Key returns the definition of the AWS::KMS::Key with the given logical id.
func (t *Template) Key(logicalID string) (Key, error) {
	p, err := resourceProperties[keyProperties](t, logicalID, "AWS::KMS::Key")
	if err != nil {
		return Key{}, err
	}
	in := &kms.CreateKeyInput{KeySpec: p.KeySpec, KeyUsage: p.KeyUsage}
	if p.Description != "" {
		in.Description = aws.String(p.Description)
	}
	return Key{Create: in, Rotation: p.EnableKeyRotation}, nil
}

type aliasProperties struct {
	AliasName   any
	TargetKeyId any
}

// Alias is a KMS alias as the template declares it.
type Alias struct {
	Name string
	// Target is the logical id of the key the alias names.
	Target string
}

var aliasUnsafe = regexp.MustCompile(`[^a-zA-Z0-9/_-]+`)

// Alias returns the AWS::KMS::Alias with the given logical id, its name
// resolved for a stack called stackName: the name is a literal or an
// Fn::Sub of ${AWS::StackName}, the target a Ref to a key of the template.
func (t *Template) Alias(logicalID, stackName string) (Alias, error) {
	p, err := resourceProperties[aliasProperties](t, logicalID, "AWS::KMS::Alias")
	if err != nil {
		return Alias{}, err
	}
	var name string
	switch v := p.AliasName.(type) {
	case string:
		name = v
	case map[string]any:
		sub, ok := v["Fn::Sub"].(string)
		if !ok || len(v) != 1 {
			return Alias{}, fmt.Errorf("%s AliasName %v: not a literal or an Fn::Sub", logicalID, v)
		}
		// An alias allows fewer characters than a local prefix may have.
		name = strings.ReplaceAll(sub, "${AWS::StackName}", aliasUnsafe.ReplaceAllString(stackName, "-"))
		if strings.Contains(name, "${") {
			return Alias{}, fmt.Errorf("%s AliasName %q: only ${AWS::StackName} is resolved", logicalID, sub)
		}
	default:
		return Alias{}, fmt.Errorf("%s AliasName %v: not a literal or an Fn::Sub", logicalID, v)
	}
	ref, _ := p.TargetKeyId.(map[string]any)
	target, _ := ref["Ref"].(string)
	if len(ref) != 1 || target == "" {
		return Alias{}, fmt.Errorf("%s TargetKeyId %v: not a Ref to a key", logicalID, p.TargetKeyId)
	}
	if _, err := t.Resource(target, "AWS::KMS::Key"); err != nil {
		return Alias{}, fmt.Errorf("%s TargetKeyId: %w", logicalID, err)
	}
	return Alias{Name: name, Target: target}, nil
}
