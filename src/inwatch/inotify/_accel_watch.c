/* add_watch: inotify_add_watch(2) for the walk's hot path (see fd.py).
 *
 * Setting up a tree is one add_watch a directory, twice with the quiet walk
 * (the watch, then the widening MASK_ADD): the ctypes call and its argument
 * conversion were ~1 µs of the ~16 µs a directory costs. Only success is
 * handled here: any failure (errno, an embedded NUL, a mask wider than 32
 * bits) returns None and the caller takes the Python path (_sys.add_watch),
 * which makes the call again and raises the one error message there is. A
 * second call is harmless: inotify_add_watch on a path already watched by
 * this instance returns the same wd, and one that failed simply runs again. */
#define PY_SSIZE_T_CLEAN
#include "_accel.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>

const char accel_add_watch_doc[] =
    "add_watch(fd, path, mask) -> wd, or None on any failure (then use _sys.add_watch)\n\n"
    "inotify_add_watch(2) with path (a str) encoded as os.fsencode does.";

PyObject *
accel_add_watch(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "add_watch() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    long fd = PyLong_AsLong(args[0]);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    if (fd < 0 || fd > INT_MAX)
        Py_RETURN_NONE; /* a closed Inotify's -1: the Python path says so */
    if (!PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "add_watch(): path must be a str");
        return NULL;
    }
    unsigned long long mask = PyLong_AsUnsignedLongLong(args[2]);
    if (mask == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return NULL;
        PyErr_Clear(); /* negative or too wide: the Python path says so */
        Py_RETURN_NONE;
    }
    if (mask > 0xFFFFFFFFULL)
        Py_RETURN_NONE;
    /* os.fsencode: the filesystem encoding with surrogateescape. */
    PyObject *encoded = PyUnicode_EncodeFSDefault(args[1]);
    if (encoded == NULL)
        return NULL;
    const char *path = PyBytes_AS_STRING(encoded);
    if ((Py_ssize_t)strlen(path) != PyBytes_GET_SIZE(encoded)) {
        Py_DECREF(encoded);
        Py_RETURN_NONE; /* an embedded NUL: the Python path refuses it */
    }
    int wd;
    do {
        Py_BEGIN_ALLOW_THREADS
        wd = inotify_add_watch((int)fd, path, (uint32_t)mask);
        Py_END_ALLOW_THREADS
    } while (wd < 0 && errno == EINTR);
    Py_DECREF(encoded);
    if (wd < 0)
        Py_RETURN_NONE;
    return PyLong_FromLong(wd);
}
