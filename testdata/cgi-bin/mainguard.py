#!/usr/bin/python3
import pickle

import __main__


class Visit:
    def __init__(self, page, count):
        self.page = page
        self.count = count


def main():
    print("Content-Type: text/plain")
    print()
    data = pickle.dumps(Visit("index", 3))
    visit = pickle.loads(data)
    print("round trip: %s %d" % (visit.page, visit.count))
    print("class is __main__.Visit: %s" % (type(visit) is __main__.Visit))
    print("ok")


if __name__ == "__main__":
    main()
