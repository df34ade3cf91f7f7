# Sourced by scripts/drawdown, scripts/test, scripts/check and scripts/bench (not run on its
# own): finds uv, installing it once if it is missing, and sets UV to its path.
# Only needs python3 on the machine. The caller sets `repo_root` (the checkout) first.
# shellcheck shell=bash

uv_from_python() {  # print the uv binary bundled with python "$1"'s uv package, if any
    "$1" -c 'import uv, sys; sys.stdout.write(uv.find_uv_bin())' 2>/dev/null
}

ensure_uv() {
    local dir log
    if command -v uv >/dev/null 2>&1; then
        UV="$(command -v uv)"
        return 0
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        echo "error: neither uv nor python3 found on PATH; install one of them" >&2
        return 1
    fi
    # Already installed (e.g. pip --user whose bin dir is not on PATH, or a previous run)?
    for dir in "$repo_root/.tools/uv-venv/bin/python" python3; do
        if UV="$(uv_from_python "$dir")" && [[ -x "$UV" ]]; then
            return 0
        fi
    done
    if UV="$(PYTHONPATH="$repo_root/.tools/uv-target" uv_from_python python3)" && [[ -x "$UV" ]]; then
        return 0
    fi
    echo "uv not found; installing it (one-off)..." >&2
    # What the attempts print is only shown if all of them fail: an externally-managed
    # python refusing `pip --user` is expected, and the next attempt handles it.
    mkdir -p "$repo_root/.tools"
    log="$repo_root/.tools/uv-install.log"
    : >"$log"
    # 1. pip --user (not possible inside a virtualenv, or with an externally-managed python)
    if python3 -m pip install --user --quiet uv >>"$log" 2>&1 \
        && UV="$(uv_from_python python3)" && [[ -x "$UV" ]]; then
        return 0
    fi
    # 2. a private venv under .tools/ (gitignored)
    if python3 -m venv "$repo_root/.tools/uv-venv" >>"$log" 2>&1 \
        && "$repo_root/.tools/uv-venv/bin/python" -m pip install --quiet uv >>"$log" 2>&1 \
        && UV="$(uv_from_python "$repo_root/.tools/uv-venv/bin/python")" && [[ -x "$UV" ]]; then
        return 0
    fi
    rm -rf "$repo_root/.tools/uv-venv"
    # 3. plain pip --target (e.g. Debian python3 without python3-venv)
    if python3 -m pip install --quiet --target "$repo_root/.tools/uv-target" uv >>"$log" 2>&1 \
        && UV="$(PYTHONPATH="$repo_root/.tools/uv-target" uv_from_python python3)" \
        && [[ -x "$UV" ]]; then
        return 0
    fi
    cat "$log" >&2
    echo "error: could not install uv (tried pip --user, a .tools/ venv, pip --target; output above)." >&2
    echo "       Install it yourself: https://docs.astral.sh/uv/getting-started/installation/" >&2
    return 1
}

ensure_uv
# uv ships its own CA roots; behind a TLS-intercepting proxy it needs the system bundle.
if [[ -z "${SSL_CERT_FILE:-}" && -r /etc/ssl/certs/ca-certificates.crt ]]; then
    export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
fi
