package terraform

import (
	"bytes"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/stintdev/stint/pkg/cli"
	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/ledger/postgres"
	"github.com/stintdev/stint/pkg/queue/servicebus"
)

// azureHost is one container app or job of the Azure module: the role
// stint plays in it and the managed identity it runs as.
type azureHost struct {
	addr     string
	role     config.Binary
	identity string // the azurerm_user_assigned_identity it acts as
	// extra are the other identities assigned to it, and why.
	extra []string
}

var azureHosts = []azureHost{
	{"azurerm_container_app.webhook", config.Webhook, "webhook", nil},
	// The scaler identity is the KEDA rule's (identities.tf).
	{"azurerm_container_app.worker", config.Worker, "runtime", []string{"scaler"}},
	{"azurerm_container_app_job.tick", config.Sweep, "runtime", nil},
	{"azurerm_container_app_job.reconcile", config.Sweep, "runtime", nil},
}

// azureNotGiven are the settings the managed identity takes the place
// of: the app's secret, certificate and federated token file (config
// refuses them beside STINT_AZURE_FEDERATION=managed-identity; the
// certificate's password goes with the certificate) and the Service Bus
// connection string (the namespace has no SAS keys), and
// STINT_NOTIFY_SECRET (the module offers only the unsigned notification
// formats, teams and slack). Every other setting
// a role reads is given, empty when the deployment leaves it to stint's
// default.
var azureNotGiven = []string{
	"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
	"AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE",
	"STINT_SERVICEBUS_CONNECTION",
	"STINT_NOTIFY_SECRET",
}

// container returns the one container of an app's or a job's template.
func container(tb testing.TB, r *hclsyntax.Block) *hclsyntax.Block {
	tb.Helper()
	tmpl := blocks(r, "template")
	if len(tmpl) != 1 {
		tb.Fatalf("%s: %d template blocks, want 1", strings.Join(r.Labels, "."), len(tmpl))
	}
	cs := blocks(tmpl[0], "container")
	if len(cs) != 1 {
		tb.Fatalf("%s: %d containers, want 1", strings.Join(r.Labels, "."), len(cs))
	}
	return cs[0]
}

// appEnv is a container's environment: the settings given as values, and
// those given from a Container Apps secret (name => the secret's name).
type appEnv struct {
	values  map[string]hclsyntax.Expression
	secrets map[string]string
}

func (e appEnv) names() []string {
	names := append(sorted(e.values), sorted(e.secrets)...)
	slices.Sort(names)
	return names
}

// envOf reads a container's env blocks: written out, or one dynamic "env"
// block over an object (name => value).
func (m *module) envOf(t *testing.T, c *hclsyntax.Block) appEnv {
	t.Helper()
	env := appEnv{values: map[string]hclsyntax.Expression{}, secrets: map[string]string{}}
	str := func(e hcl.Expression) string {
		v := m.eval(t, e, nil)
		if !v.IsKnown() || v.Type() != cty.String {
			t.Fatalf("%s: not a constant string", e.Range())
		}
		return v.AsString()
	}
	for _, b := range blocks(c, "env") {
		name := str(attr(t, b, "name"))
		if s := b.Body.Attributes["secret_name"]; s != nil {
			env.secrets[name] = str(s.Expr)
			if b.Body.Attributes["value"] != nil {
				t.Errorf("env %s has both secret_name and value", name)
			}
			continue
		}
		env.values[name] = attr(t, b, "value")
	}
	for _, d := range blocks(c, "dynamic") {
		contents := blocks(d, "content")
		if d.Labels[0] != "env" || len(contents) != 1 {
			t.Fatalf("%s: a dynamic %q block, want only dynamic \"env\" with one content block", d.Range(), d.Labels[0])
		}
		if ref(attr(t, contents[0], "name")) != "env.key" || ref(attr(t, contents[0], "value")) != "env.value" || contents[0].Body.Attributes["secret_name"] != nil {
			t.Fatalf("%s: the dynamic env must be name = env.key, value = env.value", d.Range())
		}
		for name, value := range m.objectItems(t, attr(t, d, "for_each")) {
			env.values[name] = value
		}
	}
	return env
}

// identities are the user-assigned identities a block's identity block
// assigns, by name ("runtime", "pull"), in any order.
func (m *module) identities(t *testing.T, r *hclsyntax.Block) []string {
	t.Helper()
	ids := blocks(r, "identity")
	if len(ids) != 1 {
		t.Fatalf("%s: %d identity blocks, want 1", strings.Join(r.Labels, "."), len(ids))
	}
	if v := m.eval(t, attr(t, ids[0], "type"), nil); v.AsString() != "UserAssigned" {
		t.Errorf("%s: identity type %s, want UserAssigned (no system-assigned identity)", strings.Join(r.Labels, "."), v.AsString())
	}
	var names []string
	for _, tr := range attr(t, ids[0], "identity_ids").Variables() {
		s := traversalString(tr)
		if s == "local.pull_identity_ids" {
			names = append(names, "pull")
			continue
		}
		name, ok := strings.CutPrefix(strings.TrimSuffix(s, ".id"), "azurerm_user_assigned_identity.")
		if !ok {
			t.Fatalf("%s: identity_ids refers to %s, want user-assigned identities", strings.Join(r.Labels, "."), s)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func TestEachAzureAppIsGivenWhatItsRoleReads(t *testing.T) {
	m := loadAll(t)[azureModule]
	for _, name := range azureNotGiven {
		if !slices.ContainsFunc(azureHosts, func(h azureHost) bool {
			return slices.ContainsFunc(config.ServedBy(h.role), func(s config.Setting) bool { return s.Name == name })
		}) {
			t.Errorf("azureNotGiven lists %s, which no role reads (config.ServedBy): update the list", name)
		}
	}
	for _, h := range azureHosts {
		t.Run(h.addr, func(t *testing.T) {
			r := m.resource(t, h.addr)
			env := m.envOf(t, container(t, r))
			var want []string
			for _, s := range config.ServedBy(h.role) {
				if !slices.Contains(azureNotGiven, s.Name) {
					want = append(want, s.Name)
				}
			}
			if d := diff(env.names(), want); d != "" {
				t.Errorf("%s's environment differs from what `stint serve --only %s` reads (config.ServedBy): %s", h.addr, h.role, d)
			}
			if e := env.values["STINT_AZURE_FEDERATION"]; e != nil {
				if v := m.eval(t, e, nil); !v.IsKnown() || v.AsString() != config.FederationManagedIdentity {
					t.Errorf("STINT_AZURE_FEDERATION = %#v, want %q", v, config.FederationManagedIdentity)
				}
			}
			if e := env.values["STINT_MANAGED_IDENTITY_CLIENT_ID"]; e != nil {
				if got, w := ref(m.follow(e)), "azurerm_user_assigned_identity."+h.identity+".client_id"; got != w {
					t.Errorf("STINT_MANAGED_IDENTITY_CLIENT_ID is %q, want %s", got, w)
				}
			}
			if e := env.values["AZURE_CLIENT_ID"]; e != nil && ref(m.follow(e)) != "var.azure_client_id" {
				t.Errorf("AZURE_CLIENT_ID is %q, want var.azure_client_id (the Entra app's, not an identity's)", ref(m.follow(e)))
			}
			want = append([]string{h.identity}, h.extra...)
			want = append(want, "pull")
			if got := m.identities(t, r); !slices.Equal(got, sortedCopy(want)) {
				t.Errorf("%s runs with the identities %q, want %q", h.addr, got, sortedCopy(want))
			}
		})
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// follow resolves local.X (and local.X.Y of an object) to the expression
// it names.
func (m *module) follow(e hclsyntax.Expression) hclsyntax.Expression {
	t, ok := e.(*hclsyntax.ScopeTraversalExpr)
	if !ok || t.Traversal.RootName() != "local" || len(t.Traversal) != 2 {
		return e
	}
	if l := m.locals[t.Traversal[1].(hcl.TraverseAttr).Name]; l != nil {
		return m.follow(l)
	}
	return e
}

// evalWith evaluates expr (through local.X) with the resource attributes
// known says, "azurerm_servicebus_queue.events.name" => "stint-events";
// any other reference to a resource is unknown.
func (m *module) evalWith(t *testing.T, expr hclsyntax.Expression, known map[string]string) cty.Value {
	t.Helper()
	expr = m.follow(expr)
	tree := map[string]any{}
	for path, v := range known {
		parts := strings.Split(path, ".")
		node := tree
		for _, p := range parts[:len(parts)-1] {
			if node[p] == nil {
				node[p] = map[string]any{}
			}
			node = node[p].(map[string]any)
		}
		node[parts[len(parts)-1]] = v
	}
	var toCty func(any) cty.Value
	toCty = func(n any) cty.Value {
		if s, ok := n.(string); ok {
			return cty.StringVal(s)
		}
		attrs := map[string]cty.Value{}
		for k, v := range n.(map[string]any) {
			attrs[k] = toCty(v)
		}
		return cty.ObjectVal(attrs)
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: functions}
	for root, n := range tree {
		ctx.Variables[root] = toCty(n)
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatalf("%s: evaluate %s: %s", m.dir, expr.Range(), diags.Error())
	}
	return v
}

func TestAzureGivesNoSecretAsAValue(t *testing.T) {
	m := loadAll(t)[azureModule]
	for _, h := range azureHosts {
		t.Run(h.addr, func(t *testing.T) {
			r := m.resource(t, h.addr)
			env := m.envOf(t, container(t, r))
			for _, s := range config.ServedBy(h.role) {
				if s.Secret && env.values[s.Name] != nil {
					t.Errorf("the secret %s is given as a value (%s): give it from a Key Vault-referenced secret", s.Name, env.values[s.Name].Range())
				}
			}
			for name := range env.values {
				if slices.Contains(azureNotGiven, name) {
					t.Errorf("%s is given: the managed identity takes its place", name)
				}
			}
			var wantSecrets []string
			if h.role == config.Webhook {
				wantSecrets = []string{"STINT_WEBHOOK_SECRET"}
			}
			if got := sorted(env.secrets); !slices.Equal(got, wantSecrets) {
				t.Errorf("settings from secrets = %q, want %q", got, wantSecrets)
			}
			secrets := map[string]*hclsyntax.Block{}
			for _, s := range blocks(r, "secret") {
				secrets[m.eval(t, attr(t, s, "name"), nil).AsString()] = s
				if s.Body.Attributes["value"] != nil {
					t.Errorf("secret %s has a value: its value would be in the state; reference Key Vault instead", s.Range())
				}
			}
			for name, secretName := range env.secrets {
				s := secrets[secretName]
				if s == nil {
					t.Fatalf("%s comes from the secret %q, which %s does not declare", name, secretName, h.addr)
				}
				if got := ref(attr(t, s, "key_vault_secret_id")); got != "azurerm_key_vault_secret.webhook.versionless_id" {
					t.Errorf("secret %s: key_vault_secret_id is %q, want azurerm_key_vault_secret.webhook.versionless_id (versionless: a rotation is picked up)", secretName, got)
				}
				if got, w := ref(attr(t, s, "identity")), "azurerm_user_assigned_identity."+h.identity+".id"; got != w {
					t.Errorf("secret %s is read as %q, want %s", secretName, got, w)
				}
			}
		})
	}

	t.Run("the secret's value is write-only", func(t *testing.T) {
		kv := m.resource(t, "azurerm_key_vault_secret.webhook")
		if kv.Body.Attributes["value"] != nil {
			t.Error("azurerm_key_vault_secret.webhook sets value, which the state keeps: use value_wo")
		}
		if got := ref(attr(t, kv, "value_wo")); got != "var.webhook_secret" {
			t.Errorf("value_wo is %q, want var.webhook_secret", got)
		}
		v := m.variables["webhook_secret"]
		for _, a := range []string{"ephemeral", "sensitive"} {
			if v == nil || v.Body.Attributes[a] == nil || m.eval(t, v.Body.Attributes[a].Expr, nil) != cty.True {
				t.Errorf("variable webhook_secret is not %s", a)
			}
		}
		vault := m.resource(t, "azurerm_key_vault.this")
		for _, a := range []string{"rbac_authorization_enabled", "purge_protection_enabled"} {
			if m.eval(t, attr(t, vault, a), nil) != cty.True {
				t.Errorf("azurerm_key_vault.this: %s is not true", a)
			}
		}
	})

	t.Run("no Service Bus key exists", func(t *testing.T) {
		ns := m.resource(t, "azurerm_servicebus_namespace.this")
		if m.eval(t, attr(t, ns, "local_auth_enabled"), nil) != cty.False {
			t.Error("azurerm_servicebus_namespace.this: local_auth_enabled is not false: its SAS keys make connection strings")
		}
		for addr := range m.resources {
			if strings.Contains(addr, "authorization_rule") {
				t.Errorf("%s makes a SAS key", addr)
			}
		}
	})
}

// roleGrant is one role assignment: principal: role on scope.
type roleGrant struct{ principal, role, scope, why string }

func (g roleGrant) String() string { return g.principal + ": " + g.role + " on " + g.scope }

// azureGrants are every role assignment the module makes. Each is on the
// one resource it is needed for; none on a namespace, a vault (but the
// deployer's, who creates the secret in it), a resource group or a
// subscription.
var azureGrants = []roleGrant{
	{"azurerm_user_assigned_identity.webhook", "Azure Service Bus Data Sender", "azurerm_servicebus_queue.events.id", "the webhook enqueues"},
	{"azurerm_user_assigned_identity.webhook", "Key Vault Secrets User", "azurerm_key_vault_secret.webhook.resource_versionless_id", "the webhook's secret reference"},
	{"azurerm_user_assigned_identity.runtime", "Azure Service Bus Data Receiver", "azurerm_servicebus_queue.events.id", "the worker takes events"},
	{"azurerm_user_assigned_identity.runtime", "Azure Service Bus Data Sender", "azurerm_servicebus_queue.events.id", "the worker's sender; stint dlq replay"},
	{"azurerm_user_assigned_identity.scaler", "Azure Service Bus Data Owner", "azurerm_servicebus_queue.events.id", "KEDA reads the message count (Manage)"},
	{"azurerm_user_assigned_identity.pull[0]", "AcrPull", "var.registry.id", "pulls a private image"},
	{"data.azurerm_client_config.current", "Key Vault Secrets Officer", "azurerm_key_vault.this.id", "Terraform writes the secret"},
}

func TestAzureRolesAreExactlyTheNeededOnes(t *testing.T) {
	m := loadAll(t)[azureModule]
	var got, want []string
	for addr, r := range m.resources {
		if !strings.HasPrefix(addr, "azurerm_role_assignment.") {
			continue
		}
		if r.Body.Attributes["role_definition_id"] != nil {
			t.Errorf("%s names its role by id: name it (role_definition_name) so that the check can read it", addr)
			continue
		}
		p := ref(attr(t, r, "principal_id"))
		p = strings.TrimSuffix(strings.TrimSuffix(p, ".principal_id"), ".object_id")
		got = append(got, roleGrant{p, m.eval(t, attr(t, r, "role_definition_name"), nil).AsString(), ref(attr(t, r, "scope")), ""}.String())
	}
	for _, g := range azureGrants {
		want = append(want, g.String())
	}
	if d := diff(got, want); d != "" {
		t.Errorf("role assignments differ from the needed ones: %s", d)
	}
	wide := regexp.MustCompile(`^(azurerm_resource_group|azurerm_servicebus_namespace|data\.azurerm_subscription|azurerm_postgresql_flexible_server)\.`)
	for _, g := range got {
		if scope := g[strings.LastIndex(g, " on ")+4:]; wide.MatchString(scope) || scope == "" {
			t.Errorf("%s: a role on a wider scope than the resource it is for", g)
		}
	}
	for _, id := range []string{"webhook", "runtime"} {
		for _, g := range got {
			if strings.HasPrefix(g, "azurerm_user_assigned_identity."+id+":") && strings.Contains(g, "Owner") {
				t.Errorf("%s: an Owner role for the %s identity", g, id)
			}
		}
	}
}

// isoMinutesSeconds reads an ISO 8601 duration of minutes and seconds,
// PT1M30S, as Service Bus writes a lock duration.
func isoMinutesSeconds(t *testing.T, s string) time.Duration {
	t.Helper()
	re := regexp.MustCompile(`^PT(?:(\d+)M)?(?:(\d+)S)?$`)
	m := re.FindStringSubmatch(s)
	if m == nil || s == "PT" {
		t.Fatalf("lock_duration %q is not PT<m>M<s>S", s)
	}
	var d time.Duration
	if m[1] != "" {
		n, _ := strconv.Atoi(m[1])
		d += time.Duration(n) * time.Minute
	}
	if m[2] != "" {
		n, _ := strconv.Atoi(m[2])
		d += time.Duration(n) * time.Second
	}
	return d
}

// accepts reports whether every validation of the variable name accepts
// value.
func (m *module) accepts(t *testing.T, name string, value cty.Value) bool {
	t.Helper()
	v := m.variables[name]
	if v == nil {
		t.Fatalf("no variable %s", name)
	}
	for _, b := range blocks(v, "validation") {
		if m.eval(t, attr(t, b, "condition"), map[string]cty.Value{name: value}) != cty.True {
			return false
		}
	}
	return true
}

// flagValue is the value after flag in args, or "".
func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func TestServiceBusQueueKeepsItsRelations(t *testing.T) {
	m := loadAll(t)[azureModule]
	q := m.resource(t, "azurerm_servicebus_queue.events")
	if got := m.eval(t, attr(t, m.resource(t, "azurerm_servicebus_namespace.this"), "sku"), nil); got.AsString() != "Standard" && got.AsString() != "Premium" {
		t.Errorf("the namespace's sku is %s: sessions and duplicate detection need Standard or Premium", got.AsString())
	}
	for _, a := range []string{"requires_session", "requires_duplicate_detection", "dead_lettering_on_message_expiration"} {
		if m.eval(t, attr(t, q, a), nil) != cty.True {
			t.Errorf("azurerm_servicebus_queue.events: %s is not true", a)
		}
	}
	attr(t, q, "duplicate_detection_history_time_window")

	if v := m.eval(t, attr(t, q, "max_delivery_count"), nil); !v.IsKnown() || v.LessThan(cty.NumberIntVal(5)).True() {
		t.Errorf("max_delivery_count = %#v by default, want at least 5", v)
	}
	if m.accepts(t, "max_delivery_count", cty.NumberIntVal(4)) {
		t.Error("max_delivery_count accepts 4: a few throttled retries would dead-letter an event")
	}

	args := attr(t, container(t, m.resource(t, "azurerm_container_app.worker")), "args")
	for _, secs := range []int64{5, 45, 60, 90, 300} {
		vars := map[string]cty.Value{"lock_duration_seconds": cty.NumberIntVal(secs)}
		lock := isoMinutesSeconds(t, m.eval(t, attr(t, q, "lock_duration"), vars).AsString())
		if lock > 5*time.Minute {
			t.Errorf("lock_duration_seconds %d: the lock is %s, over Service Bus's 5 minutes", secs, lock)
		}
		lease, err := time.ParseDuration(flagValue(m.stringList(t, args, vars), "--lease"))
		if err != nil || lease != lock {
			t.Errorf("lock_duration_seconds %d: the worker's --lease is %s (%v), want the lock duration %s", secs, lease, err, lock)
		}
	}
	for _, secs := range []int64{4, 301} {
		if m.accepts(t, "lock_duration_seconds", cty.NumberIntVal(secs)) {
			t.Errorf("lock_duration_seconds accepts %d: want 5 (stint's shortest --lease) to 300 (Service Bus's longest lock)", secs)
		}
	}

	// KEDA scales the worker on this queue, as the scaler identity.
	worker := m.resource(t, "azurerm_container_app.worker")
	rules := blocks(blocks(worker, "template")[0], "custom_scale_rule")
	if len(rules) != 1 {
		t.Fatalf("the worker has %d custom scale rules, want 1", len(rules))
	}
	rule := rules[0]
	if got := m.eval(t, attr(t, rule, "custom_rule_type"), nil).AsString(); got != "azure-servicebus" {
		t.Errorf("custom_rule_type = %s, want azure-servicebus", got)
	}
	meta := m.objectItems(t, attr(t, rule, "metadata"))
	for key, want := range map[string]string{"queueName": "azurerm_servicebus_queue.events.name", "namespace": "azurerm_servicebus_namespace.this.name"} {
		if meta[key] == nil || ref(meta[key]) != want {
			t.Errorf("the scale rule's %s is not %s", key, want)
		}
	}
	if got := ref(attr(t, rule, "identity_id")); got != "azurerm_user_assigned_identity.scaler.id" {
		t.Errorf("the scale rule authenticates as %q, want azurerm_user_assigned_identity.scaler.id", got)
	}
	if len(blocks(rule, "authentication")) > 0 {
		t.Error("the scale rule has an authentication block: a connection string, where the identity should do")
	}
	if v := m.eval(t, attr(t, blocks(worker, "template")[0], "min_replicas"), nil); !v.Equals(cty.Zero).True() {
		t.Errorf("the worker's min_replicas = %#v, want 0 (scale to zero)", v)
	}
	if len(blocks(worker, "ingress")) != 0 {
		t.Error("the worker has an ingress: it takes its work from the queue")
	}

	// The webhook and the worker use this same queue.
	names := map[string]string{"azurerm_servicebus_namespace.this.name": "ns-test", "azurerm_servicebus_queue.events.name": "q-test"}
	for _, app := range []string{"azurerm_container_app.webhook", "azurerm_container_app.worker"} {
		e := m.envOf(t, container(t, m.resource(t, app))).values["STINT_QUEUE_URL"]
		if e == nil {
			t.Errorf("%s has no STINT_QUEUE_URL", app)
			continue
		}
		raw := m.evalWith(t, e, names).AsString()
		a, err := servicebus.ParseURL("STINT_QUEUE_URL", raw)
		if err != nil || a.Namespace != "ns-test.servicebus.windows.net" || a.Queue != "q-test" {
			t.Errorf("%s: STINT_QUEUE_URL %s reads as %+v (%v), want the namespace and queue above", app, raw, a, err)
		}
	}
}

func TestAzureLedgerIsEntraOnly(t *testing.T) {
	m := loadAll(t)[azureModule]
	server := m.resource(t, "azurerm_postgresql_flexible_server.ledger")
	auth := blocks(server, "authentication")
	if len(auth) != 1 {
		t.Fatal("the server has no authentication block")
	}
	for a, want := range map[string]cty.Value{"active_directory_auth_enabled": cty.True, "password_auth_enabled": cty.False} {
		if got := m.eval(t, attr(t, auth[0], a), nil); got != want {
			t.Errorf("authentication.%s = %#v, want %#v", a, got, want)
		}
	}
	for _, a := range []string{"administrator_login", "administrator_password", "administrator_password_wo"} {
		if server.Body.Attributes[a] != nil {
			t.Errorf("the server sets %s: no password sign-in", a)
		}
	}
	admin := m.resource(t, "azurerm_postgresql_flexible_server_active_directory_administrator.runtime")
	for a, want := range map[string]string{
		"object_id":      "azurerm_user_assigned_identity.runtime.principal_id",
		"principal_name": "azurerm_user_assigned_identity.runtime.name",
	} {
		if got := ref(attr(t, admin, a)); got != want {
			t.Errorf("the Entra administrator's %s is %q, want %s", a, got, want)
		}
	}
	if got := m.eval(t, attr(t, admin, "principal_type"), nil).AsString(); got != "ServicePrincipal" {
		t.Errorf("the Entra administrator's principal_type is %s, want ServicePrincipal (a managed identity)", got)
	}
	tls := m.resource(t, "azurerm_postgresql_flexible_server_configuration.require_secure_transport")
	if m.eval(t, attr(t, tls, "name"), nil).AsString() != "require_secure_transport" || m.eval(t, attr(t, tls, "value"), nil).AsString() != "on" {
		t.Error("require_secure_transport is not on")
	}

	known := map[string]string{
		"azurerm_user_assigned_identity.runtime.name":            "stint-runtime",
		"azurerm_postgresql_flexible_server.ledger.fqdn":         "db.postgres.database.azure.com",
		"azurerm_postgresql_flexible_server_database.stint.name": "stint",
	}
	for _, h := range azureHosts {
		e := m.envOf(t, container(t, m.resource(t, h.addr))).values["STINT_STORE"]
		if h.role == config.Webhook {
			continue // the webhook keeps no ledger of its own on Azure (config.ServedBy)
		}
		if e == nil {
			t.Errorf("%s has no STINT_STORE", h.addr)
			continue
		}
		raw := m.evalWith(t, e, known).AsString()
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "postgres" || u.User.Username() != "stint-runtime" || u.Host != "db.postgres.database.azure.com" || u.Path != "/stint" {
			t.Errorf("%s: STINT_STORE %s: want postgres://<runtime identity>@<server>/stint", h.addr, raw)
			continue
		}
		if _, hasPassword := u.User.Password(); hasPassword {
			t.Errorf("%s: STINT_STORE holds a password", h.addr)
		}
		if q := u.Query(); q.Get(postgres.AuthParam) != "entra" || q.Get("sslmode") != "verify-full" {
			t.Errorf("%s: STINT_STORE %s: want %s=entra&sslmode=verify-full", h.addr, raw, postgres.AuthParam)
		}
	}
}

func TestAzureJobsRunTheSweepOnSchedule(t *testing.T) {
	m := loadAll(t)[azureModule]
	for _, tc := range []struct {
		job, cron, timeoutVar string
		minTimeout            int64
	}{
		{"tick", "* * * * *", "tick_timeout_seconds", 60},
		{"reconcile", "0 * * * *", "reconcile_timeout_seconds", 900},
	} {
		t.Run(tc.job, func(t *testing.T) {
			job := m.resource(t, "azurerm_container_app_job."+tc.job)
			if got := m.stringList(t, attr(t, container(t, job), "args"), nil); !slices.Equal(got, []string{"sweep", tc.job}) {
				t.Errorf("args = %q, want [sweep %s]", got, tc.job)
			}
			sched := blocks(job, "schedule_trigger_config")
			if len(sched) != 1 {
				t.Fatalf("%d schedule_trigger_config blocks, want 1", len(sched))
			}
			if got := m.eval(t, attr(t, sched[0], "cron_expression"), nil).AsString(); got != tc.cron {
				t.Errorf("cron_expression = %q, want %q", got, tc.cron)
			}
			if v := m.eval(t, attr(t, sched[0], "parallelism"), nil); !v.Equals(cty.NumberIntVal(1)).True() {
				t.Errorf("parallelism = %#v, want 1", v)
			}
			timeout := attr(t, job, "replica_timeout_in_seconds")
			if got := ref(timeout); got != "var."+tc.timeoutVar {
				t.Errorf("replica_timeout_in_seconds is %q, want var.%s", got, tc.timeoutVar)
			}
			if v := m.eval(t, timeout, nil); v.LessThan(cty.NumberIntVal(tc.minTimeout)).True() {
				t.Errorf("the default timeout %#v is under %d s", v, tc.minTimeout)
			}
			if m.accepts(t, tc.timeoutVar, cty.NumberIntVal(tc.minTimeout-1)) {
				t.Errorf("%s accepts %d s, want at least %d", tc.timeoutVar, tc.minTimeout-1, tc.minTimeout)
			}
		})
	}
}

func TestAzureWebhookServesHTTPSOnItsPort(t *testing.T) {
	m := loadAll(t)[azureModule]
	app := m.resource(t, "azurerm_container_app.webhook")
	ingress := blocks(app, "ingress")
	if len(ingress) != 1 {
		t.Fatal("the webhook has no ingress")
	}
	if m.eval(t, attr(t, ingress[0], "external_enabled"), nil) != cty.True || m.eval(t, attr(t, ingress[0], "allow_insecure_connections"), nil) != cty.False {
		t.Error("the webhook's ingress is not external HTTPS only")
	}
	port := m.eval(t, attr(t, ingress[0], "target_port"), nil)
	c := container(t, app)
	addr := flagValue(m.stringList(t, attr(t, c, "args"), nil), "--addr")
	if addr != ":"+port.AsBigFloat().String() {
		t.Errorf("the webhook listens on --addr %q, the ingress targets port %s", addr, port.AsBigFloat().String())
	}
	if v := m.eval(t, attr(t, blocks(app, "template")[0], "min_replicas"), nil); !v.Equals(cty.NumberIntVal(1)).True() {
		t.Errorf("the webhook's min_replicas = %#v, want 1 (an HR system's call must not wait for a cold start)", v)
	}
	for probe, path := range map[string]string{"liveness_probe": "/healthz", "readiness_probe": "/readyz"} {
		p := blocks(c, probe)
		if len(p) != 1 || m.eval(t, attr(t, p[0], "path"), nil).AsString() != path || !m.eval(t, attr(t, p[0], "port"), nil).Equals(port).True() {
			t.Errorf("the webhook's %s is not GET %s on port %s", probe, path, port.AsBigFloat().String())
		}
	}
}

// TestAzureCommandLinesAreStints runs each app's and job's command line
// through stint's own command (cli.Execute) with no tenant configured:
// its flags and arguments are all accepted, and it stops where it would
// open the host, saying that no tenant is configured. A misspelt flag, a
// bad value or an unknown sweep mode stops it earlier with another error.
func TestAzureCommandLinesAreStints(t *testing.T) {
	m := loadAll(t)[azureModule]
	for _, h := range azureHosts {
		t.Run(h.addr, func(t *testing.T) {
			c := container(t, m.resource(t, h.addr))
			if c.Body.Attributes["command"] != nil {
				t.Error("command replaces the image's entrypoint (stint): give args only")
			}
			args := m.stringList(t, attr(t, c, "args"), nil)
			if h.role != config.Sweep && flagValue(args, "--only") != string(h.role) {
				t.Errorf("args %q do not run the %s role (--only %s)", args, h.role, h.role)
			}
			data := t.TempDir()
			var out, errOut bytes.Buffer
			code := cli.Execute(args, &out, &errOut, func(name string) (string, bool) {
				if name == "STINT_DATA" {
					return data, true
				}
				return "", false
			})
			if code == 0 || !strings.Contains(errOut.String(), "no tenant is configured") {
				t.Errorf("stint %s: exit %d, stderr %q; want it to reach the tenant check (every flag and argument accepted)", strings.Join(args, " "), code, errOut.String())
			}
		})
	}
}
