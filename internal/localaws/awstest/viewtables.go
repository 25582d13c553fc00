package awstest

import "strings"

// ViewTableRef is how template.yaml names a view table that a rebuild can
// switch (docs/operations.md), in long form: the table named by the
// <View>ViewTable parameter when it is set, else the stack's own
// logicalID table.
func ViewTableRef(logicalID string) any {
	view := strings.TrimSuffix(logicalID, "Table")
	return map[string]any{"Fn::If": []any{view + "ViewSwitched", Ref(view + "ViewTable"), Ref(logicalID)}}
}

// ViewTableArn is the ARN of that table, followed by suffix (e.g.
// "/index/ByOwner"), in long form.
func ViewTableArn(logicalID, suffix string) any {
	view := strings.TrimSuffix(logicalID, "Table")
	switched := map[string]any{"Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${" + view + "ViewTable}" + suffix}
	var own any = GetAtt(logicalID, "Arn")
	if suffix != "" {
		own = map[string]any{"Fn::Sub": "${" + logicalID + ".Arn}" + suffix}
	}
	return map[string]any{"Fn::If": []any{view + "ViewSwitched", switched, own}}
}
