package datasets

import (
	"fmt"
	"strings"
)

// The variable-tracking vocabulary: the digits 0–9 are tokens 0–9, the
// variables a … z tokens 10–35, then "?" and ":". A statement is two
// tokens, the variable it defines and its value: the "=" and ";" of its
// text are implied by the position (a statement starts at every even
// position of the program), as a tokenizer's layout would imply them.
const (
	varLetters = 26
	varName    = 10
	// VarTrackQuery opens the queries, VarTrackAnswer the answers.
	VarTrackQuery  = varName + varLetters
	VarTrackAnswer = VarTrackQuery + 1
	// VarTrackVocab is the number of tokens.
	VarTrackVocab = VarTrackAnswer + 1
)

// isName says whether id is a variable.
func isName(id int) bool { return id >= varName && id < VarTrackQuery }

// VarTrackToken returns token id's text ("7", "b", "?", ":"), or "⟨id⟩"
// for an id outside the vocabulary.
func VarTrackToken(id int) string {
	switch {
	case id >= 0 && id < 10:
		return string(rune('0' + id))
	case isName(id):
		return string(rune('a' + id - varName))
	case id == VarTrackQuery:
		return "?"
	case id == VarTrackAnswer:
		return ":"
	}
	return fmt.Sprintf("⟨%d⟩", id)
}

// VarTrackText writes a sequence that starts with a program as text:
// "a=5; c=a; ?c b: 5 3" — the statements (two tokens each, up to the
// first "?") as "x=v;", the rest as VarTrackWords.
func VarTrackText(tokens []int) string {
	var b strings.Builder
	i := 0
	for ; i+1 < len(tokens) && tokens[i] != VarTrackQuery; i += 2 {
		fmt.Fprintf(&b, "%s=%s; ", VarTrackToken(tokens[i]), VarTrackToken(tokens[i+1]))
	}
	rest := tokens[i:]
	if len(rest) > 0 && rest[0] == VarTrackQuery {
		b.WriteString("?")
		rest = rest[1:]
	}
	b.WriteString(strings.ReplaceAll(VarTrackWords(rest), " :", ":"))
	return strings.TrimSpace(b.String())
}

// VarTrackWords writes tokens as their texts separated by spaces (a
// completion: "5 3").
func VarTrackWords(tokens []int) string {
	words := make([]string, len(tokens))
	for i, id := range tokens {
		words[i] = VarTrackToken(id)
	}
	return strings.Join(words, " ")
}

// VarTrackAnswers computes the answers of a prompt (the program, "?",
// the queries, ":"): the value of each queried variable. A malformed
// prompt — a variable used before it is defined or defined twice, a
// token out of place — is an error naming the position.
func VarTrackAnswers(prompt []int) ([]int, error) {
	value := map[int]int{} // variable token → digit
	i := 0
	for ; i+1 < len(prompt) && prompt[i] != VarTrackQuery; i += 2 {
		def, val := prompt[i], prompt[i+1]
		if !isName(def) {
			return nil, fmt.Errorf("datasets: token %d (%s) should be the variable a statement defines", i, VarTrackToken(def))
		}
		if _, twice := value[def]; twice {
			return nil, fmt.Errorf("datasets: token %d defines %s a second time", i, VarTrackToken(def))
		}
		switch v, ok := value[val]; {
		case val >= 0 && val < 10:
			value[def] = val
		case isName(val) && ok:
			value[def] = v
		default:
			return nil, fmt.Errorf("datasets: token %d (%s) is neither a digit nor a variable defined before it", i+1, VarTrackToken(val))
		}
	}
	if i >= len(prompt) || prompt[i] != VarTrackQuery {
		return nil, fmt.Errorf("datasets: the prompt has no %q after its statements", "?")
	}
	var answers []int
	for i++; i < len(prompt) && prompt[i] != VarTrackAnswer; i++ {
		v, ok := value[prompt[i]]
		if !isName(prompt[i]) || !ok {
			return nil, fmt.Errorf("datasets: query token %d (%s) is not a defined variable", i, VarTrackToken(prompt[i]))
		}
		answers = append(answers, v)
	}
	if i != len(prompt)-1 {
		return nil, fmt.Errorf("datasets: the prompt should end with the queries and %q", ":")
	}
	return answers, nil
}
