package personal

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// A sealed value is "pd1:<subject id>:<base64url of nonce and AES-GCM
// ciphertext>", the tenant and subject bound in as associated data so that
// a value copied to another subject or tenant does not open. It is a
// string, so a sealed field keeps its JSON type. docs/events.md
// ("Personal data") describes it.
const sealPrefix = "pd1:"

var b64 = base64.RawURLEncoding

// ErrUnopenable: a value that looks sealed does not open, whatever the key
// store says: malformed, changed, or sealed with no key of this store's.
// It is never shown as what it may have been.
var ErrUnopenable = errors.New("not a value sealed by this store")

// Vault seals and opens personal fields with the keys of a key store.
type Vault struct {
	keys Keys
}

// NewVault returns a vault over the key store (a Cache, in a function).
func NewVault(keys Keys) *Vault { return &Vault{keys: keys} }

// Keys returns the vault's key store.
func (v *Vault) Keys() Keys { return v.keys }

// MaySeal tells whether a document may hold a sealed value, cheaply: false
// means OpenJSON would return it as it is.
func MaySeal(doc string) bool { return strings.Contains(doc, `"`+sealPrefix) }

// IsSealed tells whether a stored value is a sealed one.
func IsSealed(value string) bool { return strings.HasPrefix(value, sealPrefix) }

// SubjectOf returns the id of the subject a sealed value belongs to, false
// for a value that is not sealed.
func SubjectOf(value string) (string, bool) {
	rest, ok := strings.CutPrefix(value, sealPrefix)
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, ":")
	return id, ok
}

// Seal returns the value sealed with the subject's key, making the key
// when the subject has none. An empty value stays empty: there is nothing
// personal in it. An erased subject's is ErrErased.
func (v *Vault) Seal(ctx context.Context, s Subject, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	if err := s.Validate(); err != nil {
		return "", err
	}
	key, err := v.keys.Key(ctx, s, true)
	if err != nil {
		return "", fmt.Errorf("seal for %s: %w", s, err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := aead.Seal(nonce, nonce, []byte(value), associated(s))
	return sealPrefix + s.ID + ":" + b64.EncodeToString(sealed), nil
}

// Open returns a stored value in the clear: a value that is not sealed
// (written before its field was personal) as it is, a sealed one opened,
// and ErasedText for one whose subject was erased. A sealed value that
// does not open with its subject's key is an error, never shown.
func (v *Vault) Open(ctx context.Context, tenant, value string) (string, error) {
	rest, ok := strings.CutPrefix(value, sealPrefix)
	if !ok {
		return value, nil
	}
	id, body, ok := strings.Cut(rest, ":")
	s := Subject{Tenant: tenant, ID: id}
	if !ok || s.Validate() != nil {
		return "", fmt.Errorf("open a sealed value: %w", ErrUnopenable)
	}
	sealed, err := b64.DecodeString(body)
	if err != nil {
		return "", fmt.Errorf("open a value sealed for %s: %w: %v", s, ErrUnopenable, err)
	}
	if b64.EncodeToString(sealed) != body {
		// The decoder skips line breaks and ignores the last character's
		// spare bits: only the one spelling Seal wrote opens, so that a
		// value changed in any way never reads as the original.
		return "", fmt.Errorf("open a value sealed for %s: %w: not in canonical form", s, ErrUnopenable)
	}
	key, err := v.keys.Key(ctx, s, false)
	switch {
	case errors.Is(err, ErrErased):
		return ErasedText, nil
	case errors.Is(err, ErrNoKey):
		// Never sealed here: no key was made for the subject it names.
		return "", fmt.Errorf("open a value sealed for %s: %w: %w", s, ErrUnopenable, err)
	case err != nil:
		return "", fmt.Errorf("open a value sealed for %s: %w", s, err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return "", fmt.Errorf("open a value sealed for %s: %w: too short", s, ErrUnopenable)
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], associated(s))
	if err != nil {
		return "", fmt.Errorf("open a value sealed for %s: %w: %v", s, ErrUnopenable, err)
	}
	return string(plain), nil
}

// BlindIndex returns the value's blind index for the subject: a keyed
// hash of the field and value, equal for equal values while the subject's
// key exists, and revealing nothing once it is gone. An erased subject's
// is ErrErased.
func (v *Vault) BlindIndex(ctx context.Context, s Subject, field, value string) (string, error) {
	key, err := v.keys.Key(ctx, s, false)
	if err != nil {
		return "", fmt.Errorf("blind index for %s: %w", s, err)
	}
	return blindIndex(key, field, value), nil
}

func blindIndex(key []byte, field, value string) string {
	// A key of its own for hashing, so that the data key is used for one
	// purpose only.
	k := hmac.New(sha256.New, key)
	k.Write([]byte("annals blind index"))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte(field))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return b64.EncodeToString(m.Sum(nil))
}

func associated(s Subject) []byte { return []byte(sealPrefix + s.Tenant + "\x00" + s.ID) }

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("data key of %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// OpenJSON returns a JSON document with every sealed string in it opened
// (Open) and everything else, byte for byte, as it was: what a reader
// shows of events, views and answers that hold sealed values, wherever
// in them they are. A document without one is returned as it is.
func (v *Vault) OpenJSON(ctx context.Context, tenant string, doc []byte) ([]byte, error) {
	marker := []byte(`"` + sealPrefix)
	at := bytes.Index(doc, marker)
	if at < 0 {
		return doc, nil
	}
	var out bytes.Buffer
	out.Grow(len(doc))
	for at >= 0 {
		start := at + 1 // the value, after its opening quote
		n := bytes.IndexByte(doc[start:], '"')
		// A quote inside a string is escaped, and a sealed value holds no
		// escapes: what is not a whole string of its alphabet is text that
		// only looks like one. So is a value that does not open as one
		// (a correlation id a client chose, say): it holds nothing the
		// store sealed. Both are shown as they are.
		opened, err := "", ErrUnopenable
		if n >= 0 && !escaped(doc, at) && sealedAlphabet(string(doc[start:start+n])) {
			opened, err = v.Open(ctx, tenant, string(doc[start:start+n]))
		}
		if errors.Is(err, ErrUnopenable) {
			out.Write(doc[:start])
			doc = doc[start:]
			at = bytes.Index(doc, marker)
			continue
		}
		if err != nil {
			return nil, err
		}
		quoted, err := json.Marshal(opened)
		if err != nil {
			return nil, err
		}
		out.Write(doc[:at])
		out.Write(quoted)
		doc = doc[start+n+1:]
		at = bytes.Index(doc, marker)
	}
	out.Write(doc)
	return out.Bytes(), nil
}

// escaped tells whether the quote at i is escaped: after an odd number of
// backslashes.
func escaped(doc []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && doc[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

func sealedAlphabet(s string) bool {
	for _, r := range s {
		if !subjectRune(r) && r != ':' {
			return false
		}
	}
	return true
}
