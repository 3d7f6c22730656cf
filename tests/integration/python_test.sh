#!/usr/bin/env bash
# The Python package vol (python/vol over build/libvol.so): its unittest
# suite (tests/integration/python/test_vol.py), one TestCase per test here,
# on a file:// store and on Ceph RGW; and how it is installed: make install
# for every Python, pip install of python/ offline.
source "$(dirname "$0")/lib.sh"

LIBVOL=$ROOT/build/libvol.so

# unittest CLASS: runs one TestCase of test_vol.py with the package from the
# source tree (which finds build/libvol.so by itself).
unittest_class() {
  [[ -e "$LIBVOL" ]] || fail "$LIBVOL is not built (run make)"
  VOL="$VOL" PYTHONPATH="$ROOT/python:$ROOT/tests/integration/python" \
    python3 -m unittest -v "test_vol.$1" 2>&1
}

test_py_issue_examples() { unittest_class TestIssueExamples; }
test_py_volumes() { unittest_class TestVolumes; }
test_py_reading() { unittest_class TestReading; }
test_py_changing() { unittest_class TestChanging; }
test_py_errors() { unittest_class TestErrors; }
test_py_session_commit_and_reload() { unittest_class TestSession; }
test_py_package() { unittest_class TestPackage; }

# make install PREFIX=… registers the package with the Pythons it is given
# (by default every python3.N >= 3.9 found): a clean interpreter imports it
# from PREFIX and loads PREFIX/lib/libvol.so, not the source tree's.
test_make_install_for_every_python() {
  on_s3 && skip "installing does not depend on the store"
  python3 -m venv --without-pip venv || skip "python3 -m venv is not available"
  make -s -C "$ROOT" install PREFIX="$T/prefix" PYTHONS="$T/venv/bin/python3" >install.log 2>&1 ||
    fail "make install failed: $(tail -5 install.log)"
  [[ -e prefix/lib/libvol.so && -e prefix/lib/vol/python/vol/__init__.py ]] || fail "files missing: $(find prefix | head -20)"
  local out
  out=$(cd / && env -u PYTHONPATH "$T/venv/bin/python3" -c \
    'import vol, vol._native as n; print(vol.__file__); print(n.lib._name); v = vol.Volume.from_name("inst", create_if_missing=True); print(v.name)')
  echo "$out"
  assert_eq "$T/prefix/lib/vol/python/vol/__init__.py" "$(sed -n 1p <<<"$out")"
  assert_eq "$T/prefix/lib/libvol.so" "$(sed -n 2p <<<"$out")"
  assert_eq inst "$(sed -n 3p <<<"$out")"
  assert_match "inst" "$("$VOL" list)"
}

# pip install ./python works offline: the in-tree build backend needs nothing
# from an index, and the wheel carries libvol.so.
test_pip_install_offline() {
  on_s3 && skip "installing does not depend on the store"
  python3 -m venv venv || skip "python3 -m venv is not available"
  [[ -x venv/bin/pip ]] || skip "the venv has no pip"
  PIP_NO_INDEX=1 venv/bin/pip install --no-cache-dir "$ROOT/python" >pip.log 2>&1 || fail "pip install failed: $(tail -20 pip.log)"
  local out
  out=$(cd / && env -u PYTHONPATH "$T/venv/bin/python3" -c \
    'import vol, vol._native as n; print(vol.__file__); print(n.lib._name); print(vol.Volume.from_name("pip", create_if_missing=True).name)')
  echo "$out"
  assert_match "^$T/venv/lib/python3[.0-9]*/site-packages/vol/__init__.py$" "$(sed -n 1p <<<"$out")"
  assert_match "^$T/venv/lib/python3[.0-9]*/site-packages/vol/libvol.so$" "$(sed -n 2p <<<"$out")"
  assert_eq pip "$(sed -n 3p <<<"$out")"
}

run_tests "$@"
