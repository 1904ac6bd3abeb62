package serve

import (
	"errors"
	"strconv"
	"unsafe"
)

// errNotFast says a body is outside the fast path's subset of JSON; the
// body is then decoded by encoding/json, which gives the authoritative
// result or error.
var errNotFast = errors.New("serve: not in the fast subset")

// fastDecode decodes the common form of a predict request — an object
// with the keys "inputs" and optionally "budget", spelled so, each once,
// numbers and whitespace only — several times faster than encoding/json,
// whose cost per number dominates a request of a few hundred inputs. It
// accepts only what encoding/json accepts, into the same values
// (FuzzFastDecode checks it); anything else is errNotFast.
func fastDecode(b []byte) (*PredictRequest, error) {
	p := fastParser{b: b}
	req := &PredictRequest{}
	if !p.byte('{') {
		return nil, errNotFast
	}
	seen := map[string]bool{}
	for first := true; ; first = false {
		if p.byte('}') {
			break
		}
		if !first && !p.byte(',') {
			return nil, errNotFast
		}
		key, ok := p.key()
		if !ok || seen[key] {
			return nil, errNotFast
		}
		seen[key] = true
		switch key {
		case "inputs":
			ok = p.inputs(req)
		case "budget":
			req.Budget = &Budget{}
			ok = p.budget(req.Budget)
		default:
			ok = false
		}
		if !ok {
			return nil, errNotFast
		}
	}
	p.space()
	if p.i != len(p.b) {
		return nil, errNotFast
	}
	return req, nil
}

// fastParser reads b from i.
type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

// byte consumes c after optional whitespace.
func (p *fastParser) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// key reads "name": with a name of lower-case letters and underscores.
func (p *fastParser) key() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.b) && (p.b[p.i] >= 'a' && p.b[p.i] <= 'z' || p.b[p.i] == '_') {
		p.i++
	}
	if p.i == len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	name := string(p.b[start:p.i])
	p.i++
	return name, p.byte(':')
}

// inputs reads [[n, …], …].
func (p *fastParser) inputs(req *PredictRequest) bool {
	if !p.byte('[') {
		return false
	}
	req.Inputs = [][]float64{}
	if p.byte(']') {
		return true
	}
	for {
		row, ok := p.row()
		if !ok {
			return false
		}
		req.Inputs = append(req.Inputs, row)
		if p.byte(']') {
			return true
		}
		if !p.byte(',') {
			return false
		}
	}
}

// row reads [n, …].
func (p *fastParser) row() ([]float64, bool) {
	if !p.byte('[') {
		return nil, false
	}
	row := []float64{}
	if p.byte(']') {
		return row, true
	}
	for {
		v, ok := p.float()
		if !ok {
			return nil, false
		}
		row = append(row, v)
		if p.byte(']') {
			return row, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// budget reads {"key": n, …} with the budget's keys, each once.
func (p *fastParser) budget(b *Budget) bool {
	if !p.byte('{') {
		return false
	}
	seen := map[string]bool{}
	for first := true; ; first = false {
		if p.byte('}') {
			return true
		}
		if !first && !p.byte(',') {
			return false
		}
		key, ok := p.key()
		if !ok || seen[key] {
			return false
		}
		seen[key] = true
		switch key {
		case "iterations":
			b.Iterations, ok = p.int()
		case "max_iter":
			b.MaxIter, ok = p.int()
		case "tol":
			b.Tol, ok = p.float()
		case "deadline_ms":
			b.DeadlineMs, ok = p.float()
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
}

// number returns the next JSON number's text, checked against JSON's
// grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and whether it
// is an integer (no fraction or exponent).
func (p *fastParser) number() (text []byte, integer, ok bool) {
	p.space()
	start, b := p.i, p.b
	digits := func() int {
		n := 0
		for p.i < len(b) && b[p.i] >= '0' && b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(b) && b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(b) && b[p.i] == '0':
		p.i++
	case digits() == 0:
		return nil, false, false
	}
	integer = true
	if p.i < len(b) && b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, false, false
		}
		integer = false
	}
	if p.i < len(b) && (b[p.i] == 'e' || b[p.i] == 'E') {
		p.i++
		if p.i < len(b) && (b[p.i] == '+' || b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, false, false
		}
		integer = false
	}
	return b[start:p.i], integer, true
}

// float reads a number as encoding/json does (ParseFloat of its text);
// one out of float64's range is not in the subset.
func (p *fastParser) float() (float64, bool) {
	text, _, ok := p.number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(text), len(text)), 64)
	return v, err == nil
}

// int reads an integer number that fits an int.
func (p *fastParser) int() (int, bool) {
	text, integer, ok := p.number()
	if !ok || !integer {
		return 0, false
	}
	v, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(text), len(text)), 10, 0)
	return int(v), err == nil
}
