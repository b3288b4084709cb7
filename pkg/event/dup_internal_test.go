package event

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzDuplicateMember checks the hand-written scan against a slow reference
// built on json.Decoder.Token, on every input that is valid JSON, and that
// it neither panics nor loops on input that is not.
func FuzzDuplicateMember(f *testing.F) {
	files, _ := filepath.Glob("../../events/samples/*/*.json")
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	for _, s := range []string{
		`{"a":1,"a":2}`, `[{"a":[{"b":1,"b":2}]}]`, `{"\u0061":1,"a":2}`,
		"{\"\xff\":1,\"\xfe\":2}", `{"a/~":{"x":true,"x":null}}`, `{"a":"\"","b":"\\","a":0}`,
		`{"k":[1,-2.5e3,"x",{},[]],"k2":{"":1,"":2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotFound := duplicateMember(body)
		if !json.Valid(body) {
			return
		}
		want, wantFound := referenceDuplicate(body)
		if got != want || gotFound != wantFound {
			t.Errorf("duplicateMember(%q) = %q, %v, want %q, %v", body, got, gotFound, want, wantFound)
		}
	})
}

func TestDuplicateMemberInLargeObject(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"outer":{`)
	for i := range 100 {
		b.WriteString(`"k` + strconv.Itoa(i) + `":0,`)
	}
	b.WriteString(`"k42":1}}`)
	got, found := duplicateMember([]byte(b.String()))
	if want := "/outer/k42"; got != want || !found {
		t.Errorf("duplicateMember = %q, %v, want %q, true", got, found, want)
	}
}

// referenceDuplicate is duplicateMember written plainly on json.Decoder.Token,
// several times slower.
func referenceDuplicate(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return referenceValue(dec, "")
}

func referenceValue(dec *json.Decoder, ptr string) (string, bool) {
	tok, _ := dec.Token()
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			tok, _ := dec.Token()
			name := tok.(string)
			at := ptr + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(name)
			if seen[name] {
				return at, true
			}
			seen[name] = true
			if dup, found := referenceValue(dec, at); found {
				return dup, true
			}
		}
		dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if dup, found := referenceValue(dec, ptr+"/"+strconv.Itoa(i)); found {
				return dup, true
			}
		}
		dec.Token()
	}
	return "", false
}

// BenchmarkDuplicateMember measures the scan alone; compare BenchmarkParse.
func BenchmarkDuplicateMember(b *testing.B) {
	body, err := os.ReadFile("../../events/samples/valid/started-future.json")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		duplicateMember(body)
	}
}
