import os, signal, time
print("Content-Type: text/plain\n")
mode = os.environ["QUERY_STRING"]
if mode == "handler":
    def on_alarm(signum, frame):
        raise TimeoutError("too slow")
    old = signal.signal(signal.SIGALRM, on_alarm)
    print("old handler default:", old == signal.SIG_DFL, flush=True)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        while True:
            pass
    except TimeoutError as e:
        print("timed out:", e)
    print("left:", signal.alarm(0))
else:
    print("waiting", flush=True)
    signal.alarm(1)
    while True:
        pass
