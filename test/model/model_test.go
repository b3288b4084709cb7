package model

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixedSeed is the seed every `make test` runs, beside a random one.
const fixedSeed = 20300107

// defaultN is the size of the runs `make test` makes.
const defaultN = 300

// TestModel runs the model check at N=300 for the fixed seed and for a
// random one (printed, and named in any failure). Never skipped.
func TestModel(t *testing.T) {
	random := rand.Uint64() % 1_000_000_000
	for _, seed := range []uint64{fixedSeed, random} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("model check: seed %d, N=%d (re-run: make model N=%d SEED=%d)", seed, defaultN, defaultN, seed)
			modelCheck(t, Options{Seed: seed, N: defaultN}, 20*time.Second)
		})
	}
}

// TestModelLarge is `make model`: the size and seed come from
// STINT_MODEL_N and STINT_MODEL_SEED (random when empty); STINT_MODEL_ONLY
// (people, "c17,b3") and STINT_MODEL_DROP (step numbers) re-run a shrunk
// break; STINT_MODEL_TRACE=1 prints the whole history; STINT_MODEL_SHRINK
// is the time shrinking may take (default 3m, 0 for none);
// STINT_MODEL_VIOLATIONS=path writes every violation there, one a line.
// Skipped unless
// STINT_MODEL_N is set.
func TestModelLarge(t *testing.T) {
	nv := os.Getenv("STINT_MODEL_N")
	if nv == "" {
		t.Skip("the large model check runs with make model N=… [SEED=…]")
	}
	n, err := strconv.Atoi(nv)
	if err != nil || n < 1 {
		t.Fatalf("STINT_MODEL_N=%q: want a positive number of contractors", nv)
	}
	seed := rand.Uint64() % 1_000_000_000
	if v := os.Getenv("STINT_MODEL_SEED"); v != "" {
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("STINT_MODEL_SEED=%q: want a number", v)
		}
	}
	o := Options{Seed: seed, N: n, Trace: os.Getenv("STINT_MODEL_TRACE") != ""}
	if v := os.Getenv("STINT_MODEL_ONLY"); v != "" {
		o.Only = set(strings.Split(v, ","))
	}
	if v := os.Getenv("STINT_MODEL_DROP"); v != "" {
		o.Drop = map[int]bool{}
		for _, s := range strings.Split(v, ",") {
			k, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("STINT_MODEL_DROP=%q: want step numbers separated by commas", v)
			}
			o.Drop[k] = true
		}
	}
	budget := 3 * time.Minute
	if v := os.Getenv("STINT_MODEL_SHRINK"); v != "" {
		if budget, err = time.ParseDuration(v); err != nil {
			t.Fatalf("STINT_MODEL_SHRINK=%q: want a duration such as 5m (0 to not shrink)", v)
		}
	}
	t.Logf("model check: seed %d, N=%d", seed, n)
	modelCheck(t, o, budget)
}

// modelCheck runs one scenario, prints its figures, and fails with every
// violation, the first of each invariant shrunk to a short history.
func modelCheck(t *testing.T, o Options, shrinkBudget time.Duration) {
	ctx := context.Background()
	sc := Generate(o.Seed, o.N)
	o.Dir = t.TempDir()
	if o.Log == nil {
		if path := os.Getenv("STINT_MODEL_LOG"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			o.Log = f
		}
	}
	runDir, err := os.MkdirTemp(o.Dir, "run-")
	if err != nil {
		t.Fatal(err)
	}
	ro := o
	ro.Dir = runDir
	res, err := Run(ctx, sc, ro)
	if err != nil {
		t.Fatalf("seed %d: the simulation could not run: %v", o.Seed, err)
	}
	t.Log(Figures(o.Seed, res))
	if o.Trace {
		for _, l := range res.Lines {
			t.Logf("  %s  %s", stamp(l.At), l.Text)
		}
	}
	if path := os.Getenv("STINT_MODEL_VIOLATIONS"); path != "" {
		var b strings.Builder
		for _, v := range res.Violations {
			fmt.Fprintln(&b, v)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(res.Violations) == 0 {
		return
	}
	t.Errorf("seed %d, N=%d: %d violations (re-run: make model N=%d SEED=%d)\n%s", o.Seed, o.N, len(res.Violations), o.N, o.Seed, listViolations(res.Violations))
	deadline := time.Now().Add(shrinkBudget)
	for _, v := range firstPerInvariant(res.Violations) {
		left := time.Until(deadline)
		if shrinkBudget <= 0 {
			continue
		}
		if left <= 0 {
			t.Logf("shrinking budget spent; invariant %d not shrunk (re-run with make model to shrink longer)", v.Invariant)
			continue
		}
		sh, err := Shrink(ctx, sc, o, v, left)
		if err != nil {
			t.Errorf("shrinking %s: %v", v, err)
			continue
		}
		t.Errorf("%s", sh.Report(o.Seed, o.N))
	}
}

// listViolations prints violations grouped by invariant, the first few
// of each.
func listViolations(vs []Violation) string {
	var b strings.Builder
	by := map[int][]Violation{}
	for _, v := range vs {
		by[v.Invariant] = append(by[v.Invariant], v)
	}
	for _, n := range sortedInts(by) {
		fmt.Fprintf(&b, "invariant %d (%s): %d\n", n, Invariants[n], len(by[n]))
		for i, v := range by[n] {
			if i == 5 {
				fmt.Fprintf(&b, "    … and %d more\n", len(by[n])-5)
				break
			}
			fmt.Fprintf(&b, "    %s: %s\n", v.Entity, v.Detail)
		}
	}
	return b.String()
}

func firstPerInvariant(vs []Violation) []Violation {
	var out []Violation
	seen := map[int]bool{}
	for _, v := range vs {
		if !seen[v.Invariant] {
			seen[v.Invariant] = true
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b Violation) int { return a.Invariant - b.Invariant })
	return out
}

func sortedInts[V any](m map[int]V) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Figures prints a run's figures.
func Figures(seed uint64, res *Result) string {
	s := res.Stats
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d contractors (%d engagements), %d bystanders\n", seed, s.Contractors, s.Engagements, s.Bystanders)
	fmt.Fprintf(&b, "  events %d, sends %d (duplicates %d), deliveries %d (redeliveries %d: lost acks %d, crashes %d, retries %d), dead-lettered %d (replayed when settling %d)\n",
		s.Events, s.Sends, s.DuplicateSends, s.Deliveries, s.Redeliveries, s.LostAcks, s.Crashes, s.Retries, s.DeadLettered, s.Replayed)
	for _, reason := range sortedKeys(s.DeadLetterReasons) {
		fmt.Fprintf(&b, "  dead-lettered %d× %s\n", s.DeadLetterReasons[reason], reason)
	}
	fmt.Fprintf(&b, "  Graph requests %d (writes %d), faults injected %d %v\n", s.GraphRequests, s.GraphWrites, s.FaultCount(), s.Faults)
	fmt.Fprintf(&b, "  admin actions %d %v (skipped, not applicable: %d), ticks %d, reconciles %d, settle rounds %d\n",
		s.AdminCount(), s.Admin, s.AdminSkipped, s.Ticks, s.Reconciles, s.SettleRounds)
	by := map[int]int{}
	for _, v := range res.Violations {
		by[v.Invariant]++
	}
	fmt.Fprintf(&b, "  violations %d %v, wall time %s", len(res.Violations), by, res.Wall.Round(time.Millisecond))
	return b.String()
}
