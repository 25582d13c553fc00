package functions_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"annals/internal/localaws/samtemplate"
)

// alarm is what the test reads of an AWS::CloudWatch::Alarm.
type alarm struct {
	Namespace  any
	MetricName string
	Dimensions []struct {
		Name  string
		Value any
	}
	AlarmActions any
}

// Every function alarms on errors and throttles, every stream consumer on
// its iterator age, every queue on its depth, and every alarm notifies the
// AlarmTopic when one is given: nothing can fail unseen.
func TestEveryFailureHasAnAlarm(t *testing.T) {
	tpl, err := samtemplate.LoadProject(".")
	if err != nil {
		t.Fatal(err)
	}
	notify := map[string]any{"Fn::If": []any{"Notify", []any{map[string]any{"Ref": "AlarmTopic"}}, map[string]any{"Ref": "AWS::NoValue"}}}
	have := map[string]bool{} // "metric dimension-value"
	for id, r := range tpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		var a alarm
		if err := r.Decode(&a); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !reflect.DeepEqual(a.AlarmActions, notify) {
			t.Errorf("%s notifies %v, want the AlarmTopic when it is set", id, a.AlarmActions)
		}
		for _, d := range a.Dimensions {
			have[fmt.Sprintf("%s %v", a.MetricName, d.Value)] = true
		}
		if len(a.Dimensions) == 0 {
			have[a.MetricName] = true
		}
	}
	ref := func(id string) string { return fmt.Sprint(map[string]any{"Ref": id}) }
	var want []string
	for _, fn := range tpl.Functions() {
		want = append(want, "Errors "+ref(fn), "Throttles "+ref(fn))
	}
	sources, err := tpl.EventSources()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sources {
		want = append(want, "IteratorAge "+ref(s.Function))
	}
	for id, r := range tpl.Resources {
		if r.Type == "AWS::SQS::Queue" {
			want = append(want, fmt.Sprintf("ApproximateNumberOfMessagesVisible %v", map[string]any{"Fn::GetAtt": []any{id, "QueueName"}}))
		}
	}
	want = append(want, "ProjectorQuarantines")
	slices.Sort(want)
	for _, w := range slices.Compact(want) {
		if !have[w] {
			t.Errorf("no alarm on %s", w)
		}
	}
}
