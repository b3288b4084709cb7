package sqlnum

import "testing"

func TestNumbered(t *testing.T) {
	for query, want := range map[string]string{
		"SELECT 1": "SELECT 1",
		"SELECT a FROM t WHERE b = ? AND c IN (?,?)": "SELECT a FROM t WHERE b = $1 AND c IN ($2,$3)",
		"INSERT INTO t (x, é) VALUES (?, ?)":         "INSERT INTO t (x, é) VALUES ($1, $2)",
	} {
		if got := Numbered(query); got != want {
			t.Errorf("Numbered(%q) = %q, want %q", query, got, want)
		}
	}
}
