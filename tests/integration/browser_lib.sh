# browser_setup: playwright-core from npm (tests/browser/package-lock.json)
# in $BR = $BUILDDIR/tests/browser, installed once per lock file; Debian's
# chromium is the browser. Two tests may set up at once (make -j2 check):
# the install is under flock. Exits the test (TAP) when npm fails.
browser_setup() {
    BR="$BUILDDIR/tests/browser"
    mkdir -p "$BR"
    (
        flock 9
        cp "$SRCDIR/tests/browser/package.json" "$SRCDIR/tests/browser/package-lock.json" "$BR/"
        cmp -s "$BR/package-lock.json" "$BR/node_modules/.installed-lock" 2>/dev/null && exit 0
        cd "$BR" && npm ci --no-audit --no-fund --loglevel=error >"$TMP/npm.log" 2>&1 &&
            cp package-lock.json node_modules/.installed-lock
    ) 9>"$BR/.setup.lock" ||
        { echo "1..1"; echo "not ok 1 - npm ci failed"; sed 's/^/# /' "$TMP/npm.log"; exit 1; }
}
