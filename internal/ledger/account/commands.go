package account

// Command is a request to change an account. Decide either turns it into
// events or refuses it.
type Command interface {
	CommandType() string
}

// Open opens a new account. Owner is trimmed of surrounding white space
// before it is checked and recorded. DataSubject names the person the
// account is about (see AccountOpened); empty, the account is its own.
type Open struct {
	AccountID      string
	DataSubject    string
	Owner          string
	Currency       Currency
	OverdraftLimit int64
}

// Deposit adds money. TransferID is set when the deposit is the credit leg of
// a transfer, so the history can tell transfers from cash.
// Channel, when empty, is ChannelTransfer for a transfer's leg and
// ChannelUnknown otherwise; Counterparty is optional text.
type Deposit struct {
	Amount       int64
	Reference    string
	TransferID   string
	Channel      Channel
	Counterparty string
}

// Withdraw takes money out, at most down to minus the overdraft limit.
// TransferID is set when the withdrawal is the debit leg of a transfer.
// Channel and Counterparty as for Deposit.
type Withdraw struct {
	Amount       int64
	Reference    string
	TransferID   string
	Channel      Channel
	Counterparty string
}

// Close closes an account whose balance is zero and which has no transfer in
// flight.
type Close struct{}

// BeginTransferOut records that a transfer out of this account has started.
// It moves no money (the debit is a Withdraw with the same TransferID); it
// exists so that Close can be refused until the transfer is settled.
type BeginTransferOut struct {
	TransferID string
	Amount     int64
}

// EndTransferOut records that a transfer out of this account has finished,
// whichever way it ended.
type EndTransferOut struct {
	TransferID string
}

func (Open) CommandType() string             { return "Open" }
func (Deposit) CommandType() string          { return "Deposit" }
func (Withdraw) CommandType() string         { return "Withdraw" }
func (Close) CommandType() string            { return "Close" }
func (BeginTransferOut) CommandType() string { return "BeginTransferOut" }
func (EndTransferOut) CommandType() string   { return "EndTransferOut" }
