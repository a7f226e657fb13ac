import os, subprocess, sys
print("Content-Type: text/plain\n", flush=True)
os.system("echo system $QUERY_STRING")
print("popen", os.popen("echo $REQUEST_METHOD").read().strip(), flush=True)
subprocess.call(["cat"])
print()
print("rc", subprocess.call(["sh", "-c", "exit 7"]))
print("status", os.system("exit 3") >> 8)
