# Shared by the provisioning scripts of infra/ (sourced, not run).
#
# Two modes:
#   - a machine this script may set up (root with apt-get: CI, a Debian or Ubuntu box run with sudo) installs and
#     builds everything, and any failure is an error;
#   - anywhere else (macOS, Linux without root) it installs nothing, says what is missing and what to do, and
#     leaves the tests to the providers that can serve.

# can_provision succeeds when this machine may be set up by these scripts.
can_provision() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

# conformance_hint prints how to run the tests with only the providers this machine has.
conformance_hint() {
	cat >&2 <<-'EOF'
	  The tests still run: each service uses the first provider that can serve it (docs/infra.md).
	  The conformance suite requires every provider by default; to require only what this machine has, run e.g.
	    LAB_CONFORMANCE_PROVIDERS=inprocess,native make test
	EOF
}
