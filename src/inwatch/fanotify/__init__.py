"""The fanotify backend: who did it, on a whole filesystem with one mark.

Modules, leaves first: ``flags`` (the kernel's bits), ``errors``, ``_sys`` (the
only ctypes), ``wire`` (the pure parser), ``fd`` (the group's fd), ``handles``
(directory handle -> path), ``actors`` (pid -> Actor, pidfd-safe), ``rescan``
(tree diff after an overflow), ``core`` (records -> :class:`inwatch.Event`),
``backend`` (the :class:`inwatch.source.Source` the drivers read) and ``limits``.
"""
