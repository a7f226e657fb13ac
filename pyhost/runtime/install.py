# The runtime's changes to the interpreter, each area's in turn. The order
# matters: later steps record or build on what earlier ones set. The
# baselines (state.py) hold warmcgi's import finders, preloaded modules
# are imported with the emulation in place, and process mode undoes part of
# the sub-interpreter emulation.


def _install():
    _install_stdio()
    _install_environ()
    _install_modules()
    _install_extguard()
    _install_process()
    _install_signals()
    _install_fds()
    _install_children()
    _install_threads()
    _install_atexit()
    _install_logging()
    # random's seed is watched from the first request on: a script that
    # imports it first and seeds it must not fix the next request's
    # numbers (F5).
    _patch_random()
    _install_locale()
    _install_umask()
    _record_base()
    _install_codecs()
    _install_preload()
    _install_watchdog()
    _install_cgi_escape()
    _install_procmode()


_install()
