// Command verifylog checks an InsuTrace static export, and C2SP tlog-proof files,
// using only Go's golang.org/x/mod/sumdb/note and sumdb/tlog: no InsuTrace code.
//
// Usage:
//
//	verifylog [-v] DIR [PROOF.tlog-proof ...]
//	verifylog -vkey FILE -entry FILE PROOF.tlog-proof
//
// DIR is a C2SP tlog-tiles directory (DIR/checkpoint, DIR/log.vkey,
// DIR/tile/<L>/<N>[.p/<W>], DIR/tile/entries/<N>[.p/<W>]). x/mod names the same
// tiles tile/8/<L>/… and tile/8/data/…; dirTiles maps one onto the other.
//
// Checks, one output line each ("ok" or "FAIL"):
//   - the checkpoint note verifies with the log.vkey key (sumdb/note.Open);
//   - its body parses as a C2SP tlog-checkpoint whose origin is the key's name;
//   - tlog.TreeHash over tlog.TileHashReader(dirTiles) equals the checkpoint root;
//   - every entry of the entry bundles is in the tree (tlog.RecordHash,
//     tlog.ProveRecord, tlog.CheckRecord);
//   - the root recomputed from the entries alone equals the checkpoint root;
//   - consistency between several sizes (tlog.ProveTree, tlog.CheckTree);
//   - each tlog-proof: its checkpoint note and its inclusion path.
//
// Exit status: 0 if every check passed, 1 if any failed, 2 on bad usage.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	tileHeight  = 8
	proofHeader = "c2sp.org/tlog-proof@v1"
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

func main() {
	vkeyFile := flag.String("vkey", "", "log verifier key file (default DIR/log.vkey)")
	entryFile := flag.String("entry", "", "entry bytes for a single tlog-proof (default: from DIR)")
	verbose := flag.Bool("v", false, "print one line per entry")
	flag.Parse()

	var dir string
	var proofs []string
	for _, arg := range flag.Args() {
		if strings.HasSuffix(arg, ".tlog-proof") {
			proofs = append(proofs, arg)
		} else if dir == "" {
			dir = arg
		} else {
			usage("more than one export directory")
		}
	}
	if dir == "" && (*vkeyFile == "" || *entryFile == "" || len(proofs) != 1) {
		usage("without DIR, give -vkey, -entry and exactly one .tlog-proof")
	}
	if *vkeyFile == "" {
		*vkeyFile = filepath.Join(dir, "log.vkey")
	}

	verifier, err := loadVerifier(*vkeyFile)
	report(err, "log key %s", *vkeyFile)
	if err != nil {
		os.Exit(1)
	}

	var log *exportedLog
	if dir != "" {
		log = checkExport(dir, verifier, *verbose)
	}
	for _, p := range proofs {
		checkProofFile(p, verifier, *entryFile, log)
	}
	if failures > 0 {
		fmt.Printf("%d check(s) FAILED\n", failures)
		os.Exit(1)
	}
	fmt.Println("all checks passed")
}

func usage(why string) {
	fmt.Fprintf(os.Stderr, "verifylog: %s\n", why)
	fmt.Fprintln(os.Stderr, "usage: verifylog [-v] DIR [PROOF.tlog-proof ...]")
	fmt.Fprintln(os.Stderr, "       verifylog -vkey FILE -entry FILE PROOF.tlog-proof")
	os.Exit(2)
}

func loadVerifier(path string) (note.Verifier, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(strings.TrimSpace(string(data)))
}

// openCheckpoint verifies a checkpoint note (C2SP signed-note) and parses its body
// (C2SP tlog-checkpoint). x/mod's tlog.ParseTree wants the go.sum header line, so
// the three body lines are parsed here.
func openCheckpoint(msg []byte, v note.Verifier) (tlog.Tree, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("note: %w", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return tlog.Tree{}, errors.New("checkpoint has fewer than three lines")
	}
	if lines[0] != v.Name() {
		return tlog.Tree{}, fmt.Errorf("origin %q, expected %q", lines[0], v.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return tlog.Tree{}, fmt.Errorf("bad tree size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return tlog.Tree{}, fmt.Errorf("bad root hash %q", lines[2])
	}
	tree := tlog.Tree{N: size}
	copy(tree.Hash[:], root)
	return tree, nil
}

// dirTiles is a tlog.TileReader over a C2SP tlog-tiles directory.
type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return tileHeight }

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := os.ReadFile(filepath.Join(d.dir, filepath.FromSlash(c2spPath(t))))
		if err != nil {
			return nil, err
		}
		data[i] = b
	}
	return data, nil
}

func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// c2spPath maps x/mod's tile/8/<L>/… and tile/8/data/… onto C2SP's
// tile/<L>/… and tile/entries/….
func c2spPath(t tlog.Tile) string {
	rest := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", tileHeight))
	if strings.HasPrefix(rest, "data/") {
		rest = "entries/" + strings.TrimPrefix(rest, "data/")
	}
	return "tile/" + rest
}

type exportedLog struct {
	tree    tlog.Tree
	entries [][]byte // nil if the bundles could not be read
}

func checkExport(dir string, v note.Verifier, verbose bool) *exportedLog {
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	var tree tlog.Tree
	if err == nil {
		tree, err = openCheckpoint(msg, v)
	}
	report(err, "checkpoint verifies with %s+%08x and parses (size %d)", v.Name(), v.KeyHash(), tree.N)
	if err != nil {
		return nil
	}
	log := &exportedLog{tree: tree}
	hr := tlog.TileHashReader(tree, dirTiles{dir})

	th, err := tlog.TreeHash(tree.N, hr)
	if err == nil && tree.N > 0 && th != tree.Hash {
		err = fmt.Errorf("tiles give %v, checkpoint says %v", th, tree.Hash)
	}
	report(err, "tlog.TreeHash(%d) over the hash tiles equals the checkpoint root", tree.N)

	entries, err := readEntries(dir, tree.N)
	report(err, "entry bundles hold %d entries", tree.N)
	if err != nil {
		return log
	}
	log.entries = entries
	checkInclusions(entries, tree, hr, verbose)

	leaves := make([]tlog.Hash, len(entries))
	for i, e := range entries {
		leaves[i] = tlog.RecordHash(e)
	}
	var rootErr error
	if got := naiveRoot(leaves); got != tree.Hash {
		rootErr = fmt.Errorf("entries give %v, checkpoint says %v", got, tree.Hash)
	}
	report(rootErr, "RFC 6962 root recomputed from the entries alone equals the checkpoint root")
	checkConsistency(leaves, tree, hr)
	return log
}

// readEntries reads the entry bundles (uint16 big-endian length, then the entry).
func readEntries(dir string, size int64) ([][]byte, error) {
	var entries [][]byte
	for n := int64(0); n*(1<<tileHeight) < size; n++ {
		w := size - n*(1<<tileHeight)
		if w > 1<<tileHeight {
			w = 1 << tileHeight
		}
		t := tlog.Tile{H: tileHeight, L: -1, N: n, W: int(w)}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(c2spPath(t))))
		if err != nil {
			return nil, err
		}
		bundle, err := splitBundle(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c2spPath(t), err)
		}
		if len(bundle) != int(w) {
			return nil, fmt.Errorf("%s holds %d entries, expected %d", c2spPath(t), len(bundle), w)
		}
		entries = append(entries, bundle...)
	}
	return entries, nil
}

func splitBundle(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, fmt.Errorf("truncated length after entry %d", len(out))
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, fmt.Errorf("entry %d truncated", len(out))
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	return out, nil
}

func checkInclusions(entries [][]byte, tree tlog.Tree, hr tlog.HashReader, verbose bool) {
	bad := 0
	for i, e := range entries {
		p, err := tlog.ProveRecord(tree.N, int64(i), hr)
		if err == nil {
			err = tlog.CheckRecord(p, tree.N, tree.Hash, int64(i), tlog.RecordHash(e))
		}
		if err != nil {
			bad++
			if bad <= 10 {
				report(err, "entry %d is included (ProveRecord/CheckRecord)", i)
			}
			continue
		}
		if verbose {
			report(nil, "entry %d is included (%d-hash proof)", i, len(p))
		}
	}
	if bad > 10 {
		report(fmt.Errorf("%d more failures not shown", bad-10), "entry inclusion")
	}
	if bad == 0 {
		report(nil, "all %d entries are included (RecordHash, ProveRecord, CheckRecord)", len(entries))
	}
}

// naiveRoot is RFC 6962 §2.1 MTH, straight from the definition.
func naiveRoot(leaves []tlog.Hash) tlog.Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return tlog.NodeHash(naiveRoot(leaves[:k]), naiveRoot(leaves[k:]))
}

// consistencySizes picks old/new size pairs around tile boundaries.
func consistencySizes(n int64) [][2]int64 {
	seen := map[int64]bool{}
	var sizes []int64
	for _, s := range []int64{1, 2, 3, 7, 8, 255, 256, 257, 511, 512, n / 2, n - 1, n} {
		if s >= 1 && s <= n && !seen[s] {
			seen[s] = true
			sizes = append(sizes, s)
		}
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	var pairs [][2]int64
	for i, s := range sizes {
		if s != n {
			pairs = append(pairs, [2]int64{s, n})
		}
		if i > 0 && s != n {
			pairs = append(pairs, [2]int64{sizes[i-1], s})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	return pairs
}

func checkConsistency(leaves []tlog.Hash, tree tlog.Tree, hr tlog.HashReader) {
	for _, pair := range consistencySizes(tree.N) {
		old, cur := pair[0], pair[1]
		oldRoot, curRoot := naiveRoot(leaves[:old]), naiveRoot(leaves[:cur])
		th, err := tlog.TreeHash(old, hr)
		if err == nil && th != oldRoot {
			err = fmt.Errorf("tiles give root %v at size %d, entries give %v", th, old, oldRoot)
		}
		var p tlog.TreeProof
		if err == nil {
			p, err = tlog.ProveTree(cur, old, hr)
		}
		if err == nil {
			err = tlog.CheckTree(p, cur, curRoot, old, oldRoot)
		}
		report(err, "consistency %d -> %d (ProveTree/CheckTree, %d hashes)", old, cur, len(p))
	}
}

type tlogProof struct {
	index int64
	path  tlog.RecordProof
	note  []byte
}

// parseProof parses C2SP tlog-proof v1: header, optional "extra", "index N",
// the inclusion path (one base64 hash per line), a blank line, the checkpoint.
func parseProof(data []byte) (*tlogProof, error) {
	head, rest, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return nil, errors.New("no blank line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != proofHeader {
		return nil, fmt.Errorf("first line is %q, expected %q", lines[0], proofHeader)
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		if _, err := base64.StdEncoding.DecodeString(lines[0][len("extra "):]); err != nil {
			return nil, fmt.Errorf("bad extra line: %v", err)
		}
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return nil, errors.New("missing index line")
	}
	digits := lines[0][len("index "):]
	index, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || index < 0 || strconv.FormatInt(index, 10) != digits {
		return nil, fmt.Errorf("bad index %q", digits)
	}
	p := &tlogProof{index: index, note: rest}
	for _, line := range lines[1:] {
		h, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(h) != tlog.HashSize {
			return nil, fmt.Errorf("bad path hash %q", line)
		}
		var hash tlog.Hash
		copy(hash[:], h)
		p.path = append(p.path, hash)
	}
	return p, nil
}

func checkProofFile(path string, v note.Verifier, entryFile string, log *exportedLog) {
	err := checkProof(path, v, entryFile, log)
	report(err, "tlog-proof %s", filepath.Base(path))
}

func checkProof(path string, v note.Verifier, entryFile string, log *exportedLog) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	p, err := parseProof(data)
	if err != nil {
		return err
	}
	tree, err := openCheckpoint(p.note, v)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	var entry []byte
	switch {
	case entryFile != "":
		if entry, err = os.ReadFile(entryFile); err != nil {
			return err
		}
	case log != nil && log.entries != nil && p.index < int64(len(log.entries)):
		entry = log.entries[p.index]
	default:
		return fmt.Errorf("no entry %d to check the proof against", p.index)
	}
	if p.index >= tree.N {
		return fmt.Errorf("index %d is outside the checkpoint's tree of size %d", p.index, tree.N)
	}
	if err := tlog.CheckRecord(p.path, tree.N, tree.Hash, p.index, tlog.RecordHash(entry)); err != nil {
		return fmt.Errorf("entry %d: %w", p.index, err)
	}
	return nil
}
