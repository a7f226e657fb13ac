#!/usr/bin/python3
# COMPAT 66: a module's import warns on every request, as in a new CGI
# process, through the filters the script has at that moment, attributed
# to the importing line: recorded, raised by "error", printed to the error
# log by the default filters (in __main__), silenced by "ignore".
import os
import warnings

print("Content-Type: text/plain")
print()


def show(seen):
    for w in seen:
        print(" ", w.category.__name__, w.message, os.path.basename(w.filename), w.lineno)


with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    import sre_compile
print("recorded:")
show(seen)
with warnings.catch_warnings():
    warnings.simplefilter("error")
    for attempt in (1, 2):
        try:
            import sre_parse
            print("sre_parse imported")
        except DeprecationWarning as e:
            print("error filter, attempt", attempt, "raised at line", e.__traceback__.tb_lineno, e)
import sre_parse  # the default filters: the warning goes to the error log

with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("ignore")
    import sre_constants
print("ignored:", len(seen))
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    import sre_compile
    import sre_constants
print("imported again in this request:", len(seen))
print(sre_compile.compile is not None, sre_parse.parse is not None, sre_constants.MAXREPEAT > 0)
