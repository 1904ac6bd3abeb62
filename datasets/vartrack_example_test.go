package datasets_test

import (
	"fmt"

	"github.com/implicit-ml/implicit/datasets"
)

// Draw variable-tracking programs of eight statements with two queries at
// depth 2 to 3, print one as text with the depths of its queries, and
// answer a prompt written by hand.
func ExampleVarTrack() {
	s, err := datasets.VarTrack(datasets.VarTrackConfig{Statements: 8, Queries: 2, MinDepth: 2, MaxDepth: 3}, 100, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(datasets.VarTrackText(s.Tokens[0]), s.Depths[0])
	fmt.Println("prompt", s.PromptLen(), "tokens, model input", s.InputShape(), "target", s.TargetShape())

	a, b, c := 10, 11, 12 // the variables a, b, c
	prompt := []int{a, 7, b, a, c, b, datasets.VarTrackQuery, c, datasets.VarTrackAnswer}
	ans, err := datasets.VarTrackAnswers(prompt)
	fmt.Println(datasets.VarTrackText(prompt), ans, err)
	// Output:
	// k=0; p=4; c=2; m=6; r=k; w=r; a=m; v=a; ?w v: 0 6 [2 2]
	// prompt 20 tokens, model input [21] target [21 38]
	// a=7; b=a; c=b; ?c: [7] <nil>
}
