package account

// Event is one recorded fact about an account. Events are values: Evolve and
// EncodeEvent recognise the struct types below, not pointers to them.
type Event interface {
	EventType() string
}

// Stable type names, stored with every event. Renaming one orphans history.
const (
	TypeAccountOpened    = "AccountOpened"
	TypeMoneyDeposited   = "MoneyDeposited"
	TypeMoneyWithdrawn   = "MoneyWithdrawn"
	TypeAccountClosed    = "AccountClosed"
	TypeTransferOutBegun = "TransferOutBegun"
	TypeTransferOutEnded = "TransferOutEnded"
)

// Current schema version of each event's data. Bump one when its JSON shape
// changes, and add the lift from the previous version to Lifts (codec.go);
// docs/events.md says which changes need one.
const (
	AccountOpenedSchemaVersion    = 2 // 2 added dataSubject; owner may be sealed
	MoneyDepositedSchemaVersion   = 3 // 2 added channel and counterparty; 3 may seal them
	MoneyWithdrawnSchemaVersion   = 3 // 2 added channel and counterparty; 3 may seal them
	AccountClosedSchemaVersion    = 1
	TransferOutBegunSchemaVersion = 1
	TransferOutEndedSchemaVersion = 1
)

// AccountOpened starts an account's stream. DataSubject is the person the
// account's personal data (Owner, and the references and counterparties
// of its movements) is about, by an opaque id: those fields are stored
// sealed with the subject's key (PersonalFields), so that erasing the
// subject erases them. A version-1 event has the account's own id for a
// subject, and its owner in the clear.
type AccountOpened struct {
	AccountID   string `json:"accountId"`
	DataSubject string `json:"dataSubject"`
	Owner       string `json:"owner"`
	// OwnerIndex is the owner's blind index under the subject's key, what
	// lookups by owner find the account by; it reveals nothing once the
	// subject is erased. Empty before owners were sealed.
	OwnerIndex     string   `json:"ownerIndex,omitempty"`
	Currency       Currency `json:"currency"`
	OverdraftLimit int64    `json:"overdraftLimit"`
}

// MoneyDeposited records a credit. BalanceAfter is recorded so that a reader
// of one event (a statement line, a projection) needs no fold to show it.
// Channel and Counterparty came with schema version 2; a version-1 event
// reads as channel "transfer" when it has a TransferID, "unknown"
// otherwise, and no counterparty.
type MoneyDeposited struct {
	Amount       int64   `json:"amount"`
	Reference    string  `json:"reference"`
	TransferID   string  `json:"transferId,omitempty"`
	Channel      Channel `json:"channel"`
	Counterparty string  `json:"counterparty,omitempty"`
	BalanceAfter int64   `json:"balanceAfter"`
}

// MoneyWithdrawn records a debit; see MoneyDeposited.
type MoneyWithdrawn struct {
	Amount       int64   `json:"amount"`
	Reference    string  `json:"reference"`
	TransferID   string  `json:"transferId,omitempty"`
	Channel      Channel `json:"channel"`
	Counterparty string  `json:"counterparty,omitempty"`
	BalanceAfter int64   `json:"balanceAfter"`
}

// PersonalFields are, per event type, the members of its data that hold
// personal data, stored sealed (internal/kit/personal): what is erased
// when the account's data subject is. A version older than the one that
// began sealing them holds them in the clear, which reads as it is.
var PersonalFields = map[string][]string{
	TypeAccountOpened:  {"owner"},
	TypeMoneyDeposited: {"reference", "counterparty"},
	TypeMoneyWithdrawn: {"reference", "counterparty"},
}

// SealPersonal returns e with each of its PersonalFields replaced by what
// seal makes of it (the application seals them with the account's data
// subject's key before they are stored). A transfer's leg keeps its
// reference: it is the transfer's, already stored as the transfer stored
// it, with the key of the source account's subject.
func SealPersonal(e Event, seal func(string) (string, error)) (Event, error) {
	var err error
	switch e := e.(type) {
	case AccountOpened:
		e.Owner, err = seal(e.Owner)
		return e, err
	case MoneyDeposited:
		e.Reference, e.Counterparty, err = sealMovement(e.TransferID, e.Reference, e.Counterparty, seal)
		return e, err
	case MoneyWithdrawn:
		e.Reference, e.Counterparty, err = sealMovement(e.TransferID, e.Reference, e.Counterparty, seal)
		return e, err
	}
	return e, nil
}

func sealMovement(transferID, reference, counterparty string, seal func(string) (string, error)) (string, string, error) {
	var err error
	if transferID == "" {
		if reference, err = seal(reference); err != nil {
			return "", "", err
		}
	}
	counterparty, err = seal(counterparty)
	return reference, counterparty, err
}

// Channel is how money came in or went out.
type Channel string

// The channels. ChannelUnknown is what a movement recorded before channels
// were, or one whose command did not say, is on; a transfer's legs are
// always on ChannelTransfer.
const (
	ChannelCash     Channel = "cash"
	ChannelCard     Channel = "card"
	ChannelTransfer Channel = "transfer"
	ChannelUnknown  Channel = "unknown"
)

// Channels lists every channel a command may name.
var Channels = []Channel{ChannelCash, ChannelCard, ChannelTransfer, ChannelUnknown}

// AccountClosed ends an account's life; no command is accepted after it.
type AccountClosed struct{}

// TransferOutBegun records that a transfer out of the account is in flight.
type TransferOutBegun struct {
	TransferID string `json:"transferId"`
	Amount     int64  `json:"amount"`
}

// TransferOutEnded records that a transfer out of the account is settled.
type TransferOutEnded struct {
	TransferID string `json:"transferId"`
}

func (AccountOpened) EventType() string    { return TypeAccountOpened }
func (MoneyDeposited) EventType() string   { return TypeMoneyDeposited }
func (MoneyWithdrawn) EventType() string   { return TypeMoneyWithdrawn }
func (AccountClosed) EventType() string    { return TypeAccountClosed }
func (TransferOutBegun) EventType() string { return TypeTransferOutBegun }
func (TransferOutEnded) EventType() string { return TypeTransferOutEnded }
