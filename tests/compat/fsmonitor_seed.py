#!/usr/bin/env python
# encoding:utf-8
# ruff: noqa: UP009, UP031  (kept as the seed wrote it)
# The seed's pyinotify example (../shared/seeds/000_*), with Python 3 print() and
# only its import line changed: `from pyinotify import ...` -> `from inwatch.pyinotify import ...`.

import os

from inwatch.pyinotify import IN_CREATE, IN_DELETE, IN_MODIFY, Notifier, ProcessEvent, WatchManager


class EventHandler(ProcessEvent):
    """事件处理"""

    def process_IN_CREATE(self, event):
        print("Create file: %s " % os.path.join(event.path, event.name))

    def process_IN_DELETE(self, event):
        print("Delete file: %s " % os.path.join(event.path, event.name))

    def process_IN_MODIFY(self, event):
        print("Modify file: %s " % os.path.join(event.path, event.name))


def FSMonitor(path="."):
    wm = WatchManager()
    mask = IN_DELETE | IN_CREATE | IN_MODIFY
    notifier = Notifier(wm, EventHandler())
    wm.add_watch(path, mask, auto_add=True, rec=True)
    print("now starting monitor %s" % (path))
    while True:
        try:
            notifier.process_events()
            if notifier.check_events():
                notifier.read_events()
        except KeyboardInterrupt:
            notifier.stop()
            break


if __name__ == "__main__":
    import sys

    FSMonitor(sys.argv[1] if len(sys.argv) > 1 else "/home/firefoxbug")
