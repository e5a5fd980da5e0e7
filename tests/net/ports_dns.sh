#!/usr/bin/env bash
source "$(dirname "$0")/../lib/tap.sh"
skip_all "not written yet"
