#!/bin/sh
# For trying this example only: prints an `export NAME=…` line, with a strong random demo
# password, for every environment variable that branches.csv makes the manifests need.
#
#   eval "$(sh examples/bulk-onboarding/demo-env.sh)"
#
# Real passwords come from a secrets manager or CI secrets, never from this script.
set -eu
csv="$(dirname "$0")/branches.csv"

demo_password() {
    # at least 8 characters of 3 kinds or more (the AINAS password rule)
    printf 'Demo-%s-7q' "$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 16)"
}

awk -F, '
    NR == 1 { for (i = 1; i <= NF; i++) column[$i] = i; next }
    NF > 1 {
        code = toupper($column["code"])
        print "BRANCH_" code "_BATCH_PASSWORD"
        print "BRANCH_" code "_ARRIVAL_PASSWORD"
        print "BRANCH_" code "_KEI_BATCH_PASSWORD"
        print "BRANCH_" code "_KEI_ARRIVAL_PASSWORD"
        for (n = 1; n <= 2; n++) {
            login = toupper($column[n == 1 ? "manager_login" : "staff_login"])
            gsub("-", "_", login)
            print "USER_" login "_PASSWORD"
        }
    }
' "$csv" | while read -r name; do
    printf 'export %s=%s\n' "$name" "$(demo_password)"
done
