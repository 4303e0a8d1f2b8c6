// Command vectors cross-checks InsuTrace's committed test vectors (fixtures/) with
// Go's golang.org/x/mod/sumdb/tlog and sumdb/note: no InsuTrace code.
//
// Usage: vectors FIXTURES_DIR
//
//   - merkle-vectors.json: the tree is rebuilt with tlog.StoredHashes; every root
//     must equal tlog.TreeHash, every inclusion proof must equal tlog.ProveRecord
//     and pass tlog.CheckRecord, every consistency proof must equal tlog.ProveTree
//     and pass tlog.CheckTree (sizes 0 and old = 0 checked against the RFC's
//     definitions: x/mod defines the empty tree's hash as all zeros).
//   - note-vectors.json: each note opens (or fails to open) with note.Open as the
//     vector says; note.Sign with the test-only seed reproduces the signed note
//     byte for byte; the witness cosignature (C2SP tlog-cosignature, which x/mod
//     does not implement) is checked with crypto/ed25519.
//
// One output line per check; exit status 1 if any failed.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var failures int

func report(err error, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if err != nil {
		failures++
		fmt.Printf("FAIL %s: %v\n", msg, err)
		return
	}
	fmt.Printf("ok   %s\n", msg)
}

type merkleVectors struct {
	Leaves struct {
		Hex []string `json:"hex"`
	} `json:"leaves"`
	Trees []struct {
		Size      int64  `json:"size"`
		Root      string `json:"root"`
		Inclusion []struct {
			Index    int64    `json:"index"`
			LeafHash string   `json:"leaf_hash"`
			Proof    []string `json:"proof"`
		} `json:"inclusion"`
		Consistency []struct {
			Old     int64    `json:"old"`
			OldRoot string   `json:"old_root"`
			Proof   []string `json:"proof"`
		} `json:"consistency"`
	} `json:"trees"`
}

type noteVectors struct {
	Log        struct{ Name, Vkey string } `json:"log"`
	Witness    struct{ Name, Vkey string } `json:"witness"`
	Checkpoint struct {
		Size int64  `json:"size"`
		Root string `json:"root"`
		Text string `json:"text"`
	} `json:"checkpoint"`
	Notes []struct {
		Name  string `json:"name"`
		Note  string `json:"note"`
		Valid bool   `json:"valid"`
	} `json:"notes"`
	Cosignature struct {
		Witness   string `json:"witness"`
		Timestamp uint64 `json:"timestamp"`
		Message   string `json:"message"`
		Line      string `json:"line"`
		Note      string `json:"note"`
	} `json:"cosignature"`
}

type testOnlyKeys struct {
	Keys []struct {
		Name string `json:"name"`
		Seed string `json:"seed"`
	} `json:"keys"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: vectors FIXTURES_DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	var mv merkleVectors
	var nv noteVectors
	var keys testOnlyKeys
	for name, v := range map[string]any{
		"merkle-vectors.json":      &mv,
		"note-vectors.json":        &nv,
		"test-only-note-keys.json": &keys,
	} {
		err := load(filepath.Join(dir, name), v)
		report(err, "read %s", name)
		if err != nil {
			os.Exit(1)
		}
	}
	checkMerkle(&mv)
	checkNotes(&nv, &keys, &mv)
	if failures > 0 {
		fmt.Printf("%d check(s) FAILED\n", failures)
		os.Exit(1)
	}
	fmt.Println("all checks passed")
}

func load(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func mustHash(s string) tlog.Hash {
	var h tlog.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		panic(fmt.Sprintf("bad hash %q in vectors", s))
	}
	copy(h[:], b)
	return h
}

func hashes(ss []string) []tlog.Hash {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		out[i] = mustHash(s)
	}
	return out
}

func equal(a, b []tlog.Hash) error {
	if len(a) != len(b) {
		return fmt.Errorf("x/mod gives %d hashes, vector has %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return fmt.Errorf("hash %d: x/mod gives %v, vector has %v", i, a[i], b[i])
		}
	}
	return nil
}

// storedHashes builds x/mod's stored-hash array for the vector leaves.
func storedHashes(leaves []string) (tlog.HashReader, error) {
	var stored []tlog.Hash
	r := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x >= int64(len(stored)) {
				return nil, fmt.Errorf("stored hash %d not yet written", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, l := range leaves {
		data, err := hex.DecodeString(l)
		if err != nil {
			return nil, err
		}
		hs, err := tlog.StoredHashes(int64(i), data, r)
		if err != nil {
			return nil, err
		}
		stored = append(stored, hs...)
	}
	return r, nil
}

func checkMerkle(mv *merkleVectors) {
	r, err := storedHashes(mv.Leaves.Hex)
	report(err, "tlog.StoredHashes over %d vector leaves", len(mv.Leaves.Hex))
	if err != nil {
		return
	}
	for _, t := range mv.Trees {
		root := mustHash(t.Root)
		err := checkRoot(t.Size, root, r)
		for _, inc := range t.Inclusion {
			if err == nil {
				err = checkInclusion(t.Size, root, inc.Index, inc.LeafHash, hashes(inc.Proof), mv, r)
			}
		}
		for _, c := range t.Consistency {
			if err == nil {
				err = checkConsistency(t.Size, root, c.Old, mustHash(c.OldRoot), hashes(c.Proof), r)
			}
		}
		report(err, "tree %d: root, %d inclusion and %d consistency proofs match x/mod",
			t.Size, len(t.Inclusion), len(t.Consistency))
	}
}

func checkRoot(size int64, root tlog.Hash, r tlog.HashReader) error {
	if size == 0 { // x/mod: all-zero hash; RFC 9162: SHA-256 of the empty string
		if root != tlog.Hash(sha256.Sum256(nil)) {
			return fmt.Errorf("empty root is %v, want SHA-256(\"\")", root)
		}
		return nil
	}
	th, err := tlog.TreeHash(size, r)
	if err != nil {
		return err
	}
	if th != root {
		return fmt.Errorf("tlog.TreeHash = %v, vector root %v", th, root)
	}
	return nil
}

func checkInclusion(size int64, root tlog.Hash, index int64, leafHex string, proof []tlog.Hash, mv *merkleVectors, r tlog.HashReader) error {
	data, _ := hex.DecodeString(mv.Leaves.Hex[index])
	if tlog.RecordHash(data) != mustHash(leafHex) {
		return fmt.Errorf("leaf %d: tlog.RecordHash differs from vector leaf_hash", index)
	}
	p, err := tlog.ProveRecord(size, index, r)
	if err != nil {
		return err
	}
	if err := equal(p, proof); err != nil {
		return fmt.Errorf("inclusion of %d: %w", index, err)
	}
	if err := tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(data)); err != nil {
		return fmt.Errorf("inclusion of %d: %w", index, err)
	}
	return nil
}

func checkConsistency(size int64, root tlog.Hash, old int64, oldRoot tlog.Hash, proof []tlog.Hash, r tlog.HashReader) error {
	if old == 0 { // RFC 9162 §2.1.4: empty proof; x/mod does not take size 0
		if len(proof) != 0 || oldRoot != tlog.Hash(sha256.Sum256(nil)) {
			return errors.New("consistency from 0 must be empty, from the empty root")
		}
		return nil
	}
	if err := checkRoot(old, oldRoot, r); err != nil {
		return fmt.Errorf("old root at %d: %w", old, err)
	}
	p, err := tlog.ProveTree(size, old, r)
	if err != nil {
		return err
	}
	if err := equal(p, proof); err != nil {
		return fmt.Errorf("consistency %d -> %d: %w", old, size, err)
	}
	if err := tlog.CheckTree(proof, size, root, old, oldRoot); err != nil {
		return fmt.Errorf("consistency %d -> %d: %w", old, size, err)
	}
	return nil
}

func checkNotes(nv *noteVectors, keys *testOnlyKeys, mv *merkleVectors) {
	v, err := note.NewVerifier(nv.Log.Vkey)
	plus := strings.Contains(strings.SplitN(nv.Log.Vkey, "+", 3)[2], "+")
	if err == nil && !plus {
		err = errors.New("vector vkey has no '+' in its base64 part")
	}
	report(err, "note.NewVerifier accepts the log key (with '+' in its base64 part)")
	if err != nil {
		return
	}
	for _, c := range nv.Notes {
		n, err := note.Open([]byte(c.Note), note.VerifierList(v))
		switch {
		case c.Valid && err == nil && n.Text != nv.Checkpoint.Text:
			err = fmt.Errorf("opened text differs from the checkpoint text")
		case !c.Valid && err == nil:
			err = errors.New("note.Open accepted a note the vector says is invalid")
		case !c.Valid:
			err = nil
		}
		report(err, "note %q: note.Open says valid=%v", c.Name, c.Valid)
	}
	report(checkpointMatchesMerkle(nv, mv), "checkpoint body names the merkle vector root")
	report(signAgain(nv, keys), "note.Sign with the test-only seed reproduces the signed note")
	report(checkCosignature(nv, v), "cosignature by %s (C2SP tlog-cosignature)", nv.Cosignature.Witness)
}

func checkpointMatchesMerkle(nv *noteVectors, mv *merkleVectors) error {
	root := mustHash(nv.Checkpoint.Root)
	want := fmt.Sprintf("%s\n%d\n%s\n", nv.Log.Name, nv.Checkpoint.Size, base64.StdEncoding.EncodeToString(root[:]))
	if want != nv.Checkpoint.Text {
		return fmt.Errorf("checkpoint text %q, expected %q", nv.Checkpoint.Text, want)
	}
	for _, t := range mv.Trees {
		if t.Size == nv.Checkpoint.Size && mustHash(t.Root) == root {
			return nil
		}
	}
	return fmt.Errorf("no merkle vector tree of size %d with that root", nv.Checkpoint.Size)
}

func seedOf(keys *testOnlyKeys, name string) ([]byte, error) {
	for _, k := range keys.Keys {
		if k.Name == name {
			return hex.DecodeString(k.Seed)
		}
	}
	return nil, fmt.Errorf("no test-only seed for %s", name)
}

func signAgain(nv *noteVectors, keys *testOnlyKeys) error {
	seed, err := seedOf(keys, nv.Log.Name)
	if err != nil {
		return err
	}
	parts := strings.SplitN(nv.Log.Vkey, "+", 3)
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%s+%s", parts[0], parts[1],
		base64.StdEncoding.EncodeToString(append([]byte{1}, seed...)))
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	msg, err := note.Sign(&note.Note{Text: nv.Checkpoint.Text}, signer)
	if err != nil {
		return err
	}
	if string(msg) != nv.Notes[0].Note {
		return fmt.Errorf("Go signs %q, vector has %q", msg, nv.Notes[0].Note)
	}
	return nil
}

// checkCosignature: key id = SHA-256(name || 0x0A || 0x04 || key)[:4]; signature =
// u64 timestamp || Ed25519("cosignature/v1\ntime <t>\n" || checkpoint text).
func checkCosignature(nv *noteVectors, logKey note.Verifier) error {
	cs := nv.Cosignature
	parts := strings.SplitN(nv.Witness.Vkey, "+", 3)
	blob, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(blob) != 33 || blob[0] != 0x04 || parts[0] != cs.Witness {
		return fmt.Errorf("bad witness key %q", nv.Witness.Vkey)
	}
	pub := ed25519.PublicKey(blob[1:])
	id := sha256.Sum256(append([]byte(cs.Witness+"\n"), blob...))
	if hex.EncodeToString(id[:4]) != parts[1] {
		return fmt.Errorf("witness key id %s, computed %x", parts[1], id[:4])
	}
	n, err := note.Open([]byte(cs.Note), note.VerifierList(logKey))
	if err != nil {
		return fmt.Errorf("cosigned note does not open with the log key: %w", err)
	}
	if len(n.UnverifiedSigs) != 1 || n.UnverifiedSigs[0].Name != cs.Witness {
		return errors.New("the cosignature is not the note's one unverified signature")
	}
	if !strings.HasSuffix(cs.Note, cs.Line) || "— "+cs.Witness+" "+n.UnverifiedSigs[0].Base64+"\n" != cs.Line {
		return errors.New("cosignature line is not the note's last line")
	}
	sig, _ := base64.StdEncoding.DecodeString(n.UnverifiedSigs[0].Base64)
	if !bytes.Equal(sig[:4], id[:4]) || len(sig) != 4+8+ed25519.SignatureSize {
		return errors.New("cosignature has the wrong key id or length")
	}
	ts := binary.BigEndian.Uint64(sig[4:12])
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, n.Text)
	if ts != cs.Timestamp || msg != cs.Message {
		return fmt.Errorf("timestamp %d / message differ from the vector", ts)
	}
	if !ed25519.Verify(pub, []byte(msg), sig[12:]) {
		return errors.New("Ed25519 cosignature does not verify")
	}
	return nil
}
