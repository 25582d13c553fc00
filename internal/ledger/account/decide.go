package account

import (
	"fmt"

	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"annals/internal/kit/personal"
)

// maxTextBytes bounds free text (owner, reference, ids): enough for any real
// name or payment reference, small enough to keep events far from the item
// size limit.
const maxTextBytes = 200

// Decide returns the events that record c applied to s, or why c is refused.
// It is pure, so a command that lost a race for the stream's head can simply
// be decided again on the reloaded state.
//
// A command is validated before the state is consulted, so a malformed
// request is reported as such whatever the account's state. A command that
// changes nothing returns no events and no error.
func Decide(s Account, c Command) ([]Event, error) {
	switch c := c.(type) {
	case Open:
		return decideOpen(s, c)
	case Deposit:
		return decideDeposit(s, c)
	case Withdraw:
		return decideWithdraw(s, c)
	case Close:
		return decideClose(s)
	case BeginTransferOut:
		return decideBeginTransferOut(s, c)
	case EndTransferOut:
		return decideEndTransferOut(s, c)
	default:
		return nil, fmt.Errorf("unsupported command %T", c)
	}
}

func decideOpen(s Account, c Open) ([]Event, error) {
	owner := strings.TrimSpace(c.Owner)
	var v Validator
	v.Text("accountId", c.AccountID, true)
	v.Text("owner", owner, true)
	subject := c.DataSubject
	if subject == "" {
		subject = c.AccountID
	} else if problem := personal.IDProblem(subject); problem != "" {
		v.Add("dataSubject", problem)
	}
	v.currency("currency", c.Currency)
	v.Amount("overdraftLimit", c.OverdraftLimit, 0)
	if err := v.Err(); err != nil {
		return nil, err
	}
	// A closed account still holds its id, so reopening it is a conflict too.
	if s.Status != StatusNone {
		return nil, ErrAccountExists
	}
	return []Event{AccountOpened{
		AccountID:      c.AccountID,
		DataSubject:    subject,
		Owner:          owner,
		Currency:       c.Currency,
		OverdraftLimit: c.OverdraftLimit,
	}}, nil
}

func decideDeposit(s Account, c Deposit) ([]Event, error) {
	channel, err := checkMovement(s, c.Amount, c.Reference, c.TransferID, c.Channel, c.Counterparty)
	if err != nil {
		return nil, err
	}
	after, err := checkedAdd(s.Balance, c.Amount)
	if err != nil {
		return nil, err
	}
	if after > MaxBalance {
		return nil, ErrBalanceLimit
	}
	// Every transfer out in flight may yet be credited back, and that
	// refund must always land: a deposit may not take the room it needs.
	// (The refund itself, a deposit of its own transfer, needs no room
	// beyond the others'.)
	reserved := int64(0)
	for id, amount := range s.TransfersInFlight {
		if id == c.TransferID {
			continue
		}
		if reserved, err = checkedAdd(reserved, amount); err != nil {
			return nil, err
		}
	}
	if room, err := checkedAdd(after, reserved); err != nil {
		return nil, err
	} else if room > MaxBalance {
		return nil, ErrBalanceLimit
	}
	return []Event{MoneyDeposited{
		Amount:       c.Amount,
		Reference:    c.Reference,
		TransferID:   c.TransferID,
		Channel:      channel,
		Counterparty: c.Counterparty,
		BalanceAfter: after,
	}}, nil
}

func decideWithdraw(s Account, c Withdraw) ([]Event, error) {
	channel, err := checkMovement(s, c.Amount, c.Reference, c.TransferID, c.Channel, c.Counterparty)
	if err != nil {
		return nil, err
	}
	after, err := checkedSub(s.Balance, c.Amount)
	if err != nil {
		return nil, err
	}
	if after < -s.OverdraftLimit {
		return nil, ErrInsufficientFunds
	}
	// Only an overdraft limit recorded before MaxAmount bounded it reaches
	// this far.
	if after < -MaxBalance {
		return nil, ErrBalanceLimit
	}
	return []Event{MoneyWithdrawn{
		Amount:       c.Amount,
		Reference:    c.Reference,
		TransferID:   c.TransferID,
		Channel:      channel,
		Counterparty: c.Counterparty,
		BalanceAfter: after,
	}}, nil
}

func decideClose(s Account) ([]Event, error) {
	if err := requireOpen(s); err != nil {
		return nil, err
	}
	// Checked before the balance: a transfer in flight may still move money
	// back (a refund when it fails), so the balance is not final yet.
	if len(s.TransfersInFlight) > 0 {
		return nil, ErrTransfersInFlight
	}
	if s.Balance != 0 {
		return nil, ErrAccountNotEmpty
	}
	return []Event{AccountClosed{}}, nil
}

func decideBeginTransferOut(s Account, c BeginTransferOut) ([]Event, error) {
	var v Validator
	v.Text("transferId", c.TransferID, true)
	v.Amount("amount", c.Amount, 1)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := requireOpen(s); err != nil {
		return nil, err
	}
	// A process manager redelivers steps; beginning twice must not fail it.
	if _, ok := s.TransfersInFlight[c.TransferID]; ok {
		return nil, nil
	}
	return []Event{TransferOutBegun(c)}, nil
}

func decideEndTransferOut(s Account, c EndTransferOut) ([]Event, error) {
	var v Validator
	v.Text("transferId", c.TransferID, true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := requireOpen(s); err != nil {
		return nil, err
	}
	// Ending twice, or ending what never began, is a redelivery: nothing to do.
	if _, ok := s.TransfersInFlight[c.TransferID]; !ok {
		return nil, nil
	}
	return []Event{TransferOutEnded(c)}, nil
}

// checkMovement checks a deposit's or a withdrawal's fields, then that the
// account is open to it.
// checkMovement checks a deposit's or withdrawal's fields and returns the
// channel to record.
func checkMovement(s Account, amount int64, reference, transferID string, channel Channel, counterparty string) (Channel, error) {
	var v Validator
	v.Amount("amount", amount, 1)
	if transferID == "" {
		// A transfer's legs carry the reference the transfer was asked
		// with, checked then, and stored as the transfer stored it
		// (sealed, so longer than any text a command may carry).
		v.Text("reference", reference, false)
	}
	v.Text("transferId", transferID, false)
	v.Text("counterparty", counterparty, false)
	switch {
	case channel == "" && transferID != "":
		channel = ChannelTransfer
	case channel == "":
		channel = ChannelUnknown
	case !slices.Contains(Channels, channel):
		v.Add("channel", "must be one of cash, card, transfer, unknown")
	case transferID != "" && channel != ChannelTransfer:
		v.Add("channel", "must be transfer for a transfer's leg")
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	return channel, requireOpen(s)
}

func requireOpen(s Account) error {
	switch s.Status {
	case StatusNone:
		return ErrAccountNotFound
	case StatusClosed:
		return ErrAccountClosed
	}
	return nil
}

// Validator collects every field problem of a command before reporting:
// the ledger's rules for text and amounts, for the transfer's commands and
// the query parameters too.
type Validator struct {
	fields []FieldError
}

// Add notes a problem with field.
func (v *Validator) Add(field, message string) {
	v.fields = append(v.fields, FieldError{Field: field, Message: message})
}

// Err is every problem noted, or nil.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: v.fields}
}

// Text checks free text. Invalid UTF-8 is refused because JSON encoding would
// silently replace it, so the event would not record what was sent; control
// characters are refused because they corrupt logs, statements and CSV
// exports downstream; bidirectional formatting characters and invisible
// ones because they make text read otherwise than it is (an owner or a
// reference shown reversed, two owners that look alike but differ).
func (v *Validator) Text(field, s string, required bool) {
	if m := TextProblem(s, required); m != "" {
		v.Add(field, m)
	}
}

// TextProblem says what is wrong with free text by Text's rules, or "".
func TextProblem(s string, required bool) string {
	switch {
	case s == "":
		if required {
			return "is required"
		}
	case len(s) > maxTextBytes:
		return "must be at most " + strconv.Itoa(maxTextBytes) + " bytes"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "must not contain control characters"
	}
	for _, r := range s {
		switch {
		case bidiFormatting(r):
			return fmt.Sprintf("must not contain bidirectional formatting characters (U+%04X)", r)
		case zeroWidth(r):
			return fmt.Sprintf("must not contain zero-width characters (U+%04X)", r)
		}
	}
	return ""
}

// bidiFormatting reports the characters that change the direction text is
// shown in: the embeddings and overrides (U+202A..U+202E), the isolates
// (U+2066..U+2069) and the marks (U+200E, U+200F, U+061C).
func bidiFormatting(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}

// zeroWidth reports the characters that take no room: the zero-width
// space, non-joiner and joiner (U+200B..U+200D), the word joiner (U+2060)
// and the zero-width no-break space, or byte order mark (U+FEFF).
func zeroWidth(r rune) bool {
	return r >= 0x200b && r <= 0x200d || r == 0x2060 || r == 0xfeff
}

// Amount checks an amount in minor units against least..MaxAmount.
func (v *Validator) Amount(field string, n, least int64) {
	switch {
	case n < least:
		v.Add(field, "must be at least "+strconv.FormatInt(least, 10))
	case n > MaxAmount:
		v.Add(field, "must be at most "+strconv.FormatInt(MaxAmount, 10))
	}
}

func (v *Validator) currency(field string, c Currency) {
	switch {
	case c == "":
		v.Add(field, "is required")
	case !c.wellFormed():
		v.Add(field, "must be an ISO 4217 code of three upper-case letters")
	case !c.Valid():
		v.Add(field, "is not an active ISO 4217 currency")
	}
}
