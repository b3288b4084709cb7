package entra_test

import (
	"regexp"
	"testing"

	"github.com/stintdev/stint/pkg/entra"
)

// Terraform grants the permissions by app-role id (infra/terraform checks
// that it uses these), so a missing, malformed or repeated one would
// request the wrong permission or none.
func TestEveryPermissionHasItsOwnAppRoleID(t *testing.T) {
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	seen := map[string]string{}
	for _, p := range entra.Permissions {
		if !guid.MatchString(p.AppRoleID) {
			t.Errorf("%s: AppRoleID %q is not a lower-case GUID", p.Name, p.AppRoleID)
		}
		if other, dup := seen[p.AppRoleID]; dup {
			t.Errorf("%s and %s have the same AppRoleID %s", p.Name, other, p.AppRoleID)
		}
		seen[p.AppRoleID] = p.Name
	}
}
