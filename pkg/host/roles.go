package host

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/queue/servicebus"
)

// Roles a host plays: all of them by default, or one (stint serve --only),
// so that the webhook, the worker and the sweeps can run as separate
// processes — Azure Container Apps — on a shared queue and ledger.
const (
	RoleAll     = ""
	RoleWebhook = "webhook"
	RoleWorker  = "worker"
	RoleSweep   = "sweep"
)

// CheckRole refuses an unknown role.
func CheckRole(role string) error {
	switch role {
	case RoleAll, RoleWebhook, RoleWorker, RoleSweep:
		return nil
	}
	return fault.Errorf(fault.Invalid, "--only %q: want webhook, worker or sweep", role)
}

func (h *Host) plays(role string) bool { return h.o.Only == RoleAll || h.o.Only == role }

// serviceBus is the host's Service Bus queue, when STINT_QUEUE_URL names
// one.
type serviceBus struct {
	client *azservicebus.Client
	queue  *servicebus.Queue
	name   string
}

// openServiceBus connects to the queue STINT_QUEUE_URL names, with
// STINT_SERVICEBUS_CONNECTION or the configured identity.
func (h *Host) openServiceBus() (*serviceBus, error) {
	raw := h.o.Config.QueueURL
	if raw == "" {
		return nil, nil
	}
	a, err := servicebus.ParseURL("STINT_QUEUE_URL", raw)
	if err != nil {
		return nil, err
	}
	var cred azcore.TokenCredential
	if h.o.Config.ServiceBusConnection == "" {
		if cred, err = entra.Credential(h.o.Config.Tenant, nil); err != nil {
			return nil, err
		}
	}
	client, err := servicebus.Connect(a, h.o.Config.ServiceBusConnection, cred)
	if err != nil {
		return nil, err
	}
	q, err := servicebus.New(client, a.Queue)
	if err != nil {
		client.Close(context.Background())
		return nil, err
	}
	h.closers = append(h.closers, func() error { return client.Close(context.Background()) })
	return &serviceBus{client: client, queue: q, name: a.Queue}, nil
}

// health serves /healthz (the process is up) and /readyz (what its role
// needs is reachable: the ledger, the queue, a Graph token).
func (h *Host) health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if problems := h.Ready(ctx); len(problems) > 0 {
			http.Error(w, "not ready: "+strings.Join(problems, "; "), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// Ready lists what its role needs and cannot reach.
func (h *Host) Ready(ctx context.Context) []string {
	var problems []string
	if err := h.Ledger.DB().PingContext(ctx); err != nil {
		problems = append(problems, "ledger: "+err.Error())
	}
	if h.sb != nil {
		if _, err := h.sb.queue.DeadLetters(ctx, 1); err != nil {
			problems = append(problems, "queue: "+err.Error())
		}
	} else if _, err := h.Queue.Len(ctx); err != nil {
		problems = append(problems, "queue: "+err.Error())
	}
	if h.plays(RoleWorker) || h.plays(RoleSweep) {
		scope := h.directory.Endpoint() + "/.default"
		if _, err := h.directory.Credential().GetToken(ctx, azpolicy.TokenRequestOptions{Scopes: []string{scope}}); err != nil {
			problems = append(problems, "graph token: "+err.Error())
		}
	}
	return problems
}
