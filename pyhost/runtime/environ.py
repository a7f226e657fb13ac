import os

# os.environ (22, 54-56): the same _Environ objects for the interpreter's
# life, their storage swapped per request. The storage dict is shared by
# os.environ and os.environb, as in CPython. os.putenv and os.unsetenv are
# what _Environ calls on writes: they must never reach the process's C
# environment, which every thread and interpreter shares (55).
_environ = os.environ
_environb = os.environb
_idle_env = {}


# Under CGI os.putenv changes the process environment, which children see,
# but not os.environ (55). Here the process environment is the server's:
# a request's putenv and unsetenv go into an overlay that only its
# children's environments get, cleared when the request ends.
_penv = {}


def _putenv(key, value):
    _penv[os.fsdecode(os.fsencode(key))] = os.fsdecode(os.fsencode(value))


def _unsetenv(key):
    _penv[os.fsdecode(os.fsencode(key))] = None


def _child_env():
    env = dict(os.environ)
    for k, v in _penv.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def _set_environ(data):
    _environ._data = data
    _environb._data = data


def _coerce_locale(env):
    # Python started by Apache with no LANG coerces the C locale to
    # C.UTF-8 and says so in its environment (PEP 538, case 60).
    if env.get(b"LC_ALL"):
        return
    value = env.get(b"LC_CTYPE") or env.get(b"LANG")
    if not value or value in (b"C", b"POSIX"):
        env[b"LC_CTYPE"] = b"C.UTF-8"


def _install_environ():
    os.putenv = _putenv
    os.unsetenv = _unsetenv
    _set_environ(_idle_env)
