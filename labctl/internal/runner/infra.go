package runner

// UnavailablePrefix is a copy of infra.UnavailablePrefix, kept here so that the runner imports no
// infrastructure code. A test asserts that the two stay equal.
const UnavailablePrefix = "infra unavailable:"
