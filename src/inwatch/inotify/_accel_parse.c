/* parse_flat: the C twin of wire.parse_flat_py (part of inwatch.inotify._accel, see _accel.c). */
#include "_accel.h"

/* --- parse_flat ------------------------------------------------------------ */

static PyObject *
raise_parse_error(PyObject *message, size_t offset)
{
    if (message == NULL)
        return NULL;
    PyObject *exc = PyObject_CallFunction(accel_parse_error, "(On)", message, (Py_ssize_t)offset);
    Py_DECREF(message);
    if (exc != NULL) {
        PyErr_SetObject(accel_parse_error, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static uint32_t
load_u32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v); /* native byte order, like struct's "=" */
    return v;
}

const char accel_parse_flat_doc[] =
    "parse_flat(buf) -> list\n\n"
    "wire.parse_flat_py in C: the records of buf as one flat list\n"
    "[wd, mask, cookie, name, ...]; EventParseError if buf ends inside a record.";

PyObject *
accel_parse_flat(PyObject *Py_UNUSED(module), PyObject *arg)
{
    if (accel_parse_error == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "inwatch.inotify._accel: bind() was not called");
        return NULL;
    }
    /* [wire: if type(buf) is not bytes: buf = bytes(buf)] */
    PyObject *buf;
    if (PyBytes_CheckExact(arg)) {
        Py_INCREF(arg);
        buf = arg;
    }
    else {
        buf = PyObject_CallOneArg((PyObject *)&PyBytes_Type, arg);
        if (buf == NULL)
            return NULL;
    }
    const char *p = PyBytes_AS_STRING(buf);
    const size_t end = (size_t)PyBytes_GET_SIZE(buf);

    /* Pass 1: validate the whole read and count its records, so that a corrupt
     * read raises before anything of it is used (as the pure parser does: it
     * raises before returning) and the list is allocated once. */
    size_t offset = 0, count = 0;
    while (offset < end) {
        if (end - offset < HEADER_SIZE) {
            PyObject *msg = PyUnicode_FromFormat(
                "truncated inotify event: %zu bytes left at offset %zu, a header needs %d",
                end - offset, offset, HEADER_SIZE);
            Py_DECREF(buf);
            return raise_parse_error(msg, offset);
        }
        uint32_t length = load_u32(p + offset + 12);
        if ((uint64_t)length > (uint64_t)(end - offset - HEADER_SIZE)) {
            PyObject *msg = PyUnicode_FromFormat(
                "truncated inotify event: name of %lu bytes at offset %zu "
                "runs past the end of a %zu-byte buffer",
                (unsigned long)length, offset + HEADER_SIZE, end);
            Py_DECREF(buf);
            return raise_parse_error(msg, offset);
        }
        offset += HEADER_SIZE + (size_t)length;
        count++;
    }
    if (count > (size_t)(PY_SSIZE_T_MAX / 4)) {
        Py_DECREF(buf);
        return PyErr_NoMemory();
    }

    /* Pass 2: the objects. */
    PyObject *flat = PyList_New((Py_ssize_t)(4 * count));
    if (flat == NULL) {
        Py_DECREF(buf);
        return NULL;
    }
    offset = 0;
    for (size_t i = 0; i < count; i++) {
        int32_t wd;
        memcpy(&wd, p + offset, sizeof wd);
        uint32_t mask = load_u32(p + offset + 4);
        uint32_t cookie = load_u32(p + offset + 8);
        uint32_t length = load_u32(p + offset + 12);
        const char *name = p + offset + HEADER_SIZE;
        /* [wire: buf[offset : offset + length].rstrip(b"\0")]: the kernel pads
         * names with NULs, and a name never contains one. */
        size_t n = length;
        while (n > 0 && name[n - 1] == '\0')
            n--;
        PyObject *o_wd = PyLong_FromLong((long)wd);
        PyObject *o_mask = PyLong_FromUnsignedLong((unsigned long)mask);
        PyObject *o_cookie = PyLong_FromUnsignedLong((unsigned long)cookie);
        PyObject *o_name = PyBytes_FromStringAndSize(name, (Py_ssize_t)n);
        /* The list owns whatever was made (PyList_SET_ITEM steals; NULL slots
         * are fine for its dealloc). */
        PyList_SET_ITEM(flat, 4 * i, o_wd);
        PyList_SET_ITEM(flat, 4 * i + 1, o_mask);
        PyList_SET_ITEM(flat, 4 * i + 2, o_cookie);
        PyList_SET_ITEM(flat, 4 * i + 3, o_name);
        if (o_wd == NULL || o_mask == NULL || o_cookie == NULL || o_name == NULL) {
            Py_DECREF(flat);
            Py_DECREF(buf);
            return NULL;
        }
        offset += HEADER_SIZE + (size_t)length;
    }
    Py_DECREF(buf);
    return flat;
}
