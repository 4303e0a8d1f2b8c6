// Interoperability checks of InsuTrace's log against Go's golang.org/x/mod
// (sumdb/note, sumdb/tlog), built offline from Debian's golang-golang-x-mod-dev.
// tests/interop/test_go_interop.py copies this module to a temporary directory
// and, when INSUTRACE_GO_XMOD names another checkout, re-points the replace.
module insutrace.test/interop

go 1.19

require golang.org/x/mod v0.7.0

replace golang.org/x/mod => /usr/share/gocode/src/golang.org/x/mod
