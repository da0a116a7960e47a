package csv

import (
	"fmt"

	"pubexport/formats/field"
)

// Options choose the CSV dialect. The zero value is RFC 4180 with a header
// row: comma-separated, fields quoted only when they need it.
type Options struct {
	// Delimiter separates cells: ',' (the default, also when zero), '|' or
	// '\t'. Other runes are refused: they either clash with quoting and
	// line ends or are not understood by the spreadsheets people open
	// exports with.
	Delimiter rune
	// NoHeader omits the header row, for appending to existing tables.
	NoHeader bool
	// GuardFormulas prefixes a ' to string and bytes cells that start with
	// = + - @ TAB or CR, so a spreadsheet shows them as text instead of
	// running them as formulas (CSV injection). It changes the data, so it
	// is off unless asked for; numbers are never guarded, they are written
	// by us and a leading '-' is just a sign.
	GuardFormulas bool
}

// Validate reports a *field.Error for the CSV delimiter when it is not one
// of the supported ones.
func (o Options) Validate() error {
	switch o.Delimiter {
	case 0, ',', '|', '\t':
		return nil
	}
	return &field.Error{Field: field.CSVDelimiter, Value: string(o.Delimiter),
		Problem: fmt.Sprintf("%q is not supported", o.Delimiter), Valid: `use ",", "|" or a tab`}
}

func (o Options) comma() rune {
	if o.Delimiter == 0 {
		return ','
	}
	return o.Delimiter
}
