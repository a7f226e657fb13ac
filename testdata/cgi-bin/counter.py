#!/usr/bin/python3
# Module-level state in a helper module: fresh in every CGI process.
import counter_state

counter_state.hits += 1
print("Content-Type: text/plain")
print()
print("hits", counter_state.hits)
