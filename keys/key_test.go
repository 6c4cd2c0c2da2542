package keys

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestStoredRecordsHoldNoPrivateKey checks the stored records, as a backend
// would serialise them, for any form of the private keys in clear.
func TestStoredRecordsHoldNoPrivateKey(t *testing.T) {
	t.Parallel()
	c := newClock()
	store := newMemStore(c)
	kek := GenerateKEK()
	m := newManager(t, store, kek, testOptions(c, RS256, ES256, EdDSA))
	mustInit(t, m)
	ks := storedSet(t, store)
	js, err := json.Marshal(ks)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.Keys) != 3 {
		t.Fatalf("%d keys", len(ks.Keys))
	}
	for _, rec := range ks.Keys {
		mat, err := openKey(kek, rec)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(mat.private)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := jose.JSONWebKey{Key: mat.private}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var jwk map[string]any
		if err := json.Unmarshal(priv, &jwk); err != nil {
			t.Fatal(err)
		}
		d, _ := jwk["d"].(string)
		forms := map[string][]byte{
			"PKCS#8 DER":        der,
			"PKCS#8 base64":     []byte(base64.StdEncoding.EncodeToString(der)),
			"PKCS#8 base64url":  []byte(base64.RawURLEncoding.EncodeToString(der)),
			"JWK d":             []byte(d),
			"PKCS#8 DER middle": der[len(der)/2 : len(der)/2+16],
		}
		if d == "" {
			t.Fatal("no d in the private JWK")
		}
		for name, b := range forms {
			if bytes.Contains(js, b) {
				t.Fatalf("%s key %s: stored JSON holds the %s", rec.Algorithm, rec.ID, name)
			}
		}
		var pub map[string]any
		if err := json.Unmarshal(rec.Public, &pub); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := pub[f]; ok {
				t.Fatalf("public JWK has %q", f)
			}
		}
		if pub["kid"] != rec.ID || pub["alg"] != rec.Algorithm || pub["use"] != "sig" {
			t.Fatalf("public JWK: %v", pub)
		}
	}
}
