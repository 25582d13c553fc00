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
	AccountOpenedSchemaVersion    = 1
	MoneyDepositedSchemaVersion   = 2 // 2 added channel and counterparty
	MoneyWithdrawnSchemaVersion   = 2 // 2 added channel and counterparty
	AccountClosedSchemaVersion    = 1
	TransferOutBegunSchemaVersion = 1
	TransferOutEndedSchemaVersion = 1
)

// AccountOpened starts an account's stream.
type AccountOpened struct {
	AccountID      string   `json:"accountId"`
	Owner          string   `json:"owner"`
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
