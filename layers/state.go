package layers

import (
	"bytes"
	"encoding/gob"
	"fmt"
)

// layerState is what an implicit layer carries from one run to the next
// besides its parameters: the warm starts and the Jacobian penalty's
// random stream. A checkpoint saves it so a resumed run continues exactly.
type layerState struct {
	Warm32      []float32
	Warm64      []float64
	PerSample32 map[int][]float32
	PerSample64 map[int][]float64
	Noise       []byte // the PCG state of the penalty's vectors; nil: none
	NoiseRun    int
}

// MarshalState encodes the layer's run-time state (warm starts, the
// penalty's random stream) for a checkpoint.
func (l *Implicit) MarshalState() ([]byte, error) {
	l.state.mu.Lock()
	st := layerState{}
	st.Warm32, _ = l.state.warm.([]float32)
	st.Warm64, _ = l.state.warm.([]float64)
	st.PerSample32, _ = l.state.perSample.(map[int][]float32)
	st.PerSample64, _ = l.state.perSample.(map[int][]float64)
	l.state.mu.Unlock()
	if n := l.noise; n != nil {
		n.mu.Lock()
		b, err := n.src.MarshalBinary()
		st.Noise, st.NoiseRun = b, n.run
		n.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("layers: implicit layer %q: %w", l.name, err)
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(st); err != nil {
		return nil, fmt.Errorf("layers: implicit layer %q: encoding its state: %w", l.name, err)
	}
	return buf.Bytes(), nil
}

// UnmarshalState restores what MarshalState saved. The layer must be
// built (Apply) first when the state holds the penalty's stream.
func (l *Implicit) UnmarshalState(b []byte) error {
	var st layerState
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&st); err != nil {
		return fmt.Errorf("layers: implicit layer %q: decoding its state: %w", l.name, err)
	}
	l.state.mu.Lock()
	switch {
	case st.Warm32 != nil:
		l.state.warm = st.Warm32
	case st.Warm64 != nil:
		l.state.warm = st.Warm64
	default:
		l.state.warm = nil
	}
	switch {
	case st.PerSample32 != nil:
		l.state.perSample = st.PerSample32
	case st.PerSample64 != nil:
		l.state.perSample = st.PerSample64
	default:
		l.state.perSample = nil
	}
	l.state.mu.Unlock()
	if st.Noise == nil {
		return nil
	}
	if l.noise == nil {
		return fmt.Errorf("layers: implicit layer %q: the state holds the Jacobian penalty's random stream, but the layer has no penalty", l.name)
	}
	l.noise.mu.Lock()
	defer l.noise.mu.Unlock()
	if err := l.noise.src.UnmarshalBinary(st.Noise); err != nil {
		return fmt.Errorf("layers: implicit layer %q: the penalty's random stream: %w", l.name, err)
	}
	l.noise.run = st.NoiseRun
	return nil
}
