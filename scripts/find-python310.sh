#!/bin/sh
# Print the path of a working Python 3.10 interpreter, or nothing. pyenv installs it without
# putting it on PATH (its shim then refuses to run), so look in pyenv's versions too.
for candidate in python3.10 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10); print(sys.executable)' 2>/dev/null; then
        exit 0
    fi
done
exit 0
