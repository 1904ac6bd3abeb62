package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/implicit-ml/implicit/internal/killpoint"
)

// checkpointMagic starts every checkpoint file; the line after it holds
// the SHA-256 of the payload.
const checkpointMagic = "IMPLICIT-CHECKPOINT 1\n"

// checkpointTempPattern names SaveCheckpoint's temporary files; a write
// that was killed leaves one, which RemoveStaleTemps deletes.
const checkpointTempPattern = ".checkpoint-*.tmp"

// RemoveStaleTemps deletes the temporary files a killed checkpoint write
// left in dir (files named like checkpointTempPattern). Only one run
// writes a folder at a time, so every such file is stale when a run
// starts.
func RemoveStaleTemps(dir string) error {
	stale, err := filepath.Glob(filepath.Join(dir, checkpointTempPattern))
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for _, f := range stale {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("train: removing the stale checkpoint temporary %s: %w", f, err)
		}
	}
	return nil
}

// Checkpoint is everything needed to continue a training run exactly:
// parameter values, optimizer state, the data position (the order of
// every epoch is a function of the seed, so epoch and step suffice), the
// configuration that must match, and the statistics accumulated so far.
// Code supplies the structure; loading rejects mismatches.
type Checkpoint struct {
	Model string
	// Fingerprint holds the settings a resumed run must share.
	Fingerprint map[string]string
	// Epoch and StepInEpoch are the position of the next step; Step counts
	// all steps taken.
	Epoch, StepInEpoch, Step int
	// Done marks a finished run.
	Done      bool
	Params    []SavedTensor
	Optimizer OptimizerState
	// Statistics of the run so far.
	TrainSeconds float64
	PeakHeap     uint64
	Samples      int
	FirstLoss    float64
	LastLoss     float64
	// The mean losses of the first and the last finished epoch.
	FirstEpochLoss, LastEpochLoss float64
	Solver                        SolverStats
	// Running sums of the current log interval and epoch.
	IntervalLoss   float64
	IntervalSteps  int
	IntervalSolver SolverStats
	EpochLoss      float64
	EpochSteps     int
	EpochSolver    SolverStats
	Skipped        int
	// SpectralRadius is the last monitored ρ(J_f(z*)), kept so a finished
	// run reports it after a resume.
	SpectralRadius float64
	// Best, BestScore and HasBest are Config.Best's parameters and score
	// so far; LRScale the rate's scale after its spikes (0 reads as 1),
	// Spikes their count.
	Best      []SavedTensor
	BestScore float64
	HasBest   bool
	LRScale   float64
	Spikes    int
	// ModelState is the model's own run-time state (Net.State: per-sample
	// warm starts, the Jacobian penalty's random stream), so a resumed run
	// continues exactly as an uninterrupted one.
	ModelState []byte
}

// SavedTensor is a parameter's value.
type SavedTensor struct {
	Name  string
	Shape []int
	Dtype string
	Data  []float64
}

// ErrNoCheckpoint is returned by LoadCheckpoint when the file is absent.
var ErrNoCheckpoint = errors.New("train: no checkpoint")

// SaveCheckpoint writes c to path atomically: to a temporary file in the
// same folder, synced, then renamed over path, then the folder synced. A
// crash leaves either the old checkpoint or the new one, never a torn file.
func SaveCheckpoint(path string, c *Checkpoint) error {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(c); err != nil {
		return fmt.Errorf("train: encoding checkpoint: %w", err)
	}
	sum := sha256.Sum256(payload.Bytes())
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	f, err := os.CreateTemp(dir, checkpointTempPattern)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := fmt.Fprintf(f, "%s%s\n", checkpointMagic, hex.EncodeToString(sum[:])); err != nil {
		f.Close()
		return fmt.Errorf("train: writing checkpoint: %w", err)
	}
	if _, err := f.Write(payload.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("train: writing checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("train: syncing checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	killpoint.At("checkpoint:%s:%d", c.Model, c.Step)
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every file system syncs folders
		d.Close()
	}
	return nil
}

// LoadCheckpoint reads and verifies the checkpoint at path. A missing file
// gives ErrNoCheckpoint; a corrupt one an error saying so.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoCheckpoint
	}
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	corrupt := func(why string) error {
		return fmt.Errorf("train: checkpoint %s is corrupt (%s); it was left untouched: remove it to start over, or resume from a good copy", path, why)
	}
	if !bytes.HasPrefix(raw, []byte(checkpointMagic)) {
		return nil, corrupt("not a checkpoint file: bad header")
	}
	rest := raw[len(checkpointMagic):]
	nl := bytes.IndexByte(rest, '\n')
	if nl != 2*sha256.Size {
		return nil, corrupt("missing checksum")
	}
	want, err := hex.DecodeString(string(rest[:nl]))
	if err != nil {
		return nil, corrupt("bad checksum line")
	}
	payload := rest[nl+1:]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], want) {
		return nil, corrupt("checksum mismatch")
	}
	var c Checkpoint
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&c); err != nil {
		return nil, corrupt("undecodable payload: " + err.Error())
	}
	return &c, nil
}

// checkFingerprint reports every setting that differs.
func (c *Checkpoint) checkFingerprint(path string, want map[string]string) error {
	var diffs []string
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range c.Fingerprint {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if c.Fingerprint[k] != want[k] {
			diffs = append(diffs, fmt.Sprintf("%s: checkpoint %q, now %q", k, c.Fingerprint[k], want[k]))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("train: checkpoint %s was written with other settings (%s); resume with the same flags, or start over in a new -out folder", path, strings.Join(diffs, "; "))
	}
	return nil
}

// saveParams copies the parameters' values.
func saveParams(ps G.Nodes) []SavedTensor {
	out := make([]SavedTensor, len(ps))
	for i, p := range ps {
		v := p.Value().(tensor.Tensor)
		st := SavedTensor{Name: p.Name(), Shape: append([]int(nil), v.Shape()...), Dtype: v.Dtype().String()}
		switch d := v.Data().(type) {
		case []float64:
			st.Data = append([]float64(nil), d...)
		case []float32:
			st.Data = make([]float64, len(d))
			for j, x := range d {
				st.Data[j] = float64(x)
			}
		}
		out[i] = st
	}
	return out
}

// restoreParams writes saved values into the parameters, rejecting any
// difference in names, shapes or dtypes.
func restoreParams(path string, ps G.Nodes, saved []SavedTensor) error {
	if err := checkSaved(path, ps, saved); err != nil {
		return err
	}
	writeParams(ps, saved)
	return nil
}

// checkSaved checks that saved values fit the parameters ps: the same
// names, shapes, dtypes and sizes.
func checkSaved(path string, ps G.Nodes, saved []SavedTensor) error {
	if len(ps) != len(saved) {
		return fmt.Errorf("train: checkpoint %s holds %d parameters, the model has %d; it was written by another model", path, len(saved), len(ps))
	}
	for i, p := range ps {
		v := p.Value().(tensor.Tensor)
		s := saved[i]
		if s.Name != p.Name() || !tensor.Shape(s.Shape).Eq(v.Shape()) || s.Dtype != v.Dtype().String() {
			return fmt.Errorf("train: checkpoint %s parameter %d is %s %v %s, the model's is %s %v %v", path, i, s.Name, s.Shape, s.Dtype, p.Name(), v.Shape(), v.Dtype())
		}
		if len(s.Data) != v.Shape().TotalSize() {
			return fmt.Errorf("train: checkpoint %s is inconsistent: parameter %s of shape %v holds %d values; remove it to start over", path, s.Name, s.Shape, len(s.Data))
		}
	}
	return nil
}
