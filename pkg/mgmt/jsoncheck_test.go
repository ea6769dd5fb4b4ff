package mgmt

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// azNetworkRuleBody is what az acr network-rule add sends.
const azNetworkRuleBody = `{"properties": {"networkRuleSet": {"defaultAction": "Deny", "virtualNetworkRules": [], ` +
	`"ipRules": [{"action": "Allow", "value": "16.17.18.19"}, {"action": "Allow", "value": "52.57.22.0/24"}]}}}`

func TestCheckJSONBody(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string // substring; "" for accepted
	}{
		{"empty object", `{}`, ""},
		{"az network rule", azNetworkRuleBody, ""},
		{"whitespace around", " \t\r\n{\"a\":1}\n ", ""},
		{"all value kinds", `{"s":"x","n":-1.5e3,"t":true,"f":false,"z":null,"a":[1,"2",[],{}],"o":{"a":{"a":{}}}}`, ""},
		{"same key in siblings", `{"a":{"k":1},"b":{"k":1},"c":[{"k":1},{"k":2}]}`, ""},
		{"same key at two levels", `{"k":{"k":{"k":1}}}`, ""},
		{"keys differing only beyond ASCII case", `{"strasse":1,"straße":2}`, ""},
		{"big numbers are text", `{"n":1e400}`, ""},
		{"64 levels", strings.Repeat(`{"a":`, 63) + `{}` + strings.Repeat(`}`, 63), ""},

		{"null", `null`, "must be a JSON object, not null"},
		{"array", `[{"a":1}]`, "not an array"},
		{"string", `"{}"`, "not a string"},
		{"number", `1`, "not a number"},
		{"boolean", `false`, "not a boolean"},
		{"closing brace first", `}`, "Invalid JSON"},
		{"65 levels", strings.Repeat(`{"a":`, 64) + `{}` + strings.Repeat(`}`, 64), "MaxDepth of 64"},
		{"deep arrays", `{"a":` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}`, "MaxDepth of 64 has been exceeded. Path 'a" + strings.Repeat("[0]", 63) + "'"},
		{"duplicate", `{"a":1,"a":2}`, "Property with the name 'a' already exists in the current JSON object. Path 'a', line 1, position 10."},
		{"duplicate, other case", `{"ab":1,"aB":2}`, "(as 'ab'). Path 'aB'"},
		{"duplicate, escaped", `{"a":1,"\u0061":2}`, "Path 'a'"},
		{"duplicate, non-ASCII case", `{"élan":1,"ÉLAN":2}`, "Path 'ÉLAN'"},
		{"duplicate of a null", `{"a":null,"A":null}`, "Path 'A'"},
		{"duplicate on line 3", "{\n\"x\": {\n\"a\":1, \"a\":2}}", "Path 'x.a', line 3, position 10."},
		{"duplicate in the 2nd element", `{"l":[{"a":1},{"b":1,"b":2}]}`, "Path 'l[1].b'"},
		{"duplicate after arrays close", `{"l":[[],[[]]],"m":1,"l":2}`, "Path 'l'"},
		{"duplicate in a big object", `{"a0":0,"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,"a9":9,"a10":10,"A0":0}`, "Path 'A0'"},
		{"duplicate right after the switch to a map", `{"a0":0,"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,"A8":8}`, "Path 'A8'"},
		{"key needing brackets", `{"a b":1,"A B":2}`, "Path '['A B']'"},
		{"nested key needing brackets", `{"t":{"a.b":1,"A.B":2}}`, "Path 't['A.B']'"},
		{"empty key twice", `{"":1,"":2}`, "Path '['']'"},
		{"trailing object", `{}{}`, "Additional text encountered after finished reading JSON content. line 1, position"},
		{"trailing garbage", `{} x`, "Additional text encountered after finished reading JSON content. line 1, position 3."},
		{"trailing comma in object", `{"a":1,}`, "Invalid JSON"},
		{"trailing comma in array", `{"a":[1,]}`, "Invalid JSON"},
		{"missing colon", `{"a" 1}`, "Invalid JSON"},
		{"single quotes", `{'a':1}`, "Invalid JSON"},
		{"unquoted key", `{a:1}`, "Invalid JSON"},
		{"truncated object", `{"a":{"b":1}`, "Unexpected end of the JSON content"},
		{"truncated array", `{"a":[1,2`, "Unexpected end of the JSON content"},
		{"truncated string", `{"a":"b`, "Unexpected end of the JSON content"},
		{"bad literal", `{"a":tru}`, "Invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkJSONBody([]byte(tt.body))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestFoldKey(t *testing.T) {
	tests := []struct{ a, b string }{
		{"defaultAction", "DefaultAction"},
		{"defaultaction", "DEFAULTACTION"},
		{"kelvin", "\u212aelvin"}, // KELVIN SIGN folds to k
		{"ſ", "s"},                // LONG S folds to s
		{"Ünïcode", "üNÏCODE"},
		{"Ab\u00e9", "aB\u00c9"},
	}
	for _, tt := range tests {
		assert.True(t, strings.EqualFold(tt.a, tt.b), "%q %q", tt.a, tt.b)
		assert.Equal(t, foldKey(tt.a), foldKey(tt.b), "%q %q", tt.a, tt.b)
	}
	assert.NotEqual(t, foldKey("strasse"), foldKey("straße"))
	assert.Equal(t, "kelvin", foldKey("\u212aELVIN"))
}

// TestCheckJSONBodyAllocations keeps the walk cheap: the decoder's own
// tokens and the frames, nothing per byte.
func TestCheckJSONBodyAllocations(t *testing.T) {
	data := []byte(azNetworkRuleBody)
	allocs := testing.AllocsPerRun(100, func() {
		if err := checkJSONBody(data); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 2.0)
}

func BenchmarkCheckJSONBody(b *testing.B) {
	data := []byte(azNetworkRuleBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := checkJSONBody(data); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCheckJSONBody compares checkJSONBody with a slow reference built on
// encoding/json's tokenizer and strings.EqualFold: they must agree on
// every input, and whatever is accepted must decode.
func FuzzCheckJSONBody(f *testing.F) {
	for _, s := range []string{`{}`, azNetworkRuleBody, `{"a":1,"A":2}`, `[]`, `null`, `{"a":[{"b":{}}]}`, `{} {}`,
		`{"k":1,"\u212a":2}`, `{"a\"b":1,"A\"B":2}`, `{"a0":0,"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,"A1":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return // decodeBody refuses it before
		}
		got := checkJSONBody(data) == nil
		if want := referenceCheck(data); got != want {
			t.Fatalf("checkJSONBody(%q) accepted=%v, reference says %v", data, got, want)
		}
		if got {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil || m == nil {
				t.Fatalf("accepted %q, but Unmarshal: %v", data, err)
			}
		}
	})
}

// referenceCheck is checkJSONBody's rule, written the slow obvious way.
func referenceCheck(data []byte) bool {
	if !json.Valid(data) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, _ := dec.Token()
	if tok != json.Delim('{') {
		return false
	}
	var walk func(object bool, depth int) bool
	walk = func(object bool, depth int) bool {
		if depth > maxJSONDepth {
			return false
		}
		var keys []string
		for dec.More() {
			if object {
				k, _ := dec.Token()
				for _, seen := range keys {
					if strings.EqualFold(seen, k.(string)) {
						return false
					}
				}
				keys = append(keys, k.(string))
			}
			v, _ := dec.Token()
			if d, ok := v.(json.Delim); ok && !walk(d == '{', depth+1) {
				return false
			}
		}
		dec.Token() // the closing delimiter
		return true
	}
	return walk(true, 1)
}
