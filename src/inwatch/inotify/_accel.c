/* inwatch.inotify._accel: the optional compiled accelerator of the inotify hot path.
 *
 * Three pieces, each the C twin of Python code that stays the reference:
 *
 * - parse_flat(buf): wire.parse_flat_py, the parser (same flat list, same
 *   EventParseError message and offset); tests/unit/test_accel_parse.py
 *   fuzzes the two against each other.
 * - dispatch(...): the per-record loop of core.InotifyCore._dispatch. It
 *   walks the read's flat records (the same list iterator the Python loop
 *   walks, so the look-ahead of inotify/news.py sees the same position), and
 *   does in C only what the Python loop does inline: paths.get(wd), the
 *   plain-file CREATE/DELETE update of `files`, the decode of the name and
 *   the Event. Everything else calls back into the same Python methods
 *   (_settles, _slow, _known_dir, _known_file, emit_one, _overflow) at the
 *   same places, in the same order. The comments "[core: ...]" quote the
 *   Python line each block stands for.
 * - Taker (_accel_take.c): core.InotifyCore.take(), the read and the per-read
 *   steps around that loop, for the latency path over the real kernel.
 *
 * Events are made as core.py makes them (object.__new__(Event), then a store
 * per slot): tp_alloc, then each slot written at the offset its member
 * descriptor gives. bind() finds the offsets once and refuses an Event class
 * whose slots are not the ten expected: the loader (inwatch/accel.py) then
 * falls back to pure Python and says why.
 *
 * Its parts: _accel.h (what they share), _accel_parse.c, _accel_dispatch.c,
 * _accel_take.c and this file (bind, init). The module keeps process-wide state (the bound
 * classes and offsets): single-phase init, one interpreter.
 */
#include "_accel.h"

#include <structmember.h> /* T_OBJECT_EX, READONLY (Py_T_OBJECT_EX from 3.12 on) */

static const char *const accel_slot_names[N_SLOTS] = {
    "wd", "mask", "cookie", "name", "path", "pathname", "src_pathname", "origin", "time", "actor",
};

PyObject *accel_parse_error = NULL;
PyTypeObject *accel_event_type = NULL;
Py_ssize_t accel_slot_offset[N_SLOTS];
PyObject *accel_str_kernel = NULL;
PyObject *accel_str_slash = NULL;
PyObject *accel_m_overflow, *accel_m_settles, *accel_m_slow;
PyObject *accel_m_known_dir, *accel_m_known_file, *accel_m_emit_one;
PyObject *accel_m_add, *accel_m_discard;
PyObject *accel_a_narrow;

/* --- bind: the classes, and Event's layout checked ----------------------------- */

PyDoc_STRVAR(bind_doc,
             "bind(EventParseError, Event) -> None\n\n"
             "Give the module the classes it makes; TypeError if Event's slots are not\n"
             "the ten this module stores (the loader then falls back to pure Python).");

static PyObject *
bind(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "bind() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *error_cls = args[0], *cls = args[1];
    if (!PyType_Check(error_cls) || !PyType_IsSubtype((PyTypeObject *)error_cls,
                                                      (PyTypeObject *)PyExc_Exception)) {
        PyErr_SetString(PyExc_TypeError, "bind(): EventParseError must be an exception class");
        return NULL;
    }
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "bind(): Event must be a class");
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)cls;
    /* The set of slots must be exactly the ten stored (no more: one left NULL
     * would raise AttributeError on read; none fewer). */
    PyObject *declared = PyObject_GetAttrString(cls, "__slots__");
    if (declared == NULL)
        return NULL;
    PyObject *have = PySequence_List(declared);
    Py_DECREF(declared);
    if (have == NULL)
        return NULL;
    PyObject *want = PyList_New(N_SLOTS);
    if (want == NULL) {
        Py_DECREF(have);
        return NULL;
    }
    for (int i = 0; i < N_SLOTS; i++) {
        PyObject *s = PyUnicode_FromString(accel_slot_names[i]);
        if (s == NULL) {
            Py_DECREF(have);
            Py_DECREF(want);
            return NULL;
        }
        PyList_SET_ITEM(want, i, s);
    }
    int same = -1;
    if (PyList_Sort(have) == 0 && PyList_Sort(want) == 0)
        same = PyObject_RichCompareBool(have, want, Py_EQ);
    if (same == 0)
        PyErr_Format(PyExc_TypeError,
                     "Event.__slots__ is %R, the accelerator stores %R: rebuild it", have, want);
    Py_DECREF(have);
    Py_DECREF(want);
    if (same != 1)
        return NULL;
    if (type->tp_alloc == NULL) {
        PyErr_SetString(PyExc_TypeError, "bind(): Event has no tp_alloc");
        return NULL;
    }
    Py_ssize_t offsets[N_SLOTS];
    for (int i = 0; i < N_SLOTS; i++) {
        PyObject *descr = PyObject_GetAttrString(cls, accel_slot_names[i]);
        if (descr == NULL)
            return NULL;
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                 ((PyDescrObject *)descr)->d_type == type;
        if (ok) {
            PyMemberDef *def = ((PyMemberDescrObject *)descr)->d_member;
            ok = def->type == T_OBJECT_EX && !(def->flags & READONLY) &&
                 def->offset >= (Py_ssize_t)sizeof(PyObject) &&
                 def->offset + (Py_ssize_t)sizeof(PyObject *) <= type->tp_basicsize;
            offsets[i] = def->offset;
        }
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError,
                         "Event.%s is not a plain object slot of Event itself: "
                         "the accelerator cannot store it", accel_slot_names[i]);
            return NULL;
        }
    }
    for (int i = 0; i < N_SLOTS; i++)
        for (int j = i + 1; j < N_SLOTS; j++)
            if (offsets[i] == offsets[j]) {
                PyErr_SetString(PyExc_TypeError, "bind(): two Event slots share an offset");
                return NULL;
            }
    memcpy(accel_slot_offset, offsets, sizeof offsets);
    Py_INCREF(error_cls);
    Py_XSETREF(accel_parse_error, error_cls);
    Py_INCREF(cls);
    Py_XSETREF(accel_event_type, type);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"parse_flat", (PyCFunction)accel_parse_flat, METH_O, accel_parse_flat_doc},
    {"dispatch", (PyCFunction)(void (*)(void))accel_dispatch, METH_FASTCALL, accel_dispatch_doc},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL, bind_doc},
    {"aio_feed", (PyCFunction)(void (*)(void))accel_aio_feed, METH_FASTCALL, accel_aio_feed_doc},
    {"add_watch", (PyCFunction)(void (*)(void))accel_add_watch, METH_FASTCALL,
     accel_add_watch_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "inwatch.inotify._accel",
    "The optional C accelerator of the inotify parser and dispatcher (see inwatch.accel).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

static int
intern(PyObject **where, const char *text)
{
    *where = PyUnicode_InternFromString(text);
    return *where == NULL ? -1 : 0;
}

PyMODINIT_FUNC
PyInit__accel(void)
{
    if (intern(&accel_str_kernel, "kernel") < 0 || intern(&accel_str_slash, "/") < 0 ||
        intern(&accel_m_overflow, "_overflow") < 0 || intern(&accel_m_settles, "_settles") < 0 ||
        intern(&accel_m_slow, "_slow") < 0 || intern(&accel_m_known_dir, "_known_dir") < 0 ||
        intern(&accel_m_known_file, "_known_file") < 0 || intern(&accel_m_emit_one, "emit_one") < 0 ||
        intern(&accel_m_add, "add") < 0 || intern(&accel_m_discard, "discard") < 0 ||
        intern(&accel_a_narrow, "narrow") < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && accel_taker_init(module) < 0)
        Py_CLEAR(module);
    return module;
}
