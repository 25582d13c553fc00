package wiring

// Manifest is what one function needs from the stack: the environment
// variables its wiring reads and the access its code uses. The wiring reads
// its variables through it (a name it does not list fails the wiring); a
// test holds it to the operations the function's code can call, and
// another holds template.yaml to it (plus what the function's event source
// mappings and logs need), so the template grants each function no more
// and no less than it uses.
type Manifest struct {
	Env    []Var
	Grants []Grant
}

// Var is an environment variable a function reads.
type Var struct {
	Name string
	// Ref is what template.yaml sets the variable to: the Ref of the
	// resource or parameter with this logical id (a table's name, a
	// queue's URL, a stream's name, a parameter's value). Empty for a
	// variable the template leaves unset, whose default holds in AWS and
	// which only local runs set.
	Ref string
}

// Grant allows Actions on one resource of template.yaml.
type Grant struct {
	// Resource is a logical id.
	Resource string
	// Suffix follows the resource's ARN, e.g. "/index/ByOwner".
	Suffix  string
	Actions []string
}
