package eventstore

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB's limits, enforced here before any write so that an oversize
// commit is a clear error and never a partial write. moto allows 405,000
// bytes, so this check, not the server, is what tests exercise.
const (
	MaxItemSize        = 400_000
	MaxTransactionSize = 4_000_000
	MaxTransactionOps  = 100
)

// ItemSize is an item's size by DynamoDB's documented rules: the UTF-8 length
// of every attribute name plus the size of its value, where a string or
// binary counts its bytes, a number one byte per two significant digits plus
// one, a boolean or null one byte, and a list or map three bytes plus, per
// element, one byte, its value, and (in a map) its name.
func ItemSize(it Item) int {
	size := 0
	for name, v := range it {
		size += len(name) + valueSize(v)
	}
	return size
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		size := 3
		for _, e := range v.Value {
			size += 1 + valueSize(e)
		}
		return size
	case *types.AttributeValueMemberM:
		size := 3
		for k, e := range v.Value {
			size += 1 + len(k) + valueSize(e)
		}
		return size
	case *types.AttributeValueMemberSS:
		size := 0
		for _, e := range v.Value {
			size += len(e)
		}
		return size
	case *types.AttributeValueMemberNS:
		size := 0
		for _, e := range v.Value {
			size += numberSize(e)
		}
		return size
	case *types.AttributeValueMemberBS:
		size := 0
		for _, e := range v.Value {
			size += len(e)
		}
		return size
	}
	return 0
}

// numberSize counts significant digits: sign, exponent, leading and trailing
// zeros do not count.
func numberSize(num string) int {
	num = strings.TrimLeft(num, "+-")
	if i := strings.IndexAny(num, "eE"); i >= 0 {
		num = num[:i]
	}
	digits := strings.Replace(num, ".", "", 1)
	digits = strings.TrimLeft(digits, "0")
	digits = strings.TrimRight(digits, "0")
	return (len(digits)+1)/2 + 1
}
