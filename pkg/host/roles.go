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

	"github.com/stintdev/stint/pkg/config"
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

// ServiceBus is the host's Service Bus queue, when STINT_QUEUE_URL names
// one.
type ServiceBus struct {
	*servicebus.Queue
	client *azservicebus.Client
	name   string
}

// openServiceBus connects to the queue STINT_QUEUE_URL names, if any.
func (h *Host) openServiceBus() (*ServiceBus, error) {
	if h.o.Config.QueueURL == "" {
		return nil, nil
	}
	sb, err := OpenServiceBus(h.o.Config)
	if err != nil {
		return nil, err
	}
	h.closers = append(h.closers, sb.Close)
	return sb, nil
}

// OpenServiceBus connects to the Service Bus queue STINT_QUEUE_URL names,
// with STINT_SERVICEBUS_CONNECTION or, without it, the host's identity
// (entra.ResourceCredential: the managed identity in Azure).
func OpenServiceBus(cfg config.Config) (*ServiceBus, error) {
	a, err := servicebus.ParseURL("STINT_QUEUE_URL", cfg.QueueURL)
	if err != nil {
		return nil, err
	}
	var cred azcore.TokenCredential
	if cfg.ServiceBusConnection == "" {
		if cred, err = entra.ResourceCredential(cfg.Tenant, nil); err != nil {
			return nil, err
		}
	}
	client, err := servicebus.Connect(a, cfg.ServiceBusConnection, cred)
	if err != nil {
		return nil, err
	}
	q, err := servicebus.New(client, a.Queue)
	if err != nil {
		client.Close(context.Background())
		return nil, err
	}
	return &ServiceBus{client: client, Queue: q, name: a.Queue}, nil
}

// Close closes the connection.
func (sb *ServiceBus) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return sb.client.Close(ctx)
}

// health serves /healthz (the process is up), /readyz (what its role
// needs is reachable: the ledger, the queue, a Graph token) and /metrics
// (what its role reports, in the Prometheus format: metrics.go).
func (h *Host) health(mux *http.ServeMux) {
	mux.Handle("GET /metrics", h.obs.m.Handler())
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
		if _, err := h.sb.DeadLetters(ctx, 1); err != nil {
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
