# warmcgi check: run inside an embedded interpreter, like a CGI script.
# For each path in sys.argv[1:] print one JSON object: whether it compiles,
# which constructs need a specific mode (shared/COMPAT.md), and which of
# its installed imports refuse to load in a sub-interpreter.
import ast
import importlib
import importlib.util
import json
import os
import sys

# attribute call -> (COMPAT case, what warmcgi does in subinterp mode)
CALLS = {
    "os.fork": (49, "refused in subinterp mode (RuntimeError); run it as plain CGI (--cgi)"),
    "os.forkpty": (49, "refused in subinterp mode; run it as plain CGI (--cgi)"),
    "pty.fork": (49, "refused in subinterp mode; run it as plain CGI (--cgi)"),
    "os.execv": (48, "emulated: the program runs as the rest of the response"),
    "os.execve": (48, "emulated: the program runs as the rest of the response"),
    "os.execl": (48, "emulated: the program runs as the rest of the response"),
    "os.execlp": (48, "emulated: the program runs as the rest of the response"),
    "os.execvp": (48, "emulated: the program runs as the rest of the response"),
    "os.execvpe": (48, "emulated: the program runs as the rest of the response"),
    "os._exit": (46, "ends only the request; unflushed output is lost, as under CGI"),
    "os.abort": (47, "ends only the request"),
    "os.kill": (47, "signals to its own process end only the request"),
    "signal.signal": (76, "SIGALRM is emulated per request; other handlers are recorded, never delivered"),
    "signal.alarm": (76, "emulated per request; interrupts Python code, not a blocking C call"),
    "signal.setitimer": (76, "ITIMER_REAL emulated per request"),
    "os.setuid": (79, "refused in subinterp mode; run it as plain CGI (--cgi)"),
    "os.setgid": (79, "refused in subinterp mode; run it as plain CGI (--cgi)"),
    "os.chroot": (79, "refused in subinterp mode; run it as plain CGI (--cgi)"),
    "os.setsid": (79, "refused in subinterp mode; run it as plain CGI (--cgi)"),
    "resource.setrlimit": (79, "refused in subinterp mode; run it as plain CGI (--cgi)"),
    "os.putenv": (55, "affects only the request's children, never the server"),
    "time.tzset": (58, "sees the server's TZ, not the request's os.environ"),
    "locale.setlocale": (58, "process-wide; undone after the request"),
    "os.umask": (58, "per worker thread; restored after the request"),
    "os.dup2": (80, "emulated on fds 0-2 by re-pointing the request's streams"),
    "os.closerange": (80, "only fds 0-2 are closed, per request"),
    "faulthandler.enable": (77, "a no-op inside scripts"),
    "sys.setrecursionlimit": (66, "restored after the request"),
}


def dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def refuses_subinterpreters(name, script_dir):
    """Import an installed (not the script's own) module: does it refuse
    a sub-interpreter?"""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None) or ""
    if not origin or origin.startswith(script_dir + os.sep):
        return None
    try:
        importlib.import_module(name)
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        # An ImportError, or (--isolation auto's guard) the runtime's stop
        # of a request that must move to another mode, with the same text.
        text = str(e)
        if "subinterpreter" in text or "sub-interpreter" in text:
            return text
    return None


def check(path):
    out = {"path": path, "compile_error": "", "constructs": [], "refused_imports": []}
    try:
        with open(path, "rb") as f:
            source = f.read()
        tree = ast.parse(source, path)
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as e:
        out["compile_error"] = "%s: %s (line %s)" % (type(e).__name__, e.msg, e.lineno)
        return out
    except (OSError, ValueError) as e:
        out["compile_error"] = "%s: %s" % (type(e).__name__, e)
        return out
    aliases = {}
    imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                imports.append(a.name)
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imports.append(node.module)
            for a in node.names:
                aliases[a.asname or a.name] = node.module + "." + a.name
                if a.name != "*":
                    imports.append(node.module + "." + a.name)  # a submodule, if it is one
    seen = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            head, _, rest = name.partition(".")
            full = aliases.get(head, head) + ("." + rest if rest else "")
            if full in CALLS and full not in seen:
                seen.add(full)
                case, note = CALLS[full]
                out["constructs"].append({"call": full, "line": node.lineno, "compat": case, "note": note})
    script_dir = os.path.dirname(path)
    for name in sorted(set(imports)):
        why = refuses_subinterpreters(name, script_dir)
        if why:
            out["refused_imports"].append({"module": name, "error": why})
    return out


print("Content-Type: application/json")
print()
for p in sys.argv[1:]:
    print(json.dumps(check(p)))
