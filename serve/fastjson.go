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

// number reads the next JSON number, checked against JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. It returns its text,
// whether it is an integer (no fraction or exponent), and its value when
// that is exact without strconv (exact set): at most 15 significant
// digits and a power of ten within ±22, where float64(m)·10^e or
// float64(m)/10^e is the correctly rounded value (Clinger's fast path) —
// the common case for inputs written from float32 (9 digits at most),
// for which strconv would read the digits a second time.
func (p *fastParser) number() (text []byte, integer bool, v float64, exact, ok bool) {
	p.space()
	start, b := p.i, p.b
	var m uint64 // the significant digits read, while they fit 15
	nd, exp10 := 0, 0
	digits := func(fraction bool) int {
		n := 0
		for ; p.i < len(b) && b[p.i] >= '0' && b[p.i] <= '9'; p.i++ {
			n++
			if m == 0 && b[p.i] == '0' { // a leading zero: not significant
				if fraction {
					exp10--
				}
				continue
			}
			if nd++; nd <= 15 {
				m = m*10 + uint64(b[p.i]-'0')
				if fraction {
					exp10--
				}
			}
		}
		return n
	}
	neg := p.i < len(b) && b[p.i] == '-'
	if neg {
		p.i++
	}
	switch {
	case p.i < len(b) && b[p.i] == '0':
		p.i++
	case digits(false) == 0:
		return nil, false, 0, false, false
	}
	integer = true
	if p.i < len(b) && b[p.i] == '.' {
		p.i++
		if digits(true) == 0 {
			return nil, false, 0, false, false
		}
		integer = false
	}
	if p.i < len(b) && (b[p.i] == 'e' || b[p.i] == 'E') {
		p.i++
		sign := 1
		if p.i < len(b) && (b[p.i] == '+' || b[p.i] == '-') {
			if b[p.i] == '-' {
				sign = -1
			}
			p.i++
		}
		e, n := 0, 0
		for ; p.i < len(b) && b[p.i] >= '0' && b[p.i] <= '9'; p.i++ {
			n++
			if e < 1e6 {
				e = e*10 + int(b[p.i]-'0')
			}
		}
		if n == 0 {
			return nil, false, 0, false, false
		}
		exp10 += sign * e
		integer = false
	}
	v, exact = exactFloat(m, nd, exp10)
	if neg {
		v = -v
	}
	return b[start:p.i], integer, v, exact, true
}

// pow10 are the powers of ten that float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// exactFloat is m·10^exp10 when one rounding gives it: m of nd ≤ 15
// significant digits (below 2⁵³) times or over an exact power of ten.
func exactFloat(m uint64, nd, exp10 int) (float64, bool) {
	switch {
	case m == 0:
		return 0, true
	case nd > 15 || exp10 < -22 || exp10 > 22:
		return 0, false
	case exp10 < 0:
		return float64(m) / pow10[-exp10], true
	}
	return float64(m) * pow10[exp10], true
}

// float reads a number as encoding/json does (ParseFloat of its text,
// which the exact path equals); one out of float64's range is not in the
// subset.
func (p *fastParser) float() (float64, bool) {
	text, _, v, exact, ok := p.number()
	if !ok || exact {
		return v, ok
	}
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(text), len(text)), 64)
	return v, err == nil
}

// int reads an integer number that fits an int.
func (p *fastParser) int() (int, bool) {
	text, integer, _, _, ok := p.number()
	if !ok || !integer {
		return 0, false
	}
	v, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(text), len(text)), 10, 0)
	return int(v), err == nil
}
