package host

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/policy"
	"github.com/stintdev/stint/pkg/wire"
)

// PolicyRequest asks a host for the work of stint policy.
type PolicyRequest struct {
	// Command is plan, apply or export.
	Command string `json:"command"`
	// Enforce asks for enabled policies (plan, apply).
	Enforce bool `json:"enforce,omitempty"`
}

// PolicyAnswer is what it did: the plan (applied, for apply), or the
// exported files.
type PolicyAnswer struct {
	Plan  policy.Plan   `json:"plan"`
	Files []policy.File `json:"files,omitempty"`
}

// Policy plans, applies or exports the Conditional Access policies on the
// host's tenant and ledger.
func (h *Host) Policy(ctx context.Context, req PolicyRequest) (PolicyAnswer, error) {
	var a PolicyAnswer
	if req.Command == "export" {
		var err error
		a.Files, err = policy.Export(ctx, h.directory, h.Groups)
		return a, err
	}
	m, err := wire.Policies(h.directory, h.Ledger, h.Groups, h.o.Config.Policies, "stint policy apply", h.o.Log)
	if err != nil {
		return a, err
	}
	switch req.Command {
	case "plan":
		a.Plan, err = m.Plan(ctx, req.Enforce)
	case "apply":
		a.Plan, err = m.Apply(ctx, req.Enforce)
	default:
		err = fault.Errorf(fault.Invalid, "stint policy: unknown command %q: want plan, apply or export", req.Command)
	}
	return a, err
}

func (h *Host) controlPolicy(w http.ResponseWriter, r *http.Request) {
	var req PolicyRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, `stint control: want {"command":"plan"|"apply"|"export","enforce":bool}`, http.StatusBadRequest)
		return
	}
	a, err := h.Policy(r.Context(), req)
	answer := struct {
		PolicyAnswer
		Error string `json:"error,omitempty"`
	}{PolicyAnswer: a}
	if err != nil {
		answer.Error = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

// RemotePolicy runs Policy in the stint serve that owns the data directory.
func RemotePolicy(ctx context.Context, data string, req PolicyRequest) (PolicyAnswer, error) {
	var answer struct {
		PolicyAnswer
		Error string `json:"error"`
	}
	if err := control(ctx, data, http.MethodPost, "/policy", req, &answer); err != nil {
		return PolicyAnswer{}, err
	}
	if answer.Error != "" {
		return answer.PolicyAnswer, fmt.Errorf("%s", answer.Error)
	}
	return answer.PolicyAnswer, nil
}
