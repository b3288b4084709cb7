package model

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/test/dynalite"
)

// fixedSeed is the seed every `make test` runs, beside a random one.
const fixedSeed = 20300107

// defaultN is the size of the runs `make test` makes on SQLite, one actor
// at a time; concurrentN the size of its runs on DynamoDB, actors at once
// (dynalite is slower than a SQLite file).
const (
	defaultN    = 300
	concurrentN = 150
)

// TestMain stops the dynalite the DynamoDB runs started.
func TestMain(m *testing.M) {
	code := m.Run()
	if server.srv != nil {
		server.srv.Stop()
	}
	os.Exit(code)
}

// server is the dynalite every DynamoDB run of this process shares, each
// run in a table of its own.
var server struct {
	once sync.Once
	srv  *dynalite.Server
	err  error
}

// dynamoDB starts dynalite once and returns the backend on it. It fails,
// never skips, when dynalite is missing (make tools installs it).
func dynamoDB(tb testing.TB) DynamoDB {
	tb.Helper()
	server.once.Do(func() { server.srv, server.err = dynalite.Start() })
	if server.err != nil {
		tb.Fatal(server.err)
	}
	return DynamoDB{Client: server.srv.Client()}
}

// TestModel runs the model check at N=300 for the fixed seed and for a
// random one (printed, and named in any failure), on SQLite, one actor at
// a time. Never skipped.
func TestModel(t *testing.T) {
	random := rand.Uint64() % 1_000_000_000
	for _, seed := range []uint64{fixedSeed, random} {
		o := Options{Seed: seed, N: defaultN}
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("model check: seed %d, N=%d (re-run: %s)", seed, defaultN, o.Rerun())
			modelCheck(t, o, 20*time.Second)
		})
	}
}

// TestModelConcurrentDynamoDB runs the model check on the DynamoDB ledger
// with the worker, the tick and the reconcile at once, at N=150, for the
// fixed seed and for a random one (printed, and named in any failure).
// Never skipped: without dynalite it fails.
func TestModelConcurrentDynamoDB(t *testing.T) {
	backend := dynamoDB(t)
	random := rand.Uint64() % 1_000_000_000
	for _, seed := range []uint64{fixedSeed, random} {
		o := Options{Seed: seed, N: concurrentN, Backend: backend, Concurrent: true}
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("model check, actors at once on DynamoDB: seed %d, N=%d (re-run: %s)", seed, concurrentN, o.Rerun())
			res := modelCheck(t, o, 20*time.Second)
			// The mode is only worth its name if actors met: the figures
			// count the settles that found their contractor claimed and
			// the ledger writes lost to another writer.
			if s := res.Stats; s.ClaimWaits+s.BusyLive+s.SweepLeft+s.Conflicts == 0 {
				t.Errorf("no actor found another's claim or lost a ledger write to another: nothing ran at once")
			}
		})
	}
}

// TestModelLarge is `make model`: the size and seed come from
// STINT_MODEL_N and STINT_MODEL_SEED (random when empty);
// STINT_MODEL_BACKEND is sqlite (the default) or dynamodb, and
// STINT_MODEL_CONCURRENT 1 or 0 runs the actors at once or one at a time
// (default: at once on dynamodb, one at a time on sqlite); STINT_MODEL_ONLY
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
	switch v := os.Getenv("STINT_MODEL_BACKEND"); v {
	case "", "sqlite":
	case "dynamodb":
		o.Backend, o.Concurrent = dynamoDB(t), true
	default:
		t.Fatalf("STINT_MODEL_BACKEND=%q: want sqlite or dynamodb", v)
	}
	switch v := os.Getenv("STINT_MODEL_CONCURRENT"); v {
	case "":
	case "0", "1":
		o.Concurrent = v == "1"
	default:
		t.Fatalf("STINT_MODEL_CONCURRENT=%q: want 1 (actors at once) or 0 (one at a time)", v)
	}
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
	t.Logf("model check: seed %d, N=%d (%s)", seed, n, o.Rerun())
	modelCheck(t, o, budget)
}

// modelCheck runs one scenario, prints its figures, and fails with every
// violation, the first of each invariant shrunk to a short history. It
// returns the run's result.
func modelCheck(t *testing.T, o Options, shrinkBudget time.Duration) *Result {
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
		return res
	}
	t.Errorf("seed %d, N=%d: %d violations (re-run: %s)\n%s", o.Seed, o.N, len(res.Violations), o.Rerun(), listViolations(res.Violations))
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
		t.Errorf("%s", sh.Report(o))
	}
	return res
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
	fmt.Fprintf(&b, "  windows run at once %d; deliveries that found their contractor claimed: waited, then applied %d, gave up waiting on a settle still running %d, on a claim left by a crashed unit %d, by a unit that had ended %d; contractors a sweep found claimed %d; ledger writes lost to another writer %d\n",
		s.Windows, s.ClaimWaits, s.BusyLive, s.BusyDead, s.BusyLeft, s.SweepLeft, s.Conflicts)
	by := map[int]int{}
	for _, v := range res.Violations {
		by[v.Invariant]++
	}
	fmt.Fprintf(&b, "  violations %d %v, wall time %s", len(res.Violations), by, res.Wall.Round(time.Millisecond))
	return b.String()
}
